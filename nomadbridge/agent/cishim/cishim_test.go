package cishim_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/cishim"
	"github.com/orbit-ci/orbit/shared/runner"
)

type shimEnv struct {
	dir, data string
	env       map[string]string
}

func newShimEnv(t *testing.T, files map[string]string) *shimEnv {
	t.Helper()
	e := &shimEnv{dir: t.TempDir(), data: t.TempDir()}
	for name, content := range files {
		p := filepath.Join(e.dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	e.env = map[string]string{agent.EnvTaskData: e.data, "CIRCLE_NODE_INDEX": "0", "CIRCLE_NODE_TOTAL": "1"}
	return e
}

func (e *shimEnv) run(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cishim.Main(args, cishim.IO{Getenv: func(k string) string { return e.env[k] },
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Dir: e.dir})
	return code, out.String(), errOut.String()
}

func lines(s string) []string { return strings.Fields(s) }

func TestGlob(t *testing.T) {
	e := newShimEnv(t, map[string]string{"spec/a_spec.rb": "", "spec/m/b_spec.rb": "", "lib/x.rb": ""})
	code, out, _ := e.run("", "tests", "glob", "spec/**/*_spec.rb", "lib/*.{rb,py}")
	assert.Equal(t, 0, code)
	assert.Equal(t, []string{"lib/x.rb", "spec/a_spec.rb", "spec/m/b_spec.rb"}, lines(out), "sorted")

	code, out, _ = e.run("", "tests", "glob", filepath.Join(e.dir, "lib", "*.rb"))
	assert.Equal(t, 0, code)
	assert.Equal(t, []string{filepath.Join(e.dir, "lib", "x.rb")}, lines(out))
}

func TestSplit(t *testing.T) {
	e := newShimEnv(t, map[string]string{"big.go": strings.Repeat("x", 1000), "small.go": "x", "mid.go": strings.Repeat("x", 600)})
	timings, err := json.Marshal(runner.Timings{JobNumber: 3, Files: map[string]float64{"a.go": 10, "b.go": 1, "c.go": 9}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.data, agent.TimingsFile), timings, 0o644))

	tests := []struct {
		name   string
		stdin  string
		args   []string
		want   [][]string // per node of 2
		stderr string
	}{
		{name: "by name", stdin: "c.go a.go\nb.go d.go", args: nil, want: [][]string{{"c.go", "a.go"}, {"b.go", "d.go"}}},
		{name: "by timings", stdin: "./a.go b.go c.go", args: []string{"--split-by=timings"},
			want: [][]string{{"./a.go"}, {"b.go", "c.go"}}},
		{name: "unknown timing", stdin: "a.go new.go", args: []string{"--split-by=timings"},
			want: [][]string{{"a.go"}, {"new.go"}}, stderr: `no timing found for "new.go"`},
		{name: "by file size", stdin: "big.go small.go mid.go", args: []string{"--split-by=filesize"},
			want: [][]string{{"big.go"}, {"small.go", "mid.go"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for node, want := range tt.want {
				args := append([]string{"tests", "split", "--total=2", "--index=" + string(rune('0'+node))}, tt.args...)
				code, out, stderr := e.run(tt.stdin, args...)
				require.Equal(t, 0, code, stderr)
				assert.Equal(t, want, lines(out), "node %d", node)
				assert.Contains(t, stderr, tt.stderr)
			}
		})
	}

	// Node index and total come from the environment by default.
	e.env["CIRCLE_NODE_INDEX"], e.env["CIRCLE_NODE_TOTAL"] = "1", "2"
	_, out, _ := e.run("c.go a.go b.go d.go", "tests", "split")
	assert.Equal(t, []string{"b.go", "d.go"}, lines(out))

	// A file argument instead of stdin.
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "list.txt"), []byte("c.go a.go b.go d.go"), 0o644))
	_, out, _ = e.run("", "tests", "split", "list.txt")
	assert.Equal(t, []string{"b.go", "d.go"}, lines(out))
}

func TestSplitWithoutTimingsFallsBackToName(t *testing.T) {
	e := newShimEnv(t, nil)
	code, out, stderr := e.run("b a", "tests", "split", "--split-by=timings", "--total=2", "--index=0")
	assert.Equal(t, 0, code)
	assert.Equal(t, []string{"a"}, lines(out))
	assert.Contains(t, stderr, "no timing data found")
}

func TestHaltAndErrors(t *testing.T) {
	e := newShimEnv(t, nil)
	code, _, _ := e.run("", "step", "halt")
	assert.Equal(t, 0, code)
	assert.FileExists(t, filepath.Join(e.data, agent.HaltFile))

	code, _, stderr := e.run("", "local", "execute")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "not available inside Orbit jobs")
	code, _, stderr = e.run("", "tests", "split", "--index=5", "--total=2")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "outside")
	code, _, _ = e.run("", "tests", "split", "--split-by=magic")
	assert.Equal(t, 2, code)
}
