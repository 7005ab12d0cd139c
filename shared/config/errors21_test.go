package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCompileErrors21 pins the errors of the 2.1 features: each names the
// file, line, column and key of the problem.
func TestCompileErrors21(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		params map[string]any
		want   []string
	}{
		{
			name: "parameter declarations",
			src: `version: 2.1
commands:
  c:
    parameters:
      b: {type: boolean, default: maybe}
      e: {type: enum}
      n: {type: env_var_name, default: "1X"}
      q: {type: colour}
      "bad name": {type: string}
      t: {default: 1}
    steps: [checkout]
jobs:
  j: {docker: [{image: a}], steps: [c]}
workflows: {w: {jobs: [j]}}
`,
			want: []string{
				`:5:35: commands.c.parameters.b.default: parameter "b" is of type boolean: the value must be true or false, not a string`,
				`:6:10: commands.c.parameters.e.enum: an enum parameter needs a non-empty enum list`,
				`:7:40: commands.c.parameters.n.default: parameter "n" is of type env_var_name: "1X" is not an environment variable name (letters, digits and _, not starting with a digit)`,
				`:8:17: commands.c.parameters.q.type: unknown parameter type "colour" (allowed: string, boolean, integer, enum, executor, steps, env_var_name)`,
				`:9:7: commands.c.parameters.bad name: invalid parameter name "bad name": use letters, digits, - and _, starting with a letter`,
				`:10:10: commands.c.parameters.t.type: is required (one of string, boolean, integer, enum, executor, steps, env_var_name)`,
			},
		},
		{
			name: "arguments",
			src: `version: 2.1
executors:
  ex: {parameters: {v: {type: integer}}, docker: [{image: "a:<< parameters.v >>"}]}
commands:
  c:
    parameters:
      s: {type: string}
      e: {type: enum, enum: [x, y], default: x}
      st: {type: steps, default: []}
    steps: [{run: "<< parameters.s >>"}]
jobs:
  j:
    parameters: {need: {type: string}}
    executor: {name: ex, v: seven}
    steps:
      - c: {s: [1], e: z, extra: 1}
      - c: {st: {run: x}}
workflows:
  w:
    jobs:
      - j
      - j: {name: j2, need: x, unknown: 1}
      - j: {name: j3, need: x}
`,
			want: []string{
				`:14:29: jobs.j.executor.v: parameter "v" is of type integer: the value must be an integer, not a string`,
				`:16:16: jobs.j.steps[0].c.s: parameter "s" is of type string: the value must be a string, not a list`,
				`:16:24: jobs.j.steps[0].c.e: parameter "e": "z" is not one of its values (x, y)`,
				`:16:27: jobs.j.steps[0].c.extra: unexpected argument "extra": command "c" has no such parameter (parameters: s, e, st)`,
				`:17:9: jobs.j.steps[1].c: missing argument "s": command "c" requires it (type string, no default)`,
				`:17:17: jobs.j.steps[1].c.st: parameter "st" is of type steps: the value must be a list of steps, not a mapping`,
				`:21:9: workflows.w.jobs[0]: missing argument "need": job "j" requires it (type string, no default)`,
				`:22:32: workflows.w.jobs[1].j.unknown: unexpected argument "unknown": job "j" has no such parameter (parameters: need)`,
			},
		},
		{
			name: "templates",
			src: `version: 2.1
parameters:
  p: {type: string, default: x}
jobs:
  j:
    parameters: {list: {type: steps, default: []}}
    docker: [{image: a}]
    steps:
      - run: echo << parameters.list >> << parameters.nope >>
      - run: echo << pipeline.nothing >>
      - run: echo << pipeline.parameters.q >> << matrix.m >>
workflows:
  w:
    jobs:
      - j: {name: "<< parameters.x >>"}
`,
			want: []string{
				`:9:14: jobs.j.steps[0].run: << parameters.list >> is a list and can only be used as a whole value, not inside a string`,
				`:9:14: jobs.j.steps[0].run: << parameters.nope >>: job "j" declares no parameter "nope" (parameters: list)`,
				`:10:14: jobs.j.steps[1].run: << pipeline.nothing >>: unknown pipeline value (known: pipeline.parameters.*, pipeline.git.base_revision, pipeline.git.branch, pipeline.git.revision, pipeline.git.tag, pipeline.id, pipeline.number, pipeline.project.git_url, pipeline.project.slug, pipeline.project.type, pipeline.schedule.id, pipeline.schedule.name, pipeline.trigger_source)`,
				`:11:14: jobs.j.steps[2].run: << matrix.m >> is only allowed in a workflow job that has a matrix`,
				`:11:14: jobs.j.steps[2].run: << pipeline.parameters.q >>: the config declares no pipeline parameter "q" under parameters (it declares p)`,
				`:15:19: workflows.w.jobs[0].j.name: << parameters.x >> is only allowed inside a job, command or executor that declares parameters`,
			},
		},
		{
			name:   "pipeline parameters given",
			params: map[string]any{"n": "many", "zz": 1},
			src: `version: 2.1
parameters:
  n: {type: integer, default: 1}
  r: {type: string}
jobs:
  j: {docker: [{image: a}], steps: [checkout]}
workflows: {w: {jobs: [j]}}
`,
			want: []string{
				`:3:3: parameters: the pipeline was given parameter "zz", which the config does not declare (declared: n, r)`,
				`:3:6: parameters.n: parameter "n" is of type integer: the value must be an integer, not a string`,
				`:4:6: parameters.r: pipeline parameter "r" has no default and the pipeline was not given a value`,
			},
		},
		{
			name: "references",
			src: `version: 2.1
orbs:
  nope: circleci/nope@1.0.0
  badref: not-an-orb
  inline:
    commands:
      c: {steps: [{run: x}]}
commands:
  loop-a: {steps: [loop-b]}
  loop-b: {steps: [loop-a]}
jobs:
  j:
    executor: missing
    steps:
      - loop-a
      - inline/missing
      - other/thing
      - nope/thing
      - frobnicate
  k:
    executor: nope/default
    steps: [nope/cmd, undefined]
workflows:
  w:
    jobs: [j, k, inline/job, nope/job, nojob]
`,
			want: []string{
				`:3:9: orbs.nope: orb circleci/nope@1.0.0 is not in the local orb registry: import its source with ` + "`orbit orb import circleci/nope@1.0.0 <file>`",
				`:4:11: orbs.badref: orb reference "not-an-orb" is not namespace/name@version (lowercase letters, digits, - and _)`,
				`:10:20: commands.loop-b.steps[0]: command "loop-a" invokes itself: loop-a -> loop-b -> loop-a`,
				`:13:15: jobs.j.executor: executor "missing" is not defined in executors`,
				`:16:9: jobs.j.steps[1]: orb "inline" (inline orb) has no command "missing"`,
				`:17:9: jobs.j.steps[2]: command "other/thing": no orb "other" is imported under orbs`,
				`:19:9: jobs.j.steps[4]: unknown step or command "frobnicate"`,
				`:22:23: jobs.k.steps[1]: unknown step or command "undefined"`,
				`:25:18: workflows.w.jobs[2]: orb "inline" (inline orb) has no job "job"`,
				`:25:40: workflows.w.jobs[4]: job "nojob" is not defined in jobs`,
			},
		},
		{
			name: "conditions and matrices",
			src: `version: 2.1
jobs:
  k:
    parameters: {a: {type: integer, default: 0}}
    docker: [{image: a}]
    steps:
      - when: {steps: [checkout]}
      - when: {condition: {xor: [a]}, steps: [checkout]}
      - unless: {condition: {not: [a]}, steps: [checkout]}
      - when: {condition: {matches: {pattern: "(", value: x}}, steps: [checkout]}
workflows:
  w:
    when: pipeline.git.branch ==
    jobs:
      - k: {override-with: x}
      - k:
          name: empty
          matrix: {parameters: {a: []}}
      - k:
          matrix: {parameters: {a: [1, 2]}, exclude: [{c: 1}]}
          a: 3
      - k:
          matrix: {parameters: {a: [1]}, exclude: [{a: 1}]}
      - k: {name: f, filters: 'pipeline.number starts-with "1"'}
      - k: {name: g, filters: 'pipeline.number ='}
`,
			want: []string{
				`:7:15: jobs.k.steps[0].when.condition: is required`,
				`:8:28: jobs.k.steps[1].when.condition.xor: unknown logic operator "xor" (allowed: and, or, not, equal, matches)`,
				`:9:35: jobs.k.steps[2].unless.condition.not: not takes one statement, not a list`,
				`:10:47: jobs.k.steps[3].when.condition.matches.pattern: invalid regular expression "(": error parsing regexp: missing closing ): ` + "`(`",
				`:13:11: workflows.w.when: invalid expression "pipeline.git.branch ==": expression ends where a value is expected`,
				`:18:36: workflows.w.jobs[1].k.matrix.parameters.a: must list at least one value`,
				`:20:56: workflows.w.jobs[2].k.matrix.exclude[0].c: "c" is not a parameter of the matrix`,
				`:21:11: workflows.w.jobs[2].k.a: argument "a" is also a matrix parameter; give it in one place`,
				`:23:19: workflows.w.jobs[3].k.matrix: exclude removes every combination of the matrix`,
				`:24:31: workflows.w.jobs[4].k.filters: expression "pipeline.number starts-with \"1\"": starts-with compares strings, not 0 and "1"`,
				`:25:31: workflows.w.jobs[5].k.filters: invalid expression "pipeline.number =": unexpected "="`,
			},
		},
		{
			name: "duplicate matrix names and requires",
			src: `version: 2.1
jobs:
  k: {parameters: {a: {type: string}}, docker: [{image: a}], steps: [checkout]}
workflows:
  w:
    jobs:
      - k: {matrix: {parameters: {a: [x, x]}}}
      - k: {name: after, requires: [k, k]}
`,
			want: []string{
				`:7:9: workflows.w.jobs[0]: job name "k-x" is used more than once in workflow "w" (first at line 7); give one a different name`,
				`:8:9: workflows.w.jobs[1].k: missing argument "a": job "k" requires it (type string, no default)`,
				`:8:40: workflows.w.jobs[1]: job "after" requires "k" more than once`,
			},
		},
		{
			name: "2.1 sections in a 2.0 config",
			src: `version: 2
orbs: {x: a/b@1.0.0}
commands: {c: {steps: [checkout]}}
jobs:
  build:
    docker: [{image: a}]
    executor: e
    parameters: {p: {type: string}}
    steps: [c]
`,
			want: []string{
				`:2:7: orbs: orbs need version 2.1`,
				`:3:11: commands: commands need version 2.1`,
				`:7:5: jobs.build.executor: reusable executors need version 2.1`,
				`:8:5: jobs.build.parameters: parameters need version 2.1`,
				`:9:13: jobs.build.steps[0]: unknown step "c"`,
			},
		},
		{
			name: "setup must be a boolean",
			src:  "version: 2.1\nsetup: sometimes\njobs: {j: {docker: [{image: a}], steps: [checkout]}}\nworkflows: {w: {jobs: [j]}}\n",
			want: []string{`:2:8: setup: must be true or false, not a string`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.src), Options{Filename: "config.yml", Branch: "main", Orbs: memRegistry{}, PipelineParameters: tt.params})
			require.Error(t, err)
			assert.Nil(t, p)
			var list ErrorList
			require.ErrorAs(t, err, &list)
			var got []string
			for _, e := range list {
				got = append(got, strings.TrimPrefix(e.Error(), "config.yml"))
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
