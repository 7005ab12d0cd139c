package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// job is a minimal valid job body for the error cases.
const job = "{docker: [{image: a}], steps: [checkout]}"

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every error, in order, without the file name
	}{
		{
			name: "registry auth without a password",
			src:  "version: 2.1\njobs:\n  build:\n    docker: [{image: a, auth: {username: u, token: t}}]\n    steps: [checkout]\n",
			want: []string{
				":4:31: jobs.build.docker[0].auth: missing password",
				`:4:45: jobs.build.docker[0].auth.token: unknown key "token" (allowed: username, password)`,
			},
		},
		{
			name: "malformed yaml",
			src:  "version: 2.1\njobs:\n  build: [\n",
			want: []string{":3: yaml: did not find expected node content"},
		},
		{
			name: "empty document",
			src:  "# nothing\n",
			want: []string{": config is empty"},
		},
		{
			name: "root is a list",
			src:  "- a\n",
			want: []string{":1:1: config must be a mapping, not a list"},
		},
		{
			name: "missing version",
			src:  "jobs:\n  build: " + job + "\n",
			want: []string{":1:1: version: is required (2, 2.0 or 2.1)"},
		},
		{
			name: "unsupported version",
			src:  "version: 3\njobs:\n  build: " + job + "\n",
			want: []string{":1:10: version: unsupported version \"3\": use 2, 2.0 or 2.1"},
		},
		{
			name: "no build job without workflows",
			src:  "version: 2\njobs:\n  test: " + job + "\n",
			want: []string{":1:1: jobs: a config without workflows needs a job named build"},
		},
		{
			name: "wrong types and unknown keys in a job",
			src: `version: 2.1
jobs:
  build:
    docker: {image: a}
    parallelism: "two"
    steps: []
    colour: blue
  test:
    docker:
      - name: db
      - image: [x]
    machine: true
    parallelism: 0
    environment: [1]
    steps:
      - run
      - run: {name: x}
      - run: {command: x, when: later, no_output_timeout: 10, shell: [a]}
      - checkout: {path: a, depth: 0}
      - store_artifacts: {path: [a]}
      - frobnicate
      - {run: a, checkout: b}
      - 42
workflows:
  w:
    jobs: [build, test]
`,
			want: []string{
				":4:13: jobs.build.docker: must be a list, not a mapping",
				":5:18: jobs.build.parallelism: must be an integer, not a string",
				":6:12: jobs.build.steps: must not be empty",
				`:7:5: jobs.build.colour: unknown key "colour" (allowed: docker, machine, macos, executor, resource_class, parallelism, environment, working_directory, shell, steps, parameters, description, branches, circleci_ip_ranges, type, retention, plan_name, key)`,
				":10:9: jobs.test.docker[0].image: missing image",
				":11:16: jobs.test.docker[1].image: must be a string, not a list",
				":12:5: jobs.test.machine: job has more than one executor (docker and machine)",
				":13:18: jobs.test.parallelism: must be at least 1, not 0",
				":14:19: jobs.test.environment[0]: must be a mapping, not a number",
				":16:9: jobs.test.steps[0]: run needs a command",
				":17:14: jobs.test.steps[1].run.command: is required",
				":18:33: jobs.test.steps[2].run.when: must be always, on_success or on_fail, not \"later\"",
				":18:59: jobs.test.steps[2].run.no_output_timeout: invalid duration \"10\": use a number and a unit, such as 20m, 1.5h or 30s",
				":18:70: jobs.test.steps[2].run.shell: must be a string, not a list",
				`:19:36: jobs.test.steps[3].checkout.depth: must be at least 1, not 0`,
				`:20:33: jobs.test.steps[4].store_artifacts.path: must be a string, not a list`,
				`:21:9: jobs.test.steps[5]: unknown step or command "frobnicate"`,
				":22:9: jobs.test.steps[6]: a step is a mapping with exactly one key (the step name), not 2 keys",
				":23:9: jobs.test.steps[7]: a step is a step name or a mapping of a step name to its arguments, not a number",
			},
		},
		{
			name: "unknown step in 2.0",
			src:  "version: 2\njobs:\n  build:\n    docker: [{image: a}]\n    steps: [lint]\n",
			want: []string{`:5:13: jobs.build.steps[0]: unknown step "lint"`},
		},
		{
			name: "no executor, no steps, machine without image",
			src:  "version: 2.1\njobs:\n  a: {resource_class: large}\n  b:\n    machine: {docker_layer_caching: true}\n    steps: [checkout]\nworkflows: {w: {jobs: [a, b]}}\n",
			want: []string{
				":3:6: jobs.a: job has no executor: give it docker, machine or macos",
				":3:6: jobs.a.steps: is required",
				":5:14: jobs.b.machine.image: missing image",
			},
		},
		{
			name: "workflow graph errors",
			src: `version: 2.1
jobs:
  build: ` + job + `
  test: ` + job + `
workflows:
  main:
    jobs:
      - build
      - test:
          requires: [build, tset]
      - deploy:
          requires: [test]
      - test
  loop:
    jobs:
      - build: {requires: [test]}
      - test: {requires: [build]}
      - solo: {type: approval, requires: [solo]}
`,
			want: []string{
				`:10:29: workflows.main.jobs[1]: job "test" requires "tset", which is not in workflow "main"`,
				`:11:9: workflows.main.jobs[2]: job "deploy" is not defined in jobs`,
				`:13:9: workflows.main.jobs[3]: job name "test" is used more than once in workflow "main" (first at line 9); give one a different name`,
				`:17:27: workflows.loop.jobs[1]: requires cycle in workflow "loop": build -> test -> build`,
				`:18:43: workflows.loop.jobs[2]: requires cycle in workflow "loop": solo -> solo`,
			},
		},
		{
			name: "workflow shape errors",
			src: `version: 2.1
jobs:
  build: ` + job + `
workflows:
  version: 2
  a: {jobs: []}
  b: {}
  c:
    jobs:
      - build: {requires: build, context: {x: 1}, type: manual, stage: 2}
      - build: {name: b2, requires: [{build: [success, maybe]}]}
      - orb/job
      - [x]
`,
			want: []string{
				":6:13: workflows.a.jobs: must not be empty",
				":7:6: workflows.b.jobs: is required",
				":10:27: workflows.c.jobs[0].build.requires: must be a list, not a string",
				":10:43: workflows.c.jobs[0].build.context: must be a string or a list of strings, not a mapping",
				`:10:57: workflows.c.jobs[0].build.type: unsupported job type "manual" (only approval)`,
				`:10:65: workflows.c.jobs[0].build.stage: unexpected argument "stage": job "build" has no such parameter (parameters: none)`,
				`:11:46: workflows.c.jobs[1].build.requires[0].build: unknown status "maybe" (allowed: success, failed, canceled, not_run, unauthorized, terminal)`,
				`:12:9: workflows.c.jobs[2]: job "orb/job": no orb "orb" is imported under orbs`,
				":13:9: workflows.c.jobs[3]: a workflow job is a job name or a mapping of a job name to its options, not a list",
			},
		},
		{
			name: "filters",
			src: `version: 2
jobs:
  build: ` + job + `
workflows:
  w:
    jobs:
      - build:
          filters:
            branches: {only: "/(/", except: main}
            tags: [v1]
            paths: x
`,
			want: []string{
				":9:30: workflows.w.jobs[0].build.filters.branches.only: invalid regular expression /(/: error parsing regexp: missing closing ): `(`",
				`:9:37: workflows.w.jobs[0].build.filters.branches.except: unknown key "except" (allowed: only, ignore)`,
				":10:19: workflows.w.jobs[0].build.filters.tags: must be a mapping, not a list",
				`:11:13: workflows.w.jobs[0].build.filters.paths: unknown key "paths" (allowed: branches, tags, pull_requests)`,
			},
		},
		{
			name: "duplicate keys",
			src:  "version: 2\njobs:\n  build: " + job + "\n  build: " + job + "\n",
			want: []string{`:4:3: jobs.build: key "build" is already defined at line 3`},
		},
		{
			name: "self-referencing alias",
			src:  "version: 2\nx: &x [a, *x]\n",
			want: []string{":2:11: x[1]: alias *x refers to a value that contains it"},
		},
		{
			name: "bad merge value",
			src:  "version: 2\nx: &x hello\njobs:\n  build:\n    <<: *x\n",
			want: []string{":5:9: jobs.build: merge key (<<) value must be a mapping or a list of mappings, not a string"},
		},
		{
			name: "undefined executor and pipeline parameter",
			src: `version: 2.1
jobs:
  build:
    executor: go
    parameters: {v: {type: string}}
    steps: [checkout]
workflows:
  w:
    when: << pipeline.parameters.run >>
    jobs:
      - build: {matrix: {parameters: {v: [a]}}}
`,
			want: []string{
				`:4:15: jobs.build.executor: executor "go" is not defined in executors`,
				`:9:11: workflows.w.when: << pipeline.parameters.run >>: the config declares no pipeline parameter "run" under parameters (it declares none)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.src), Options{Filename: "config.yml", Branch: "main"})
			require.Error(t, err)
			assert.Nil(t, p)
			var list ErrorList
			require.True(t, errors.As(err, &list), "error is an ErrorList: %T", err)
			var got []string
			for _, e := range list {
				got = append(got, strings.TrimPrefix(e.Error(), "config.yml"))
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, strings.Join(prefixed(tt.want), "\n"), err.Error())
		})
	}
}

func prefixed(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = "config.yml" + s
	}
	return out
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"full", Error{File: "c.yml", Line: 12, Col: 7, Key: "workflows.main.jobs[2]", Msg: "bad"}, "c.yml:12:7: workflows.main.jobs[2]: bad"},
		{"no column", Error{File: "c.yml", Line: 3, Msg: "yaml: oops"}, "c.yml:3: yaml: oops"},
		{"no position", Error{File: "c.yml", Msg: "config is empty"}, "c.yml: config is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
}

// TestAliasBomb: a billion-laughs document is refused quickly, before any
// layer expands it.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 2\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	_, err := Compile([]byte(b.String()), Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), ".circleci/config.yml:1:1: document expands to more than 1048576 YAML nodes through aliases")
}

func itoa(i int) string { return string(rune('0' + i)) }
