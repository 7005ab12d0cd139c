package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// names lists a plan's workflows as "workflow: job job …" for compact
// assertions on what runs.
func names(p *Plan) []string {
	var out []string
	for _, w := range p.Workflows {
		s := w.Name + ":"
		for _, j := range w.Jobs {
			s += " " + j.Name
		}
		out = append(out, s)
	}
	return out
}

const filtersConfig = `
version: 2.1
jobs:
  j: {docker: [{image: a}], steps: [checkout]}
workflows:
  main:
    jobs:
      - j: {name: always}
      - j: {name: main-only, filters: {branches: {only: main}}}
      - j: {name: not-main, filters: {branches: {ignore: [main]}}}
      - j: {name: release, filters: {branches: {only: /release\/.*/}}}
      - j: {name: partial-regex, filters: {branches: {only: /rel/}}}
      - j: {name: after-main-only, requires: [main-only]}
      - j: {name: after-after, requires: [after-main-only, always]}
      - j: {name: tags-too, filters: {tags: {only: /^v.*/}}}
      - j: {name: tag-and-branch, filters: {tags: {only: /^v.*/}, branches: {ignore: /.*/}}}
      - j: {name: all-tags, requires: [tag-and-branch], filters: {tags: {ignore: v0.0.1}}}
`

