package dirblob

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodePath is the inverse of objectPath.
func decodePath(t *testing.T, p string) string {
	t.Helper()
	var key strings.Builder
	for _, name := range strings.Split(filepath.ToSlash(p), "/") {
		part, _, err := decodeName(name)
		require.NoError(t, err, "name %q", name)
		key.WriteString(part)
	}
	return key.String()
}

func TestObjectPathRoundTrips(t *testing.T) {
	keys := []string{
		"a", "a/", "a//b", "A/b", "logs/Step 1.txt", "%41", ".o", "x.d/y.c", "ünï/✓",
		strings.Repeat("a", 239) + "Ä", // an escape that would straddle a piece boundary
		strings.Repeat("a", 240), strings.Repeat("a", 241), strings.Repeat("Z", 1024),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aZ09-_./ %Ä")
	for range 200 {
		b := make([]byte, 1+rng.IntN(600))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		keys = append(keys, string(b))
	}
	for _, key := range keys {
		p := objectPath(key)
		assert.Equal(t, key, decodePath(t, p), "key %.40q", key)
		for _, name := range strings.Split(filepath.ToSlash(p), "/") {
			assert.LessOrEqual(t, len(name), 255, "file name length for key %.40q", key)
			assert.Equal(t, strings.ToLower(name), name, "names are lower case, safe on case-insensitive file systems")
		}
	}
	assert.NotEqual(t, objectPath("A"), objectPath("a"))
}

func TestMayHold(t *testing.T) {
	tests := []struct {
		keyPrefix, prefix, startAfter string
		want                          bool
	}{
		{"a/", "", "", true},
		{"a/", "a/b", "", true},
		{"a/", "b", "", false},
		{"a/b/", "a/", "a/a", true},
		{"a/b/", "a/", "a/b/x", true},
		{"a/b/", "a/", "a/c", false},
		{"a/b/", "a/", "a/b", true},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, mayHold(tc.keyPrefix, tc.prefix, tc.startAfter), "%+v", tc)
	}
}
