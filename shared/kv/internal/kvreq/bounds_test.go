package kvreq

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestSuccessor(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"ascii", "a#", "a$", true},
		{"last byte 0x7F", "a\x7f", "a\u0080", true},
		{"multi-byte", "é", "ê", true},
		{"before surrogates", "a\ud7ff", "a\ue000", true},
		{"max rune carries", "a\U0010FFFF", "b", true},
		{"only max runes", "\U0010FFFF\U0010FFFF", "", false},
		{"empty", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Successor(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
			assert.True(t, utf8.ValidString(got))
		})
	}
}

// TestSortKeysMatchesDefinition checks Bounds against the plain definition
// (begins with Prefix, From <= SK <= To) over every short key of a small
// alphabet that includes a multi-byte rune and U+10FFFF.
func TestSortKeysMatchesDefinition(t *testing.T) {
	alphabet := []string{"a", "b", "\u00ff", "\U0010FFFF"}
	keys := []string{""}
	for range 3 {
		for _, k := range keys {
			for _, r := range alphabet {
				if len(k) < 12 {
					keys = append(keys, k+r)
				}
			}
		}
	}
	keys = dedupe(keys)
	params := keys[:min(len(keys), 60)]
	for _, prefix := range params {
		for _, from := range params {
			for _, to := range params {
				b, empty := SortKeys(prefix, from, to)
				any := false
				for _, sk := range keys[1:] {
					want := strings.HasPrefix(sk, prefix) && sk >= from && (to == "" || sk <= to)
					any = any || want
					if got := b.Contains(sk); got != want {
						t.Fatalf("prefix %q from %q to %q: Contains(%q) = %v, want %v (bounds %+v)", prefix, from, to, sk, got, want, b)
					}
					if b.BeginsWith != "" && b.Contains(sk) != strings.HasPrefix(sk, b.BeginsWith) {
						t.Fatalf("prefix %q from %q to %q: BeginsWith %q disagrees on %q", prefix, from, to, b.BeginsWith, sk)
					}
				}
				if empty && any {
					t.Fatalf("prefix %q from %q to %q: reported empty", prefix, from, to)
				}
			}
		}
	}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
