package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// find returns a workflow's job invocation by name.
func find(t *testing.T, p *Plan, workflow, name string) JobInvocation {
	t.Helper()
	for _, w := range p.Workflows {
		if w.Name != workflow {
			continue
		}
		for _, j := range w.Jobs {
			if j.Name == name {
				return j
			}
		}
	}
	t.Fatalf("no job %s in workflow %s: %v", name, workflow, names(p))
	return JobInvocation{}
}

// commands lists a job's run commands.
func commands(j *Job) []string {
	var out []string
	for _, s := range j.Steps {
		if s.Type == StepRun {
			out = append(out, s.Command)
		}
	}
	return out
}

func TestReusableConfig(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		opts  Options
		check func(t *testing.T, p *Plan)
	}{
		{
			name: "command with parameters of every type and defaults",
			src: `version: 2.1
commands:
  show:
    parameters:
      s: {type: string, default: dflt}
      b: {type: boolean, default: false}
      i: {type: integer, default: 3}
      e: {type: enum, enum: [x, y], default: x}
      v: {type: env_var_name, default: HOME}
      st: {type: steps, default: [{run: echo default-steps}]}
    steps:
      - run: echo << parameters.s >> << parameters.b >> << parameters.i >> << parameters.e >> $<< parameters.v >>
      - steps: << parameters.st >>
jobs:
  j:
    docker: [{image: a}]
    steps:
      - show
      - show: {s: given, b: yes, i: 42, e: y, v: PATH, st: [{run: echo mine}]}
workflows: {w: {jobs: [j]}}
`,
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{
					"echo dflt false 3 x $HOME", "echo default-steps",
					"echo given true 42 y $PATH", "echo mine",
				}, commands(find(t, p, "w", "j").Job))
			},
		},
		{
			name: "a whole-string template keeps the value's type",
			src: `version: 2.1
jobs:
  j:
    parameters:
      n: {type: integer, default: 4}
      bg: {type: boolean, default: true}
    docker: [{image: a}]
    parallelism: << parameters.n >>
    steps:
      - run: {command: serve, background: << parameters.bg >>}
workflows: {w: {jobs: [j]}}
`,
			check: func(t *testing.T, p *Plan) {
				job := find(t, p, "w", "j").Job
				assert.Equal(t, 4, job.Parallelism)
				assert.True(t, job.Steps[0].Background)
			},
		},
		{
			name: "executor with parameters; the job's keys win, environments merge",
			src: `version: 2.1
executors:
  py:
    parameters: {v: {type: string, default: "3.12"}}
    docker: [{image: "cimg/python:<< parameters.v >>"}]
    resource_class: large
    working_directory: /exec
    shell: /bin/sh
    environment: {A: exec, B: exec}
jobs:
  one:
    executor: py
    steps: [checkout]
  two:
    executor: {name: py, v: "3.9"}
    resource_class: small
    working_directory: /job
    environment: {B: job, C: job}
    steps: [checkout]
workflows: {w: {jobs: [one, two]}}
`,
			check: func(t *testing.T, p *Plan) {
				one := find(t, p, "w", "one").Job
				assert.Equal(t, Executor{Type: ExecutorDocker, Images: []Image{{Image: "cimg/python:3.12"}}, ResourceClass: "large"}, one.Executor)
				assert.Equal(t, "/exec", one.WorkingDirectory)
				assert.Equal(t, "/bin/sh", one.Shell)
				assert.Equal(t, []EnvVar{{Name: "A", Value: "exec"}, {Name: "B", Value: "exec"}}, one.Environment)
				two := find(t, p, "w", "two").Job
				assert.Equal(t, "cimg/python:3.9", two.Executor.Images[0].Image)
				assert.Equal(t, "small", two.Executor.ResourceClass)
				assert.Equal(t, "/job", two.WorkingDirectory)
				assert.Equal(t, []EnvVar{{Name: "A", Value: "exec"}, {Name: "B", Value: "job"}, {Name: "C", Value: "job"}}, two.Environment)
			},
		},
		{
			name: "executor parameter given by the invocation; machine and macos executors",
			src: `version: 2.1
executors:
  vm: {machine: {image: "ubuntu-2204:current", docker_layer_caching: true}}
  mac: {macos: {xcode: "15.4.0"}, resource_class: macos.m1.medium.gen1}
jobs:
  j:
    parameters: {e: {type: executor}}
    executor: << parameters.e >>
    steps: [checkout]
workflows:
  w:
    jobs:
      - j: {name: on-vm, e: vm}
      - j: {name: on-mac, e: {name: mac}}
`,
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, Executor{Type: ExecutorMachine, MachineImage: "ubuntu-2204:current", DockerLayerCaching: true}, find(t, p, "w", "on-vm").Job.Executor)
				assert.Equal(t, Executor{Type: ExecutorMacOS, MachineImage: "15.4.0", ResourceClass: "macos.m1.medium.gen1"}, find(t, p, "w", "on-mac").Job.Executor)
			},
		},
		{
			name: "commands call commands; when and unless steps decide at compile time",
			src: `version: 2.1
commands:
  inner:
    parameters: {msg: {type: string}}
    steps: [{run: "echo << parameters.msg >>"}]
  outer:
    parameters: {fast: {type: boolean, default: false}}
    steps:
      - inner: {msg: outer}
      - when:
          condition: << parameters.fast >>
          steps: [{inner: {msg: fast}}]
      - unless:
          condition: << parameters.fast >>
          steps: [{inner: {msg: slow}}]
      - when:
          condition: {or: [false, {equal: [1, << pipeline.number >>]}]}
          steps: [{run: echo first pipeline}]
jobs:
  j:
    docker: [{image: a}]
    steps: [outer, {outer: {fast: true}}]
workflows: {w: {jobs: [j]}}
`,
			opts: Options{PipelineValues: PipelineValues{Number: 1}},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"echo outer", "echo slow", "echo first pipeline", "echo outer", "echo fast", "echo first pipeline"},
					commands(find(t, p, "w", "j").Job))
			},
		},
		{
			name: "steps and executor arguments resolve where they are written",
			src: `version: 2.1
orbs:
  kit:
    executors:
      own: {docker: [{image: kit-image}]}
    commands:
      hello: {steps: [{run: echo kit hello}]}
      around:
        parameters: {body: {type: steps}}
        steps: [hello, {steps: << parameters.body >>}, hello]
    jobs:
      build:
        parameters:
          e: {type: executor, default: own}
          extra: {type: steps, default: []}
        executor: << parameters.e >>
        steps:
          - around: {body: << parameters.extra >>}
commands:
  hello: {steps: [{run: echo config hello}]}
executors:
  own: {docker: [{image: config-image}]}
workflows:
  w:
    jobs:
      - kit/build: {name: default}
      - kit/build: {name: mine, e: own, extra: [hello]}
`,
			check: func(t *testing.T, p *Plan) {
				def := find(t, p, "w", "default").Job
				assert.Equal(t, "kit-image", def.Executor.Images[0].Image)
				assert.Equal(t, []string{"echo kit hello", "echo kit hello"}, commands(def))
				mine := find(t, p, "w", "mine").Job
				assert.Equal(t, "config-image", mine.Executor.Images[0].Image)
				assert.Equal(t, []string{"echo kit hello", "echo config hello", "echo kit hello"}, commands(mine))
			},
		},
		{
			name: "pre-steps and post-steps",
			src: `version: 2.1
commands:
  note: {parameters: {m: {type: string}}, steps: [{run: "note << parameters.m >>"}]}
jobs:
  j: {docker: [{image: a}], steps: [{run: main}]}
workflows:
  w:
    jobs:
      - j:
          pre-steps: [{run: pre}, {note: {m: before}}]
          post-steps: [{note: {m: after}}]
`,
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"pre", "note before", "main", "note after"}, commands(find(t, p, "w", "j").Job))
			},
		},
		{
			name: "pipeline values and parameters",
			src: `version: 2.1
parameters:
  flag: {type: boolean, default: false}
  region: {type: enum, enum: [eu, us], default: eu}
  count: {type: integer, default: 1}
jobs:
  j:
    docker: [{image: "a:<< pipeline.git.revision >>"}]
    environment:
      ALL: << pipeline.id >>/<< pipeline.number >>/<< pipeline.project.git_url >>/<< pipeline.project.type >>/<< pipeline.git.branch >>/<< pipeline.git.tag >>/<< pipeline.git.base_revision >>/<< pipeline.trigger_source >>/<< pipeline.schedule.name >>
      PARAMS: << pipeline.parameters.flag >> << pipeline.parameters.region >> << pipeline.parameters.count >>
    steps: [checkout]
workflows: {w: {jobs: [j]}}
`,
			opts: Options{Branch: "dev", Revision: "abc", PipelineParameters: map[string]any{"flag": "true", "count": 5.0},
				PipelineValues: PipelineValues{ID: "id1", Number: 9, ProjectGitURL: "https://g/x", ProjectType: "github",
					GitBaseRevision: "base", TriggerSource: "api", ScheduleName: "nightly"}},
			check: func(t *testing.T, p *Plan) {
				job := find(t, p, "w", "j").Job
				assert.Equal(t, "a:abc", job.Executor.Images[0].Image)
				assert.Equal(t, []EnvVar{
					{Name: "ALL", Value: "id1/9/https://g/x/github/dev//base/api/nightly"},
					{Name: "PARAMS", Value: "true eu 5"},
				}, job.Environment)
			},
		},
		{
			name: "inline orb with its own commands, executors and jobs",
			src: `version: 2.1
orbs:
  hi:
    executors:
      box: {docker: [{image: box}]}
    commands:
      say: {parameters: {w: {type: string, default: hi}}, steps: [{run: "say << parameters.w >>"}]}
    jobs:
      greet:
        parameters: {w: {type: string, default: orb}}
        executor: box
        steps: [{say: {w: << parameters.w >>}}]
jobs:
  local:
    executor: hi/box
    steps: [hi/say]
workflows:
  w:
    jobs: [hi/greet, {hi/greet: {name: custom, w: custom}}, local]
`,
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"w: hi/greet custom local"}, names(p))
				assert.Equal(t, "hi/greet", find(t, p, "w", "custom").JobName)
				assert.Equal(t, []string{"say orb"}, commands(find(t, p, "w", "hi/greet").Job))
				assert.Equal(t, []string{"say custom"}, commands(find(t, p, "w", "custom").Job))
				local := find(t, p, "w", "local").Job
				assert.Equal(t, "box", local.Executor.Images[0].Image)
				assert.Equal(t, []string{"say hi"}, commands(local))
			},
		},
		{
			name: "registry orbs, partial versions and orbs importing orbs",
			src: `version: 2.1
orbs:
  node: circleci/node@7
  mine: acme/tools@1.0.0
jobs:
  j:
    executor: node/default
    steps: [mine/hello]
workflows: {w: {jobs: [j, mine/job]}}
`,
			opts: Options{Orbs: memRegistry{
				"circleci/node@7.1.0":    "@" + filepath.Join("testdata", "orbs", "circleci", "node@7.1.0.yml"),
				"circleci/windows@2.2.0": "@" + filepath.Join("testdata", "orbs", "circleci", "windows@2.2.0.yml"),
				"acme/tools@1.0.0": `version: 2.1
orbs:
  win: circleci/windows@2.2.0
commands:
  hello: {steps: [{run: hello from tools}]}
jobs:
  job:
    executor: {name: win/default, size: large}
    steps: [hello]
`,
			}},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, "cimg/node:lts", find(t, p, "w", "j").Job.Executor.Images[0].Image)
				job := find(t, p, "w", "mine/job").Job
				assert.Equal(t, Executor{Type: ExecutorMachine, MachineImage: "windows-server-2019-vs2019:stable", ResourceClass: "windows.large"}, job.Executor)
				assert.Equal(t, "powershell.exe -ExecutionPolicy Bypass", job.Shell)
				assert.Equal(t, []string{"hello from tools"}, commands(job))
			},
		},
		{
			name: "unused jobs are checked when they need no arguments",
			src: `version: 2.1
jobs:
  used: {docker: [{image: a}], steps: [checkout]}
  spare: {parameters: {x: {type: string, default: d}}, docker: [{image: a}], steps: [{run: "<< parameters.x >>"}]}
  needs-args: {parameters: {x: {type: string}}, docker: [{image: a}], steps: [{run: "<< parameters.x >>"}]}
workflows: {w: {jobs: [used]}}
`,
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"w: used"}, names(p))
			},
		},
		{
			name: "no-op jobs and serial groups",
			src: `version: 2.1
jobs:
  a: {docker: [{image: a}], steps: [checkout]}
  join: {type: no-op}
workflows:
  w:
    jobs:
      - a
      - join: {requires: [a]}
      - a: {name: deploy, requires: [join], serial-group: << pipeline.project.slug >>/deploy}
`,
			opts: Options{PipelineValues: PipelineValues{ProjectSlug: "gh/acme/shop"}},
			check: func(t *testing.T, p *Plan) {
				join := find(t, p, "w", "join")
				assert.Equal(t, JobTypeNoOp, join.Type)
				assert.Nil(t, join.Job)
				assert.Equal(t, "gh/acme/shop/deploy", find(t, p, "w", "deploy").SerialGroup)
			},
		},
		{
			name: "escaped templates and text that only looks like one",
			src: `version: 2.1
jobs:
  j:
    docker: [{image: a}]
    steps:
      - run: "cat \\<<EOF > f && echo \\<< parameters.x >> && cat <<EOF >> log"
workflows: {w: {jobs: [j]}}
`,
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []string{"cat <<EOF > f && echo << parameters.x >> && cat <<EOF >> log"}, commands(find(t, p, "w", "j").Job))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Orbs == nil && tt.opts.OrbDir == "" {
				tt.opts.OrbDir = t.TempDir()
			}
			p, err := Compile([]byte(tt.src), tt.opts)
			require.NoError(t, err)
			tt.check(t, p)
		})
	}
}

// memRegistry is an OrbRegistry in memory: reference to source, or to
// "@file" to read a file; partial versions match by prefix.
type memRegistry map[string]string

func (m memRegistry) Orb(ref OrbRef) ([]byte, string, error) {
	for name, src := range m {
		r, _ := ParseOrbRef(name)
		if r.Namespace != ref.Namespace || r.Name != ref.Name {
			continue
		}
		if r.Version != ref.Version && !(ref.Version == "volatile" || len(ref.Version) < len(r.Version) && r.Version[:len(ref.Version)+1] == ref.Version+".") {
			continue
		}
		if len(src) > 0 && src[0] == '@' {
			b, err := os.ReadFile(src[1:])
			return b, src[1:], err
		}
		return []byte(src), name + ".yml", nil
	}
	return nil, "", ErrOrbNotFound
}
