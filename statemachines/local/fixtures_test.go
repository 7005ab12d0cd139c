package local_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines/local"
)

// fixture is one golden test in testdata/fixtures: a definition without
// Lambda tasks, an input, and the expected output or error (and cause). The
// format is engine-neutral so the same files can run against another Step
// Functions implementation: statemachines/difftest runs them in moto too,
// and a fixture where moto deviates from AWS says so in a "moto" field
// ({"differs": "..."}), which this test ignores.
type fixture struct {
	Comment    string          `json:"comment"`
	Definition json.RawMessage `json:"definition"`
	Input      json.RawMessage `json:"input"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      *string         `json:"error,omitempty"`
	Cause      *string         `json:"cause,omitempty"`
}

func loadFixtures(t *testing.T) map[string]fixture {
	files, err := filepath.Glob("testdata/fixtures/*.json")
	require.NoError(t, err)
	out := map[string]fixture{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var fx fixture
		require.NoError(t, json.Unmarshal(data, &fx), f)
		require.True(t, fx.Error != nil || fx.Output != nil, "%s: needs output or error", f)
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = fx
	}
	return out
}

func TestFixtures(t *testing.T) {
	fixtures := loadFixtures(t)
	require.GreaterOrEqual(t, len(fixtures), 40)
	for name, fx := range fixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, clock := newEngine(t, local.Config{})
			autoAdvance(t, clock)
			arn, err := e.Define("fixture", fx.Definition, nil)
			require.NoError(t, err, fx.Comment)
			d := run(t, e, arn, string(fx.Input))
			if fx.Error != nil {
				require.Equal(t, local.StatusFailed, d.Status, "output %s", d.Output)
				assert.Equal(t, *fx.Error, d.Error, "cause: %s", d.Cause)
				if fx.Cause != nil {
					assert.Equal(t, *fx.Cause, d.Cause)
				}
				return
			}
			require.Equal(t, local.StatusSucceeded, d.Status, "%s: %s", d.Error, d.Cause)
			assert.JSONEq(t, string(fx.Output), string(d.Output), fx.Comment)
		})
	}
}
