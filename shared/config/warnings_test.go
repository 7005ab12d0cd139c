package config

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepsConfig is a config whose one job runs steps (YAML lines, indented
// for the steps list).
func stepsConfig(steps string) string {
	return "version: 2.1\njobs:\n  build:\n    docker: [{image: a}]\n    steps:\n" + steps + "workflows:\n  w:\n    jobs: [build]\n"
}

// TestToleratedKeys: every key CircleCI accepts on a built-in step without
// using it compiles, with a warning that says where and why, and changes
// nothing in the plan but what the warning says.
func TestToleratedKeys(t *testing.T) {
	tests := []struct {
		name  string
		steps string
		want  Step
		warn  string // the one warning, without the file name
	}{
		{
			name:  "when always on store_test_results",
			steps: "      - store_test_results:\n          path: results\n          when: always\n",
			want:  Step{Type: StepStoreTestResults, Name: "Uploading test results", Path: "results", When: WhenAlways},
			warn:  ":8:11: warning: jobs.build.steps[0].store_test_results.when: has no effect: store_test_results runs whether or not earlier steps failed, as on CircleCI",
		},
		{
			name:  "when on_success on store_artifacts: still always, as on CircleCI",
			steps: "      - store_artifacts: {path: out, when: on_success}\n",
			want:  Step{Type: StepStoreArtifacts, Name: "Uploading artifacts", Path: "out", When: WhenAlways},
			warn:  ":6:38: warning: jobs.build.steps[0].store_artifacts.when: has no effect: store_artifacts runs whether or not earlier steps failed, as on CircleCI",
		},
		{
			name:  "when on persist_to_workspace",
			steps: "      - persist_to_workspace: {root: ., paths: [a], when: always}\n",
			want:  Step{Type: StepPersistToWorkspace, Name: "Persisting to workspace", Root: ".", Paths: []string{"a"}},
			warn:  ":6:53: warning: jobs.build.steps[0].persist_to_workspace.when: has no effect on persist_to_workspace (CircleCI honours when only on run and save_cache): the step runs only while earlier steps succeed",
		},
		{
			name:  "when on restore_cache",
			steps: "      - restore_cache: {key: k, when: always}\n",
			want:  Step{Type: StepRestoreCache, Name: "Restoring cache", Keys: []string{"k"}},
			warn:  ":6:33: warning: jobs.build.steps[0].restore_cache.when: has no effect on restore_cache (CircleCI honours when only on run and save_cache): the step runs only while earlier steps succeed",
		},
		{
			name:  "when on attach_workspace",
			steps: "      - attach_workspace: {at: ., when: always}\n",
			want:  Step{Type: StepAttachWorkspace, Name: "Attaching workspace", At: "."},
			warn:  ":6:35: warning: jobs.build.steps[0].attach_workspace.when: has no effect on attach_workspace (CircleCI honours when only on run and save_cache): the step runs only while earlier steps succeed",
		},
		{
			name:  "an unknown key on store_artifacts",
			steps: "      - store_artifacts: {path: out, to: site}\n",
			want:  Step{Type: StepStoreArtifacts, Name: "Uploading artifacts", Path: "out", When: WhenAlways},
			warn:  `:6:38: warning: jobs.build.steps[0].store_artifacts.to: unknown key "to" is ignored: CircleCI accepts keys store_artifacts does not use and ignores them (it uses: path, destination, name)`,
		},
		{
			name:  "a key of another step on save_cache",
			steps: "      - save_cache: {key: k, paths: [a], root: .}\n",
			want:  Step{Type: StepSaveCache, Name: "Saving cache", Key: "k", Paths: []string{"a"}, When: WhenOnSuccess},
			warn:  `:6:42: warning: jobs.build.steps[0].save_cache.root: unknown key "root" is ignored: CircleCI accepts keys save_cache does not use and ignores them (it uses: paths, key, name, when)`,
		},
		{
			name:  "name on add_ssh_keys is shown",
			steps: "      - add_ssh_keys: {name: Keys, fingerprints: [f]}\n",
			want:  Step{Type: StepAddSSHKeys, Name: "Keys", Fingerprints: []string{"f"}},
			warn:  ":6:24: warning: jobs.build.steps[0].add_ssh_keys.name: add_ssh_keys has no name in CircleCI's schema; CircleCI accepts it, and Orbit shows it as the step's name",
		},
		{
			name:  "name on checkout is shown",
			steps: "      - checkout: {name: Clone}\n",
			want:  Step{Type: StepCheckout, Name: "Clone"},
			warn:  ":6:20: warning: jobs.build.steps[0].checkout.name: checkout has no name in CircleCI's schema; CircleCI accepts it, and Orbit shows it as the step's name",
		},
		{
			name:  "deprecated reusable on setup_remote_docker",
			steps: "      - setup_remote_docker: {reusable: true, version: default}\n",
			want:  Step{Type: StepSetupRemoteDocker, Name: "Setup a remote Docker engine", Version: "default"},
			warn:  ":6:31: warning: jobs.build.steps[0].setup_remote_docker.reusable: is deprecated and has no effect",
		},
		{
			name:  "deprecated exclusive on setup_remote_docker",
			steps: "      - setup_remote_docker: {exclusive: true}\n",
			want:  Step{Type: StepSetupRemoteDocker, Name: "Setup a remote Docker engine"},
			warn:  ":6:31: warning: jobs.build.steps[0].setup_remote_docker.exclusive: is deprecated and has no effect",
		},
		{
			name:  "an unknown key on run",
			steps: "      - run: {command: make, timeout: 5m}\n",
			want:  Step{Type: StepRun, Name: "make", Command: "make", When: WhenOnSuccess, NoOutputTimeout: DefaultNoOutputTimeout},
			warn:  `:6:30: warning: jobs.build.steps[0].run.timeout: unknown key "timeout" is ignored: CircleCI accepts keys run does not use and ignores them (it uses: command, name, shell, environment, background, working_directory, no_output_timeout, when, max_auto_reruns, auto_rerun_delay)`,
		},
		{
			name:  "an unknown key on checkout",
			steps: "      - checkout: {path: src, submodules: true}\n",
			want:  Step{Type: StepCheckout, Name: "Checkout code", Path: "src"},
			warn:  `:6:31: warning: jobs.build.steps[0].checkout.submodules: unknown key "submodules" is ignored: CircleCI accepts keys checkout does not use and ignores them (it uses: path, method, depth)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(stepsConfig(tt.steps)), Options{Filename: "c.yml", Branch: "main", OrbDir: t.TempDir()})
			require.NoError(t, err, "CircleCI accepts this config")
			require.Len(t, p.Workflows, 1)
			assert.Equal(t, []Step{tt.want}, p.Workflows[0].Jobs[0].Job.Steps)
			require.Len(t, p.Warnings, 1)
			assert.Equal(t, "c.yml"+tt.warn, p.Warnings[0].Warning())
		})
	}
}

// TestSchemaValuesAccepted: values CircleCI's schema allows that Orbit once
// refused compile without a warning.
func TestSchemaValuesAccepted(t *testing.T) {
	tests := []struct {
		name  string
		steps string
		want  Step
	}{
		{
			name:  "shallow checkout with a depth",
			steps: "      - checkout: {method: shallow, depth: 1}\n",
			want:  Step{Type: StepCheckout, Name: "Checkout code", Method: "shallow"},
		},
		{
			name:  "save_cache when on_fail",
			steps: "      - save_cache: {key: k, paths: [a], when: on_fail, name: Keep}\n",
			want:  Step{Type: StepSaveCache, Name: "Keep", Key: "k", Paths: []string{"a"}, When: WhenOnFail},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(stepsConfig(tt.steps)), Options{Filename: "c.yml", Branch: "main", OrbDir: t.TempDir()})
			require.NoError(t, err)
			assert.Equal(t, []Step{tt.want}, p.Workflows[0].Jobs[0].Job.Steps)
			assert.Empty(t, p.Warnings)
		})
	}
}

// TestWarningsOncePerPlace: a command's step with a tolerated key warns
// once, however many times the command is invoked; a warning does not
// stop the errors of the same config from being reported; and a plan
// without warnings encodes as before (no "warnings" key).
func TestWarningsOncePerPlace(t *testing.T) {
	src := `version: 2.1
commands:
  upload:
    steps:
      - store_test_results: {path: r, when: always}
jobs:
  a: {docker: [{image: x}], steps: [upload, upload]}
  b: {docker: [{image: x}], steps: [upload]}
workflows:
  w: {jobs: [a, b]}
`
	p, err := Compile([]byte(src), Options{Filename: "c.yml", OrbDir: t.TempDir()})
	require.NoError(t, err)
	require.Len(t, p.Warnings, 1, "%v", p.Warnings)
	assert.Equal(t, 5, p.Warnings[0].Line)
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"warnings":[{"file":"c.yml","line":5,`)

	clean, err := Compile([]byte(stepsConfig("      - checkout\n")), Options{OrbDir: t.TempDir()})
	require.NoError(t, err)
	raw, err = json.Marshal(clean)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "warnings")

	_, err = Compile([]byte(stepsConfig("      - store_test_results: {path: r, when: always}\n      - run: {}\n")), Options{OrbDir: t.TempDir()})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "run.command: is required"), err.Error())
	assert.NotContains(t, err.Error(), "warning", "warnings are not errors")
}

