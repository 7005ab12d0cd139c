package config

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogicStatements judges step conditions: each case is a `condition`
// and whether its steps run, with pipeline values for a push to main of
// pipeline 3 and parameters flag=true, name="x".
func TestLogicStatements(t *testing.T) {
	tests := []struct {
		cond string
		want bool
	}{
		{"true", true},
		{"false", false},
		{"null", false},
		{"0", false},
		{"1", true},
		{"0.0", false},
		{".nan", false},
		{`""`, false},
		{`"false"`, true}, // a non-empty string is true
		{"<< pipeline.parameters.flag >>", true},
		{"<< pipeline.parameters.name >>", true},
		{"{and: []}", false},
		{"{and: [true, 1, x]}", true},
		{"{and: [true, false]}", false},
		{"{or: []}", false},
		{"{or: [false, 0, x]}", true},
		{"{not: false}", true},
		{"{not: {and: [true, true]}}", false},
		{"{equal: [main, << pipeline.git.branch >>]}", true},
		{"{equal: [3, << pipeline.number >>]}", true},
		{"{equal: [3.0, << pipeline.number >>]}", true},
		{`{equal: ["3", << pipeline.number >>]}`, false},
		{"{equal: [true, << pipeline.parameters.flag >>]}", true},
		{`{equal: ["true", << pipeline.parameters.flag >>]}`, false},
		{"{equal: [[a, b], [a, b]]}", true},
		{"{equal: [{a: 1}, {a: 1}]}", true},
		{"{equal: [{a: 1}, {a: 2}]}", false},
		{"{equal: [a, a, b]}", false},
		{"{matches: {pattern: ^ma.*$, value: << pipeline.git.branch >>}}", true},
		{"{matches: {pattern: ma, value: << pipeline.git.branch >>}}", false}, // whole string
		{"{matches: {pattern: 'ma.*', value: << pipeline.git.branch >>}}", true},
		{"{or: [{matches: {pattern: 'release/.*', value: << pipeline.git.branch >>}}, {equal: [main, << pipeline.git.branch >>]}]}", true},
		{`<< pipeline.git.branch == "main" and pipeline.number >= 3 >>`, true},
		{`<< not pipeline.parameters.flag >>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			src := fmt.Sprintf(`version: 2.1
parameters:
  flag: {type: boolean, default: true}
  name: {type: string, default: x}
jobs:
  j:
    docker: [{image: a}]
    steps:
      - run: always
      - when:
          condition: %s
          steps: [{run: when}]
      - unless:
          condition: %s
          steps: [{run: unless}]
workflows: {w: {jobs: [j]}}
`, tt.cond, tt.cond)
			p, err := Compile([]byte(src), Options{Branch: "main", PipelineValues: PipelineValues{Number: 3}})
			require.NoError(t, err)
			want := []string{"always", "unless"}
			if tt.want {
				want = []string{"always", "when"}
			}
			assert.Equal(t, want, commands(find(t, p, "w", "j").Job))
		})
	}
}

// TestExpressions evaluates expressions as job filters, with pipeline
// values for a push to main of pipeline 3 and parameter n=5.
func TestExpressions(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{`pipeline.git.branch == "main"`, true},
		{`pipeline.git.branch != 'main'`, false},
		{`pipeline.git.branch == "dev" or pipeline.git.branch starts-with "ma"`, true},
		{`pipeline.git.tag starts-with "v"`, false},
		{`pipeline.number > 2 and pipeline.number <= 3`, true},
		{`pipeline.number < 3`, false},
		{`pipeline.parameters.n >= 5.0`, true},
		{`pipeline.parameters.n == "5"`, false},
		{`not pipeline.parameters.on`, true},
		{`not pipeline.parameters.on and false`, false}, // not binds tightest
		{`not (pipeline.parameters.on and false)`, true},
		{`pipeline.parameters.on or pipeline.git.branch == "main" and false`, false}, // and before or
		{`(pipeline.parameters.on or pipeline.git.branch == "main") and true`, true},
		{`pipeline.git.tag == null or pipeline.git.tag == ""`, true},
		{`true`, true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			src := fmt.Sprintf(`version: 2.1
parameters:
  n: {type: integer, default: 5}
  on: {type: boolean, default: false}
jobs:
  j: {docker: [{image: a}], steps: [checkout]}
workflows:
  w:
    jobs:
      - j: {name: other}
      - j:
          filters: |-
            %s
`, tt.expr)
			p, err := Compile([]byte(src), Options{Branch: "main", PipelineValues: PipelineValues{Number: 3}})
			require.NoError(t, err)
			want := []string{"w: other"}
			if tt.want {
				want = []string{"w: other j"}
			}
			assert.Equal(t, want, names(p))
		})
	}
}

func TestWorkflowConditions(t *testing.T) {
	const src = `version: 2.1
parameters:
  nightly: {type: boolean, default: false}
jobs:
  j: {docker: [{image: a}], steps: [checkout]}
workflows:
  always: {jobs: [j]}
  nightly-only:
    when: << pipeline.parameters.nightly >>
    jobs: [j]
  not-nightly:
    unless: << pipeline.parameters.nightly >>
    jobs: [j]
  main-by-logic:
    when: {equal: [main, << pipeline.git.branch >>]}
    jobs: [j]
  main-by-expression:
    when: pipeline.git.branch == "main"
    jobs: [j]
  scheduled:
    when: {equal: [scheduled_pipeline, << pipeline.trigger_source >>]}
    jobs: [j]
`
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"push to main", Options{Branch: "main"}, []string{"always: j", "not-nightly: j", "main-by-logic: j", "main-by-expression: j"}},
		{"push to dev", Options{Branch: "dev"}, []string{"always: j", "not-nightly: j"}},
		{"nightly parameter", Options{Branch: "dev", PipelineParameters: map[string]any{"nightly": true}}, []string{"always: j", "nightly-only: j"}},
		{"scheduled pipeline", Options{Branch: "dev", PipelineValues: PipelineValues{TriggerSource: "scheduled_pipeline"}}, []string{"always: j", "not-nightly: j", "scheduled: j"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(src), tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(p))
		})
	}
}

func TestSetupAndSchedules(t *testing.T) {
	const setup = `version: 2.1
setup: << pipeline.parameters.run-setup >>
parameters:
  run-setup: {type: boolean, default: true}
jobs:
  gen: {docker: [{image: a}], steps: [{run: generate}]}
workflows: {setup: {jobs: [gen]}}
`
	p, err := Compile([]byte(setup), Options{Branch: "main"})
	require.NoError(t, err)
	assert.True(t, p.Setup)

	p, err = Compile([]byte(setup), Options{Branch: "main", PipelineParameters: map[string]any{"run-setup": false}})
	require.NoError(t, err)
	assert.False(t, p.Setup)

	// The continuation: the generated config, its own parameters; it may
	// not be a setup config itself.
	_, err = Compile([]byte(setup), Options{Branch: "main", Continuation: true})
	require.ErrorContains(t, err, "a continuation config cannot be a setup config: a pipeline continues once")
	p, err = Compile([]byte("version: 2.1\nparameters: {target: {type: string}}\njobs:\n  j: {docker: [{image: a}], steps: [{run: 'make << pipeline.parameters.target >>'}]}\nworkflows: {w: {jobs: [j]}}\n"),
		Options{Branch: "main", Continuation: true, PipelineParameters: map[string]any{"target": "all"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"make all"}, commands(find(t, p, "w", "j").Job))

	const scheduled = `version: 2
jobs:
  j: {docker: [{image: a}], steps: [checkout]}
workflows:
  push: {jobs: [j]}
  nightly:
    triggers:
      - schedule: {cron: "0 2 * * 1-5", filters: {branches: {only: [main, /release-.*/]}}}
    jobs:
      - j: {filters: {branches: {ignore: release-old}}}
`
	p, err = Compile([]byte(scheduled), Options{Branch: "main"})
	require.NoError(t, err)
	assert.Equal(t, []string{"push: j"}, names(p))
	assert.Equal(t, []Schedule{{Workflow: "nightly", Cron: "0 2 * * 1-5", Branches: PatternFilter{Only: []string{"main", "/release-.*/"}}}}, p.Schedules)

	p, err = Compile([]byte(scheduled), Options{Branch: "release-1", ScheduledWorkflow: "nightly"})
	require.NoError(t, err)
	assert.Equal(t, []string{"nightly: j"}, names(p))
	p, err = Compile([]byte(scheduled), Options{Branch: "release-old", ScheduledWorkflow: "nightly"})
	require.NoError(t, err)
	assert.Empty(t, p.Workflows)
	_, err = Compile([]byte(scheduled), Options{Branch: "main", ScheduledWorkflow: "push"})
	require.ErrorContains(t, err, `workflow "push" has no triggers`)
}

func TestTags(t *testing.T) {
	const src = `version: 2.1
jobs:
  j: {docker: [{image: a}], steps: [checkout]}
workflows:
  w:
    jobs:
      - j: {name: plain}
      - j: {name: tagged, filters: {tags: {only: /^v.*/}}}
      - j: {name: after-tagged, requires: [tagged], filters: {tags: {only: /.*/}}}
      - j: {name: after-plain, requires: [plain], filters: {tags: {only: /.*/}}}
      - j: {name: expr, filters: 'pipeline.git.tag starts-with "v"'}
`
	p, err := Compile([]byte(src), Options{Tag: "v1.2.3"})
	require.NoError(t, err)
	assert.Equal(t, []string{"w: tagged after-tagged expr"}, names(p))
	p, err = Compile([]byte(src), Options{Branch: "main"})
	require.NoError(t, err)
	assert.Equal(t, []string{"w: plain tagged after-tagged after-plain"}, names(p))
}
