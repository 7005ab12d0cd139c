package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const matrixJob = `version: 2.1
jobs:
  build:
    parameters:
      version: {type: string, default: "0"}
      platform: {type: string, default: none}
      n: {type: integer, default: 1}
      flag: {type: boolean, default: false}
    docker: [{image: "img:<< parameters.version >>"}]
    parallelism: << parameters.n >>
    steps: [{run: "build << parameters.platform >> << parameters.flag >>"}]
  deploy: {docker: [{image: a}], steps: [checkout]}
`

func TestMatrix(t *testing.T) {
	tests := []struct {
		name      string
		workflows string
		want      []string
		check     func(t *testing.T, p *Plan)
	}{
		{
			name: "default names: parameters in name order, the first varying slowest",
			workflows: `
      - build:
          matrix:
            parameters:
              version: ["0.1", "0.2", "0.3"]
              platform: [macos, windows, linux]
`,
			want: []string{"w: build-macos-0.1 build-macos-0.2 build-macos-0.3 build-windows-0.1 build-windows-0.2 build-windows-0.3 build-linux-0.1 build-linux-0.2 build-linux-0.3"},
			check: func(t *testing.T, p *Plan) {
				j := find(t, p, "w", "build-windows-0.2")
				assert.Equal(t, "build", j.JobName)
				assert.Equal(t, "img:0.2", j.Job.Executor.Images[0].Image)
				assert.Equal(t, []string{"build windows false"}, commands(j.Job))
			},
		},
		{
			name: "numbers and booleans name as written; exclude drops combinations",
			workflows: `
      - build:
          matrix:
            parameters:
              n: [1, 2]
              flag: [true, false]
            exclude:
              - {n: 2, flag: false}
`,
			want: []string{"w: build-true-1 build-true-2 build-false-1"},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, 2, find(t, p, "w", "build-true-2").Job.Parallelism)
			},
		},
		{
			name: "a name with matrix values; requires per instance; other arguments pass through",
			workflows: `
      - build:
          name: compile-<< matrix.platform >>
          version: "9"
          matrix:
            parameters:
              platform: [linux, mac]
      - build:
          name: test-<< matrix.platform >>
          requires: [compile-<< matrix.platform >>]
          matrix:
            parameters:
              platform: [linux, mac]
`,
			want: []string{"w: compile-linux compile-mac test-linux test-mac"},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []Requirement{{"compile-mac", []string{"success"}}}, find(t, p, "w", "test-mac").Requires)
				assert.Equal(t, "img:9", find(t, p, "w", "compile-linux").Job.Executor.Images[0].Image)
			},
		},
		{
			name: "requires on the job name or the alias waits for the whole matrix",
			workflows: `
      - build:
          matrix:
            parameters: {platform: [a, b]}
      - build:
          name: other-<< matrix.platform >>
          matrix:
            alias: others
            parameters: {platform: [c]}
      - deploy:
          requires: [build, {others: [success, failed]}]
`,
			want: []string{"w: build-a build-b other-c deploy"},
			check: func(t *testing.T, p *Plan) {
				assert.Equal(t, []Requirement{
					{"build-a", []string{"success"}},
					{"build-b", []string{"success"}},
					{"other-c", []string{"success", "failed"}},
				}, find(t, p, "w", "deploy").Requires)
			},
		},
		{
			name: "pipeline parameters in matrix values",
			workflows: `
      - build:
          matrix:
            parameters: {version: ["<< pipeline.parameters.v >>", "2"]}
`,
			want: []string{"w: build-7 build-2"},
		},
		{
			name: "filters apply to every instance",
			workflows: `
      - build:
          matrix: {parameters: {platform: [a, b]}}
          filters: {branches: {only: release}}
      - deploy
`,
			want: []string{"w: deploy"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := matrixJob + "parameters: {v: {type: string, default: \"7\"}}\nworkflows:\n  w:\n    jobs:" + tt.workflows
			p, err := Compile([]byte(src), Options{Branch: "main"})
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(p))
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}
