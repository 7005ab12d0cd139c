package local

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStringMatches(t *testing.T) {
	tests := []struct {
		name, s, pattern string
		want             bool
	}{
		{"exact", "abc", "abc", true},
		{"prefix star", "log-2024.txt", "log-*", true},
		{"suffix star", "app.log", "*.log", true},
		{"middle star", "a-long-b", "a*b", true},
		{"star matches empty", "ab", "a*b", true},
		{"several stars", "xaybzc", "*a*b*c", true},
		{"backtracking", "aaab", "*ab", true},
		{"no match", "app.log.gz", "*.log", false},
		{"escaped star is literal", "a*b", `a\*b`, true},
		{"escaped star is not a wildcard", "axb", `a\*b`, false},
		{"escaped backslash", `a\b`, `a\\b`, true},
		{"unicode", "héllo wörld", "h*w?rld", false},
		{"unicode star", "héllo wörld", "h*wörld", true},
		{"empty pattern", "", "", true},
		{"only star", "anything", "*", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, stringMatches(tt.s, tt.pattern))
		})
	}
}

func TestBracketNames(t *testing.T) {
	tests := []struct{ in, want string }{
		{"$", "$"},
		{"$.a", "$['a']"},
		{"$.delivery-partner.x", "$['delivery-partner']['x']"},
		{"$.a[0].b", "$['a'][0]['b']"},
		{"$.a[*]", "$['a'][*]"},
		{"$..b", "$..b"},
		{"$.a.*", "$['a'].*"},
		{"$.items[?(@.price < 10)].name", "$['items'][?(@.price < 10)]['name']"},
		{"$.a b", "$.a b"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, bracketNames(tt.in))
		})
	}
}

func TestPathGet(t *testing.T) {
	data, err := decodeJSON([]byte(`{"a-b":{"c":[1,2,{"d":null}]},"n":1.5,"big":9007199254740993}`))
	require.NoError(t, err)
	tests := []struct {
		path  string
		want  any
		found bool
	}{
		{"$", data, true},
		{"$.a-b.c[2].d", nil, true},
		{"$.a-b.c[-1]", map[string]any{"d": nil}, true},
		{"$['a-b'].c[0]", int64(1), true},
		{"$.n", 1.5, true},
		{"$.big", int64(9007199254740993), true},
		{"$.missing", nil, false},
		{"$.a-b.c[5]", nil, false},
		{"$.a-b.c[*]", []any{int64(1), int64(2), map[string]any{"d": nil}}, true},
		{"$.nothing[*]", []any{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := parsePath(tt.path, false)
			require.NoError(t, err)
			got, found := p.get(data, nil)
			assert.Equal(t, tt.found, found)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestResultPathSetDoesNotMutate(t *testing.T) {
	in, err := decodeJSON([]byte(`{"a":{"b":1},"list":[{"x":1}]}`))
	require.NoError(t, err)
	p, err := parsePath("$.a.c", true)
	require.NoError(t, err)
	out, serr := p.set(in, "new")
	require.Nil(t, serr)
	assert.Equal(t, `{"a":{"b":1,"c":"new"},"list":[{"x":1}]}`, encodeString(out))
	assert.Equal(t, `{"a":{"b":1},"list":[{"x":1}]}`, encodeString(in), "the input is shared, never mutated")

	p, err = parsePath("$.list[0].y", true)
	require.NoError(t, err)
	out, serr = p.set(in, true)
	require.Nil(t, serr)
	assert.Equal(t, `{"a":{"b":1},"list":[{"x":1,"y":true}]}`, encodeString(out))

	p, err = parsePath("$.a.b.c", true)
	require.NoError(t, err)
	_, serr = p.set(in, 1)
	require.NotNil(t, serr)
	assert.Equal(t, ErrorResultPathMatchFailure, serr.name)
}

func TestIntrinsicParsing(t *testing.T) {
	tests := []struct {
		expr    string
		want    string
		wantErr string
	}{
		{"States.Format('{} and {}', 'a', 2)", `"a and 2"`, ""},
		{"States.Format('it\\'s {}', $.v)", `"it's x"`, ""},
		{"States.Array()", `[]`, ""},
		{"States.Array(1, -2.5, true, null, 'x')", `[1,-2.5,true,null,"x"]`, ""},
		{"States.ArrayLength( States.Array( $.v , $.w ) )", `2`, ""},
		{"States.MathAdd($.n, 1)", `43`, ""},
		{"States.JsonToString($.o)", `"{\"k\":[1]}"`, ""},
		{"States.Hash('x', 'MD5')", `"9dd4e461268c8034f5c8564e155c67a6"`, ""},
		{"States.MathRandom(1, 2)", `1`, ""},
		{"States.Format('{}')", "", "more placeholders than arguments"},
		{"States.MathAdd('a', 1)", "", "must be integers"},
		{"States.ArrayGetItem($.list, 9)", "", "out of range"},
	}
	data, err := decodeJSON([]byte(`{"v":"x","w":"y","n":42,"o":{"k":[1]},"list":[1]}`))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			fn, err := parseIntrinsic(tt.expr)
			require.NoError(t, err)
			v, serr := fn.eval(data, nil)
			if tt.wantErr != "" {
				require.NotNil(t, serr)
				assert.Equal(t, ErrorIntrinsicFailure, serr.name)
				assert.Contains(t, serr.cause, tt.wantErr)
				return
			}
			require.Nil(t, serr)
			assert.Equal(t, tt.want, encodeString(v))
		})
	}
	for _, bad := range []string{"States.Format('x'", "States.Nope()", "Format('x')", "States.UUID(1)", "States.Array(1) x", "States.Format('x)"} {
		_, err := parseIntrinsic(bad)
		assert.Error(t, err, bad)
	}
}

func TestErrorMatches(t *testing.T) {
	assert.True(t, errorMatches([]string{ErrorAll}, "Custom"))
	assert.False(t, errorMatches([]string{ErrorAll}, ErrorRuntime), "States.Runtime is terminal")
	assert.True(t, errorMatches([]string{ErrorTaskFailed}, ErrorHeartbeatTimeout))
	assert.False(t, errorMatches([]string{ErrorTaskFailed}, ErrorTimeout))
	assert.True(t, errorMatches([]string{"A", ErrorTimeout}, ErrorTimeout))
	assert.False(t, errorMatches([]string{"A"}, "B"))
}