// TestSchemaKeysAccepted: keys of CircleCI's schema outside the steps
// compile; those Orbit does not apply warn, saying so.
func TestSchemaKeysAccepted(t *testing.T) {
	const wf = "workflows:\n  w:\n    jobs: [build]\n"
	tests := []struct {
		name, src string
		warn      string // "" for none
		check     func(t *testing.T, p *Plan)
	}{
		{
			name: "macos resource_class and shell",
			src:  "version: 2.1\njobs:\n  build:\n    macos: {xcode: '15.0', resource_class: m4pro.medium, shell: /bin/zsh}\n    steps: [checkout]\n" + wf,
			check: func(t *testing.T, p *Plan) {
				j := p.Workflows[0].Jobs[0].Job
				assert.Equal(t, Executor{Type: ExecutorMacOS, MachineImage: "15.0", ResourceClass: "m4pro.medium"}, j.Executor)
				assert.Equal(t, "/bin/zsh", j.Shell)
			},
		},
		{
			name: "job retention of caches",
			src:  "version: 2.1\njobs:\n  build:\n    docker: [{image: a}]\n    retention: {caches: 7d}\n    steps: [checkout]\n" + wf,
			warn: ":5:17: warning: jobs.build.retention.caches: is not applied: Orbit keeps caches for the installation's cache retention",
		},
		{
			name: "workflow max_auto_reruns",
			src:  "version: 2.1\njobs:\n  build: {docker: [{image: a}], steps: [checkout]}\nworkflows:\n  w:\n    max_auto_reruns: 2\n    jobs: [build]\n",
			warn: ":6:5: warning: workflows.w.max_auto_reruns: is not applied: Orbit does not rerun a failed workflow by itself (rerun it from failed, or use max_auto_reruns on run steps)",
		},
		{
			name: "override-with on a workflow's job",
			src:  "version: 2.1\njobs:\n  build: {docker: [{image: a}], steps: [checkout]}\nworkflows:\n  w:\n    jobs:\n      - build: {override-with: local/build}\n",
			warn: ":7:17: warning: workflows.w.jobs[0].build.override-with: is not applied: Orbit runs the job this entry names",
		},
		{
			name: "a release job runs as a no-op",
			src:  "version: 2.1\njobs:\n  build: {type: release, plan_name: v1}\n" + wf,
			warn: ":3:17: warning: jobs.build.type: Orbit runs a job of type release as a no-op job: it succeeds once its requirements are met",
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, JobTypeNoOp, p.Workflows[0].Jobs[0].Type)
			},
		},
		{
			name: "a lock job runs as a no-op",
			src:  "version: 2.1\njobs:\n  build: {type: lock, key: deploy}\n" + wf,
			warn: ":3:17: warning: jobs.build.type: Orbit runs a job of type lock as a no-op job: it succeeds once its requirements are met",
		},
		{
			name: "an unlock job runs as a no-op",
			src:  "version: 2.1\njobs:\n  build: {type: unlock, key: deploy}\n" + wf,
			warn: ":3:17: warning: jobs.build.type: Orbit runs a job of type unlock as a no-op job: it succeeds once its requirements are met",
		},
		{
			name: "an unknown key on a when step",
			src:  "version: 2.1\njobs:\n  build:\n    docker: [{image: a}]\n    steps:\n      - when: {condition: true, steps: [checkout], name: x}\n" + wf,
			warn: `:6:52: warning: jobs.build.steps[0].when.name: unknown key "name" is ignored: CircleCI accepts keys a when step does not use (it uses: condition, steps)`,
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []Step{{Type: StepCheckout, Name: "Checkout code"}}, p.Workflows[0].Jobs[0].Job.Steps)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.src), Options{Filename: "c.yml", Branch: "main", OrbDir: t.TempDir()})
			require.NoError(t, err, "CircleCI accepts this config")
			require.Len(t, p.Workflows, 1)
			if tt.warn == "" {
				assert.Empty(t, p.Warnings)
			} else {
				require.Len(t, p.Warnings, 1, "%v", p.Warnings)
				assert.Equal(t, "c.yml"+tt.warn, p.Warnings[0].Warning())
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

// TestSchemaKeysChecked: the keys accepted above are still checked.
func TestSchemaKeysChecked(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"retention beyond 15 days", "version: 2.1\njobs:\n  build:\n    docker: [{image: a}]\n    retention: {caches: 30d}\n    steps: [checkout]\nworkflows:\n  w: {jobs: [build]}\n",
			`jobs.build.retention.caches: must be 1d to 15d, not "30d"`},
		{"workflow max_auto_reruns over 5", "version: 2.1\njobs:\n  build: {docker: [{image: a}], steps: [checkout]}\nworkflows:\n  w:\n    max_auto_reruns: 9\n    jobs: [build]\n",
			"workflows.w.max_auto_reruns: must be between 1 and 5, not 9"},
		{"a lock job without its key", "version: 2.1\njobs:\n  build: {type: lock}\nworkflows:\n  w: {jobs: [build]}\n",
			"jobs.build.key: is required for a lock job"},
		{"a release job without its plan", "version: 2.1\njobs:\n  build: {type: release}\nworkflows:\n  w: {jobs: [build]}\n",
			"jobs.build.plan_name: is required for a release job"},
		{"an unknown key on macos", "version: 2.1\njobs:\n  build:\n    macos: {xcode: '15.0', cpu: 4}\n    steps: [checkout]\nworkflows:\n  w: {jobs: [build]}\n",
			`jobs.build.macos.cpu: unknown key "cpu" (allowed: xcode, resource_class, shell)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]byte(tt.src), Options{Filename: "c.yml", Branch: "main", OrbDir: t.TempDir()})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
