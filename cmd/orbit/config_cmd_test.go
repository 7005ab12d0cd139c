package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigCommandWarnings: `orbit config validate` and `process` accept
// a config with keys CircleCI tolerates, print each warning on stderr with
// its place, and keep stdout the result alone; errors still fail.
func TestConfigCommandWarnings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
		return path
	}
	tolerated := write("tolerated.yml", `version: 2.1
jobs:
  build:
    docker: [{image: a}]
    steps:
      - run: exit 1
      - store_test_results:
          path: results
          when: always
      - store_artifacts: {path: out, to: x}
workflows:
  w: {jobs: [build]}
`)
	clean := write("clean.yml", "version: 2.1\njobs:\n  build:\n    docker: [{image: a}]\n    steps: [checkout]\nworkflows:\n  w: {jobs: [build]}\n")
	broken := write("broken.yml", "version: 2.1\njobs:\n  build:\n    docker: [{image: a}]\n    steps: [{run: {}}]\nworkflows:\n  w: {jobs: [build]}\n")

	tests := []struct {
		name               string
		args               []string
		stdout, wantErr    string
		stderr             []string
		stdoutLacksWarning bool
	}{
		{
			name:   "validate warns and passes",
			args:   []string{"validate", tolerated},
			stdout: tolerated + " is valid, with 2 warnings (CircleCI accepts what they point at)\n",
			stderr: []string{
				tolerated + ":9:11: warning: jobs.build.steps[1].store_test_results.when: has no effect",
				tolerated + `:10:38: warning: jobs.build.steps[2].store_artifacts.to: unknown key "to" is ignored`,
			},
		},
		{name: "validate without warnings", args: []string{"validate", clean}, stdout: clean + " is valid\n"},
		{
			name:               "process keeps stdout the config",
			args:               []string{"process", tolerated},
			stderr:             []string{"warning: jobs.build.steps[1].store_test_results.when"},
			stdoutLacksWarning: true,
		},
		{name: "errors still fail", args: []string{"validate", broken}, wantErr: "run.command: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runConfig(tt.args, &stdout, &stderr)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tt.stdout != "" {
				assert.Equal(t, tt.stdout, stdout.String())
			}
			if tt.stdoutLacksWarning {
				assert.Contains(t, stdout.String(), "store_test_results:")
				assert.NotContains(t, stdout.String(), "warning")
			}
			for _, w := range tt.stderr {
				assert.Contains(t, stderr.String(), w)
			}
			if len(tt.stderr) == 0 {
				assert.Empty(t, stderr.String())
			}
		})
	}
}
