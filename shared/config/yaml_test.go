package config

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseLayer checks what the parse layer hands to the model: aliases
// and merge keys expanded the YAML way, values typed.
func TestParseLayer(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want map[string]any
	}{
		{
			name: "redefined anchor: later definition wins from there on",
			src:  "a: &x 1\nb: *x\nc: &x 2\nd: *x\n",
			want: map[string]any{"a": 1, "b": 1, "c": 2, "d": 2},
		},
		{
			name: "merge: own keys win wherever they are",
			src:  "base: &b {k: base, only: b}\nm: {k: own, <<: *b}\n",
			want: map[string]any{"base": map[string]any{"k": "base", "only": "b"}, "m": map[string]any{"k": "own", "only": "b"}},
		},
		{
			name: "merge list: earlier mapping wins",
			src:  "one: &1 {k: one}\ntwo: &2 {k: two, t: 2}\nm: {<<: [*1, *2]}\n",
			want: map[string]any{"one": map[string]any{"k": "one"}, "two": map[string]any{"k": "two", "t": 2}, "m": map[string]any{"k": "one", "t": 2}},
		},
		{
			name: "scalar types",
			src:  "i: 3\nf: 1.5\nb: true\nn: ~\ns: '3'\nts: 2024-01-01\n",
			want: map[string]any{"i": 3, "f": 1.5, "b": true, "n": nil, "s": "3", "ts": "2024-01-01"},
		},
		{
			name: "quoted << is an ordinary key",
			src:  "'<<': {a: 1}\n",
			want: map[string]any{"<<": map[string]any{"a": 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &errs{file: "t.yml"}
			root := parseDocument([]byte(tt.src), e)
			require.Empty(t, e.list)
			assert.Equal(t, tt.want, toAny(root))
		})
	}
}

func TestStepJSON(t *testing.T) {
	s := Step{Type: StepRun, Name: "x", Command: "x", NoOutputTimeout: Duration(90 * time.Second), When: WhenAlways}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"run","name":"x","command":"x","when":"always","no_output_timeout":"1m30s"}`, string(b))
	var back Step
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s, back)
	assert.Error(t, json.Unmarshal([]byte(`{"no_output_timeout":"soon"}`), &back))
}
