package vcs_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/orbit-ci/orbit/shared/vcs"
	"github.com/stretchr/testify/assert"
)

func TestNewCommitSplitsSubjectAndBody(t *testing.T) {
	tests := []struct {
		name, message, subject, body string
	}{
		{name: "subject only", message: "Fix the build\n", subject: "Fix the build"},
		{name: "subject and body", message: "Fix the build\n\nThe cache key was wrong.\nNow it is not.\n", subject: "Fix the build", body: "The cache key was wrong.\nNow it is not."},
		{name: "body without blank line", message: "Fix\nmore text", subject: "Fix", body: "more text"},
		{name: "several blank lines", message: "Fix\n\n\n\n  - indented item\n\n", subject: "Fix", body: "  - indented item"},
		{name: "CRLF", message: "Fix\r\n\r\nBody\r\n", subject: "Fix", body: "Body"},
		{name: "leading blank lines", message: "\n\nFix\n", subject: "Fix"},
		{name: "empty", message: ""},
		{name: "markup kept as text", message: "Make the <dashboard> shine", subject: "Make the <dashboard> shine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := vcs.NewCommit(tt.message, " Ada Lovelace ", "ada@example.com")
			assert.Equal(t, tt.subject, c.Subject)
			assert.Equal(t, tt.body, c.Body)
			assert.Equal(t, "Ada Lovelace", c.AuthorName)
			assert.Equal(t, "ada@example.com", c.AuthorEmail)
		})
	}
}

func TestNewCommitClipsOnRuneBoundaries(t *testing.T) {
	// "é" is 2 bytes, "日" 3, "🚀" 4: at every offset, a clip must fall
	// between runes.
	for _, r := range []string{"é", "日", "🚀"} {
		for pad := 0; pad < 4; pad++ {
			prefix := strings.Repeat("a", pad)
			subject := prefix + strings.Repeat(r, vcs.MaxSubjectBytes)
			body := prefix + strings.Repeat(r, vcs.MaxBodyBytes)
			author := prefix + strings.Repeat(r, vcs.MaxAuthorBytes)
			c := vcs.NewCommit(subject+"\n\n"+body, author, author)
			for name, tc := range map[string]struct {
				got, full string
				max       int
			}{
				"subject": {c.Subject, subject, vcs.MaxSubjectBytes},
				"body":    {c.Body, body, vcs.MaxBodyBytes},
				"author":  {c.AuthorName, author, vcs.MaxAuthorBytes},
				"email":   {c.AuthorEmail, author, vcs.MaxAuthorBytes},
			} {
				assert.True(t, utf8.ValidString(tc.got), "%s %q pad %d: invalid UTF-8", name, r, pad)
				assert.LessOrEqual(t, len(tc.got), tc.max, "%s %q pad %d", name, r, pad)
				assert.Greater(t, len(tc.got), tc.max-len(r), "%s %q pad %d: clipped more than one rune", name, r, pad)
				assert.True(t, strings.HasPrefix(tc.full, tc.got), "%s %q pad %d: not a prefix", name, r, pad)
			}
		}
	}
}

func TestNewCommitKeepsTextUnderTheLimits(t *testing.T) {
	subject := strings.Repeat("日", vcs.MaxSubjectBytes/3) // 510 bytes
	c := vcs.NewCommit(subject, "Ada", "")
	assert.Equal(t, subject, c.Subject)
	assert.Empty(t, c.AuthorEmail)
}

func TestNewCommitRepairsInvalidUTF8(t *testing.T) {
	c := vcs.NewCommit("bad \xff byte\n\nbody \xc3", "A\xffda", "")
	assert.Equal(t, "bad \uFFFD byte", c.Subject)
	assert.Equal(t, "body \uFFFD", c.Body)
	assert.Equal(t, "A\uFFFDda", c.AuthorName)
}

func TestClip(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{name: "short", in: "abc", n: 5, want: "abc"},
		{name: "exact", in: "abc", n: 3, want: "abc"},
		{name: "ascii", in: "abcdef", n: 3, want: "abc"},
		{name: "inside a 3-byte rune", in: "a日b", n: 2, want: "a"},
		{name: "inside a 4-byte rune", in: "🚀🚀", n: 7, want: "🚀"},
		{name: "after a rune", in: "日日", n: 3, want: "日"},
		{name: "zero", in: "abc", n: 0, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, vcs.Clip(tt.in, tt.n))
		})
	}
}

func TestCommitIsZero(t *testing.T) {
	assert.True(t, vcs.Commit{}.IsZero())
	assert.True(t, vcs.NewCommit("", "", "").IsZero())
	assert.False(t, vcs.NewCommit("x", "", "").IsZero())
}
