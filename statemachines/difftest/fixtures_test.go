package difftest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture is a golden test of statemachines/local (see its fixtures_test.go).
type fixture struct {
	Comment    string          `json:"comment"`
	Definition json.RawMessage `json:"definition"`
	Input      json.RawMessage `json:"input"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      *string         `json:"error,omitempty"`
	Cause      *string         `json:"cause,omitempty"`
	// Moto notes where moto's engine deviates from AWS on this fixture:
	// what it does and the AWS documentation that says otherwise.
	Moto *struct {
		Differs string `json:"differs"`
	} `json:"moto,omitempty"`
}

const fixtureDir = "../local/testdata/fixtures"

func loadFixtures(t *testing.T) (names []string, fixtures map[string]fixture) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	fixtures = map[string]fixture{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var fx fixture
		require.NoError(t, json.Unmarshal(data, &fx), f)
		require.True(t, fx.Error != nil || fx.Output != nil, "%s: needs output or error", f)
		if fx.Moto != nil {
			require.NotEmpty(t, fx.Moto.Differs, "%s: a moto note says how moto differs and why AWS is right", f)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		names = append(names, name)
		fixtures[name] = fx
	}
	slices.Sort(names)
	return names, fixtures
}

// golden reports whether o is the outcome the fixture expects.
func (fx fixture) golden(o outcome) bool {
	if fx.Error != nil {
		return o.Status == "FAILED" && o.Error == *fx.Error && (fx.Cause == nil || o.Cause == *fx.Cause)
	}
	return o.Status == "SUCCEEDED" && jsonEqual(fx.Output, o.Output)
}

func (fx fixture) expected() string {
	if fx.Error != nil {
		if fx.Cause != nil {
			return "FAILED error=" + *fx.Error + " cause=" + *fx.Cause
		}
		return "FAILED error=" + *fx.Error
	}
	return "SUCCEEDED " + string(fx.Output)
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

// TestFixtures runs every golden fixture in statemachines/local and in
// moto: local must give the golden outcome, and moto the same as local
// unless the fixture notes where moto deviates from AWS.
func TestFixtures(t *testing.T) {
	t.Parallel()
	m := newMoto(t)
	names, fixtures := loadFixtures(t)
	cases := make([]testCase, 0, len(names))
	for _, name := range names {
		fx := fixtures[name]
		cases = append(cases, testCase{name: name, definition: fx.Definition, input: string(fx.Input)})
	}
	results := runAll(context.Background(), m, cases, 12)
	compared := 0 // fixtures compared with moto: every one without a moto note
	for _, name := range names {
		if fixtures[name].Moto == nil {
			compared++
		}
	}
	for _, name := range names {
		fx, r := fixtures[name], results[name]
		t.Run(name, func(t *testing.T) {
			require.NoError(t, r.localErr, "local")
			assert.True(t, fx.golden(r.local), "local gave %s, the fixture expects %s (%s)", r.local, fx.expected(), fx.Comment)
			if m == nil {
				return
			}
			require.NoError(t, r.motoErr, "moto")
			if fx.Moto != nil {
				assert.False(t, fx.golden(r.moto), "moto now gives the golden outcome; remove the fixture's moto note (%s)", fx.Moto.Differs)
				t.Logf("moto gives %s: %s", r.moto, fx.Moto.Differs)
				return
			}
			sameOutcome(t, r.local, r.moto, fx.Cause != nil)
		})
	}
	t.Logf("%d of %d fixtures compared with moto", compared, len(names))
	assert.GreaterOrEqual(t, compared, 40, "fixtures compared with moto")
	skipWithoutMoto(t, m)
}

// sameOutcome requires moto's outcome to be local's: the same status, and
// the same output or the same error (and cause, when it matters).
func sameOutcome(t *testing.T, lo, mo outcome, cause bool) {
	t.Helper()
	if !assert.Equal(t, lo.Status, mo.Status, "status: local %s, moto %s", lo, mo) {
		return
	}
	if lo.Status == "SUCCEEDED" {
		assert.JSONEq(t, string(lo.Output), string(mo.Output), "output")
		return
	}
	assert.Equal(t, lo.Error, mo.Error, "error: local %s, moto %s", lo, mo)
	if cause {
		assert.Equal(t, lo.Cause, mo.Cause, "cause")
	}
}