func TestCompileValid(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		opts  Options
		check func(t *testing.T, p *Plan)
	}{
		{
			name: "version 2.0 without workflows runs build",
			src:  "version: 2.0\njobs:\n  build:\n    docker: [{image: alpine}]\n    steps: [checkout]\n  other:\n    docker: [{image: alpine}]\n    steps: [checkout]\n",
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, "2.0", p.Version)
				assert.Equal(t, []string{"workflow: build"}, names(p))
			},
		},
		{
			name: "version forms",
			src:  "version: \"2\"\njobs: {build: {machine: true, steps: [checkout]}}\n",
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, "2.0", p.Version)
				job := p.Workflows[0].Jobs[0].Job
				assert.Equal(t, Executor{Type: ExecutorMachine}, job.Executor)
			},
		},
		{
			name: "job defaults",
			src:  "version: 2.1\njobs:\n  build:\n    docker: [{image: alpine}]\n    steps:\n      - checkout\n      - run: |\n          echo one\n          echo two\n",
			check: func(t *testing.T, p *Plan) {
				job := p.Workflows[0].Jobs[0].Job
				assert.Equal(t, 1, job.Parallelism)
				assert.Equal(t, "~/project", job.WorkingDirectory)
				assert.Equal(t, "/bin/bash -eo pipefail", job.Shell)
				assert.Equal(t, Step{Type: StepCheckout, Name: "Checkout code"}, job.Steps[0])
				assert.Equal(t, Step{
					Type: StepRun, Name: "echo one", Command: "echo one\necho two\n",
					NoOutputTimeout: Duration(10 * time.Minute), When: WhenOnSuccess,
				}, job.Steps[1])
			},
		},
		{
			name: "run step fields",
			src: `version: 2.1
jobs:
  build:
    docker: [{image: alpine}]
    steps:
      - run:
          name: Serve
          command: ./serve
          shell: /bin/sh -x
          background: true
          working_directory: /srv
          no_output_timeout: 90s
          when: always
          environment: [{A: 1}, {B: "two", A: 3}]
workflows: {w: {jobs: [build]}}
`,
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, Step{
					Type: StepRun, Name: "Serve", Command: "./serve", Shell: "/bin/sh -x",
					Background: true, WorkingDirectory: "/srv", NoOutputTimeout: Duration(90 * time.Second),
					When: WhenAlways, Environment: []EnvVar{{Name: "A", Value: "3"}, {Name: "B", Value: "two"}},
				}, p.Workflows[0].Jobs[0].Job.Steps[0])
			},
		},
		{
			name: "built-in steps get typed fields",
			src: `version: 2.1
jobs:
  build:
    docker: [{image: alpine}]
    steps:
      - setup_remote_docker:
          version: default
          docker_layer_caching: true
      - when:
          condition: true
          steps: [checkout]
      - store_artifacts: {path: out, name: Keep, destination: build}
      - save_cache: {key: 'v1-{{ checksum "go.sum" }}', paths: [~/go, vendor], when: always}
      - restore_cache: {key: v1-a, keys: [v1-b, v1-]}
      - restore_cache: {keys: [x]}
      - store_test_results: {path: reports}
      - persist_to_workspace: {root: ., paths: bin}
      - attach_workspace: {at: /tmp/ws}
      - add_ssh_keys: {fingerprints: ["SHA256:x"]}
      - add_ssh_keys
      - checkout: {method: blobless}
      - run: {command: make, max_auto_reruns: 3, auto_rerun_delay: 30s}
workflows: {w: {jobs: [build]}}
`,
			check: func(t *testing.T, p *Plan) {
				steps := p.Workflows[0].Jobs[0].Job.Steps
				require.Len(t, steps, 13)
				assert.Equal(t, []Step{
					{Type: StepSetupRemoteDocker, Name: "Setup a remote Docker engine", Version: "default", DockerLayerCaching: true},
					{Type: StepCheckout, Name: "Checkout code"},
					{Type: StepStoreArtifacts, Name: "Keep", Path: "out", Destination: "build", When: WhenAlways},
					{Type: StepSaveCache, Name: "Saving cache", Key: `v1-{{ checksum "go.sum" }}`, Paths: []string{"~/go", "vendor"}, When: WhenAlways},
					{Type: StepRestoreCache, Name: "Restoring cache", Keys: []string{"v1-a", "v1-b", "v1-"}},
					{Type: StepRestoreCache, Name: "Restoring cache", Keys: []string{"x"}},
					{Type: StepStoreTestResults, Name: "Uploading test results", Path: "reports", When: WhenAlways},
					{Type: StepPersistToWorkspace, Name: "Persisting to workspace", Root: ".", Paths: []string{"bin"}},
					{Type: StepAttachWorkspace, Name: "Attaching workspace", At: "/tmp/ws"},
					{Type: StepAddSSHKeys, Name: "Installing additional ssh keys", Fingerprints: []string{"SHA256:x"}},
					{Type: StepAddSSHKeys, Name: "Installing additional ssh keys"},
					{Type: StepCheckout, Name: "Checkout code", Method: "blobless"},
					{Type: StepRun, Name: "make", Command: "make", NoOutputTimeout: DefaultNoOutputTimeout, When: WhenOnSuccess,
						MaxAutoReruns: 3, AutoRerunDelay: Duration(30 * time.Second)},
				}, steps)
			},
		},
		{
			name: "requires, contexts, approval without definition",
			src: `version: 2.1
jobs:
  a: {docker: [{image: x}], steps: [checkout]}
  b: {docker: [{image: x}], steps: [checkout]}
workflows:
  version: 2
  w:
    jobs:
      - a
      - gate: {type: approval, requires: [a]}
      - b:
          name: b-after
          context: ctx
          requires: [gate, {a: [success, failed]}, {a2: failed}]
      - a: {name: a2}
`,
			check: func(t *testing.T, p *Plan) {
				jobs := p.Workflows[0].Jobs
				require.Len(t, jobs, 4)
				assert.Equal(t, JobInvocation{Name: "gate", JobName: "gate", Type: JobTypeApproval,
					Requires: []Requirement{{"a", []string{"success"}}}}, jobs[1])
				assert.Equal(t, "b-after", jobs[2].Name)
				assert.Equal(t, "b", jobs[2].JobName)
				assert.Equal(t, []string{"ctx"}, jobs[2].Contexts)
				assert.Equal(t, []Requirement{
					{"gate", []string{"success"}},
					{"a", []string{"success", "failed"}},
					{"a2", []string{"failed"}},
				}, jobs[2].Requires)
				assert.NotNil(t, jobs[2].Job)
			},
		},
		{
			name: "branch filters, dependents of dropped jobs dropped",
			src:  filtersConfig,
			opts: Options{Branch: "main"},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"main: always main-only after-main-only after-after tags-too"}, names(p))
			},
		},
		{
			name: "branch filters on another branch",
			src:  filtersConfig,
			opts: Options{Branch: "release/1.2"},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"main: always not-main release tags-too"}, names(p))
			},
		},
		{
			name: "tag: only jobs whose tag filter matches",
			src:  filtersConfig,
			opts: Options{Tag: "v1.0.0"},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"main: tags-too tag-and-branch all-tags"}, names(p))
			},
		},
		{
			name: "tag ignored by its filter",
			src:  filtersConfig,
			opts: Options{Tag: "v0.0.1"},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"main: tags-too tag-and-branch"}, names(p))
			},
		},
		{
			name: "workflow with everything filtered out is left out",
			src:  "version: 2.1\njobs: {j: {docker: [{image: a}], steps: [checkout]}}\nworkflows:\n  a: {jobs: [j]}\n  b: {jobs: [{j: {filters: {branches: {only: prod}}}}]}\n",
			opts: Options{Branch: "dev"},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"a: j"}, names(p))
			},
		},
		{
			name: "2.0 job-level branches filter the implicit workflow",
			src:  "version: 2\njobs:\n  build:\n    docker: [{image: a}]\n    steps: [checkout]\n    branches: {ignore: gh-pages}\n",
			opts: Options{Branch: "gh-pages"},
			check: func(t *testing.T, p *Plan) {
				assert.Empty(t, p.Workflows)
			},
		},
		{
			name: "scheduled workflow does not run for a push",
			src:  "version: 2\njobs: {j: {docker: [{image: a}], steps: [checkout]}}\nworkflows:\n  nightly:\n    triggers: [{schedule: {cron: '0 0 * * *', filters: {branches: {only: main}}}}]\n    jobs: [j]\n  push: {jobs: [j]}\n",
			opts: Options{Branch: "main"},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"push: j"}, names(p))
			},
		},
		{
			name: "environment values stringified, list forms",
			src: `version: 2.1
jobs:
  build:
    docker:
      - image: a
        environment: ["X=1", "Y=a=b"]
        entrypoint: [sh, -c]
        command: sleep 1
    environment: {I: 42, F: 0.50, B: false, N: null, S: "007", H: 0x1F}
    steps: [checkout]
workflows: {w: {jobs: [build]}}
`,
			check: func(t *testing.T, p *Plan) {
				job := p.Workflows[0].Jobs[0].Job
				assert.Equal(t, []EnvVar{{Name: "I", Value: "42"}, {Name: "F", Value: "0.50"}, {Name: "B", Value: "false"},
					{Name: "N", Value: ""}, {Name: "S", Value: "007"}, {Name: "H", Value: "0x1F"}}, job.Environment)
				img := job.Executor.Images[0]
				assert.Equal(t, []EnvVar{{Name: "X", Value: "1"}, {Name: "Y", Value: "a=b"}}, img.Environment)
				assert.Equal(t, []string{"sh", "-c"}, img.Entrypoint)
				assert.Equal(t, []string{"sleep 1"}, img.Command)
			},
		},
		{
			name: "merge keys: own keys win, earlier merged mapping wins",
			src: `version: 2.1
base: &base {docker: [{image: base}], shell: /bin/base, working_directory: /base}
over: &over {shell: /bin/over}
jobs:
  build:
    <<: [*over, *base]
    working_directory: /own
    steps: [checkout]
workflows: {w: {jobs: [build]}}
`,
			check: func(t *testing.T, p *Plan) {
				job := p.Workflows[0].Jobs[0].Job
				assert.Equal(t, "/bin/over", job.Shell)
				assert.Equal(t, "/own", job.WorkingDirectory)
				assert.Equal(t, "base", job.Executor.Images[0].Image)
			},
		},
		{
			name: "legacy flat shell step",
			src:  "version: 2\njobs:\n  build:\n    docker: [{image: a}]\n    steps:\n      - type: shell\n        name: Init\n        pwd: /\n        command: mkdir x\n",
			check: func(t *testing.T, p *Plan) {
				s := p.Workflows[0].Jobs[0].Job.Steps[0]
				assert.Equal(t, Step{Type: StepRun, Name: "Init", Command: "mkdir x", WorkingDirectory: "/",
					NoOutputTimeout: DefaultNoOutputTimeout, When: WhenOnSuccess}, s)
			},
		},
		{
			name: "registry auth is kept as written",
			src:  "version: 2.1\njobs:\n  b:\n    docker:\n      - image: registry.example.com/app\n        auth: {username: ci, password: $REGISTRY_PASSWORD}\n      - image: redis\n    steps: [checkout]\nworkflows:\n  w: {jobs: [b]}\n",
			check: func(t *testing.T, p *Plan) {
				imgs := p.Workflows[0].Jobs[0].Job.Executor.Images
				require.Len(t, imgs, 2)
				assert.Equal(t, &RegistryAuth{Username: "ci", Password: "$REGISTRY_PASSWORD"}, imgs[0].Auth)
				assert.Nil(t, imgs[1].Auth)
			},
		},
		{
			name: "workflow and job order follow the file",
			src:  "version: 2.1\njobs:\n  z: {docker: [{image: a}], steps: [checkout]}\n  a: {docker: [{image: a}], steps: [checkout]}\nworkflows:\n  second: {jobs: [z, a]}\n  first: {jobs: [a, z]}\n",
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"second: z a", "first: a z"}, names(p))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.src), tt.opts)
			require.NoError(t, err)
			tt.check(t, p)
		})
	}
}
