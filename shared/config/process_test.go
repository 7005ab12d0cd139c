package config

import (
	"testing"
	"time"

	"encoding/json"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcess(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts Options
		want string
	}{
		{
			name: "one job per invocation; same name and body shared, different bodies kept apart",
			src: `version: 2.1
jobs:
  j:
    parameters: {m: {type: string, default: a}}
    docker: [{image: x}]
    steps: [{run: "echo << parameters.m >>"}]
workflows:
  one: {jobs: [j]}
  two: {jobs: [j, {j: {name: k, m: b}}]}
  three: {jobs: [{j: {m: c}}]}
`,
			want: `version: 2
jobs:
  j:
    docker:
      - image: x
    steps:
      - run: echo a
  k:
    docker:
      - image: x
    steps:
      - run: echo b
  j-2:
    docker:
      - image: x
    steps:
      - run: echo c
workflows:
  version: 2
  one:
    jobs:
      - j
  two:
    jobs:
      - j
      - k
  three:
    jobs:
      - j-2:
          name: j
`,
		},
		{
			name: "workflows whose condition says no are left out; filters stay",
			src: `version: 2.1
parameters: {go: {type: boolean, default: false}}
jobs:
  j: {docker: [{image: x}], steps: [checkout]}
workflows:
  off: {when: << pipeline.parameters.go >>, jobs: [j]}
  on:
    unless: << pipeline.parameters.go >>
    jobs: [{j: {filters: {branches: {only: main}}}}]
`,
			want: `version: 2
jobs:
  j:
    docker:
      - image: x
    steps:
      - checkout
workflows:
  version: 2
  on:
    jobs:
      - j:
          filters:
            branches:
              only: main
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Process([]byte(tt.src), tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
		})
	}
	_, err := Process([]byte("version: 2.1\njobs: {j: {docker: [{image: x}], steps: [nope]}}\nworkflows: {w: {jobs: [j]}}\n"), Options{Filename: "c.yml"})
	require.EqualError(t, err, `c.yml:2:42: jobs.j.steps[0]: unknown step or command "nope"`)
}

func TestStepJSONFields(t *testing.T) {
	s := Step{Type: StepRun, Name: "x", Command: "x", MaxAutoReruns: 2, AutoRerunDelay: Duration(30 * time.Second)}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"run","name":"x","command":"x","max_auto_reruns":2,"auto_rerun_delay":"30s"}`, string(b))
	var back Step
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s, back)
	assert.Error(t, json.Unmarshal([]byte(`{"auto_rerun_delay":"later"}`), &back))
}
