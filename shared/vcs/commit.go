package vcs

import (
	"strings"
	"unicode/utf8"
)

// Limits on what a pipeline keeps of its commit. The message is the
// committer's text, unbounded in git; the pipeline record (and every list of
// pipelines) carries it, so it is clipped on the way in.
const (
	// MaxSubjectBytes bounds Commit.Subject.
	MaxSubjectBytes = 512
	// MaxBodyBytes bounds Commit.Body.
	MaxBodyBytes = 4 << 10
	// MaxAuthorBytes bounds Commit.AuthorName and Commit.AuthorEmail.
	MaxAuthorBytes = 256
)

// Commit is what a pipeline shows of its revision's commit: the message
// split as git splits it (CircleCI's pipeline vcs.commit.subject and .body)
// and its author. The zero Commit means "not known" (a fetch that failed, a
// pipeline made before Orbit recorded commits).
type Commit struct {
	// Subject is the message's first line.
	Subject string `json:"subject,omitempty"`
	// Body is the rest of the message, after the blank line that follows
	// the subject.
	Body string `json:"body,omitempty"`
	// AuthorName is the commit author's name (git's %an), not a login.
	AuthorName string `json:"author_name,omitempty"`
	// AuthorEmail is the author's email address (git's %ae).
	AuthorEmail string `json:"author_email,omitempty"`
}

// NewCommit splits a full commit message into subject and body and clips
// every part to its limit (MaxSubjectBytes, MaxBodyBytes, MaxAuthorBytes) on
// a rune boundary. Invalid UTF-8 becomes U+FFFD, so the parts are valid text
// for JSON and HTML.
func NewCommit(message, authorName, authorEmail string) Commit {
	message = strings.ReplaceAll(strings.ToValidUTF8(message, "\uFFFD"), "\r\n", "\n")
	subject, body, _ := strings.Cut(strings.TrimLeft(message, "\n"), "\n")
	return Commit{
		Subject:     Clip(strings.TrimSpace(subject), MaxSubjectBytes),
		Body:        Clip(strings.TrimRight(strings.TrimLeft(body, "\n"), " \t\n"), MaxBodyBytes),
		AuthorName:  Clip(strings.TrimSpace(strings.ToValidUTF8(authorName, "\uFFFD")), MaxAuthorBytes),
		AuthorEmail: Clip(strings.TrimSpace(strings.ToValidUTF8(authorEmail, "\uFFFD")), MaxAuthorBytes),
	}
}

// IsZero says nothing is known of the commit.
func (c Commit) IsZero() bool { return c == Commit{} }

// Clip returns the longest prefix of s that is at most n bytes and ends on a
// rune boundary (a multi-byte character is dropped whole, never split).
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	// Back up over at most UTFMax-1 continuation bytes: further back, the
	// text is not UTF-8 there and any cut is as good as another.
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i]
		}
	}
	return s[:n]
}
