package github

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/vcs"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestParse(t *testing.T) {
	readme := vcs.Commit{Subject: "Update README.md", AuthorName: "Mona Octocat", AuthorEmail: "mona@example.com"}
	tests := []struct {
		name, event, file string
		want              Delivery
		ignored           bool
	}{
		{name: "push to a branch", event: "push", file: "push.json", want: Delivery{Event: "push", Owner: "acme", Repo: "api", Branch: "main",
			Revision: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", BaseRevision: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", Actor: "mona", Commit: readme}},
		{name: "push of a tag", event: "push", file: "push_tag.json", want: Delivery{Event: "push", Owner: "acme", Repo: "api", Tag: "v1.2.0",
			Revision: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", BaseRevision: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", Actor: "mona", Commit: readme}},
		{name: "skip ci", event: "push", file: "push_skip.json", ignored: true},
		{name: "deleted branch", event: "push", file: "push_deleted.json", ignored: true},
		{name: "pull request opened", event: "pull_request", file: "pull_request.json", want: Delivery{Event: "pull_request", Owner: "acme", Repo: "api",
			Branch: "changes", Revision: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", BaseRevision: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", Actor: "mona"}},
		{name: "pull request from a fork", event: "pull_request", file: "pull_request_fork.json", want: Delivery{Event: "pull_request", Owner: "acme", Repo: "api",
			Branch: "pull/2", Revision: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", BaseRevision: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", Actor: "mona", Fork: true}},
		{name: "pull request closed", event: "pull_request", file: "pull_request_closed.json", ignored: true},
		{name: "ping", event: "ping", file: "ping.json", ignored: true},
		{name: "unsupported event", event: "issues", file: "ping.json", ignored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.event, fixture(t, tt.file))
			require.NoError(t, err)
			if tt.ignored {
				assert.NotEmpty(t, d.Ignore)
				return
			}
			assert.Equal(t, tt.want, d)
		})
	}
}

// TestParsePushHeadCommit: a push's pipeline gets its head commit from the
// payload (split and clipped as every commit is), and none when head_commit
// is not the pushed revision.
func TestParsePushHeadCommit(t *testing.T) {
	tests := []struct {
		name string
		edit func(hc map[string]any)
		want vcs.Commit
	}{
		{name: "message with a body", edit: func(hc map[string]any) {
			hc["message"] = "Make the <dashboard> shine\n\nSo the 日本語 team sees it.\n"
			hc["author"] = map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "username": "ada"}
		}, want: vcs.Commit{Subject: "Make the <dashboard> shine", Body: "So the 日本語 team sees it.", AuthorName: "Ada Lovelace", AuthorEmail: "ada@example.com"}},
		{name: "head commit of another revision", edit: func(hc map[string]any) { hc["id"] = strings.Repeat("1", 40) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var payload map[string]any
			require.NoError(t, json.Unmarshal(fixture(t, "push.json"), &payload))
			tt.edit(payload["head_commit"].(map[string]any))
			b, err := json.Marshal(payload)
			require.NoError(t, err)
			d, err := Parse("push", b)
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.Commit)
		})
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	for _, tt := range []struct{ name, event, body string }{
		{"not json", "push", "{"},
		{"no repository", "push", `{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}`},
		{"odd ref", "push", `{"ref":"refs/notes/x","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","repository":{"name":"api","owner":{"login":"acme"}}}`},
		{"bad sha", "push", `{"ref":"refs/heads/main","after":"zz","repository":{"name":"api","owner":{"login":"acme"}}}`},
		{"pull request without head", "pull_request", `{"action":"opened","repository":{"name":"api","owner":{"login":"acme"}}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.event, []byte(tt.body))
			assert.ErrorIs(t, err, ErrPayload)
		})
	}
}

func TestVerifySignature(t *testing.T) {
	body, secret := fixture(t, "push.json"), []byte("s3cret")
	good := Sign(body, secret)
	require.NoError(t, VerifySignature(body, good, secret))
	for _, tt := range []struct{ name, header string }{
		{"missing", ""},
		{"sha1 only", "sha1=" + good[7:47]},
		{"wrong secret", Sign(body, []byte("other"))},
		{"not hex", "sha256=" + string(make([]byte, 64))},
		{"truncated", good[:len(good)-2]},
		{"payload changed", Sign(append([]byte(" "), body...), secret)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, VerifySignature(body, tt.header, secret), ErrSignature)
		})
	}
	assert.ErrorIs(t, VerifySignature(body, Sign(body, nil), nil), ErrSignature, "an empty secret verifies nothing")
}

// FuzzParse feeds arbitrary payloads to the webhook parser: it must not
// panic, and what it accepts as a build must name a repository and a
// commit.
func FuzzParse(f *testing.F) {
	for _, seed := range []struct{ event, file string }{
		{"push", "push.json"}, {"push", "push_tag.json"}, {"push", "push_skip.json"}, {"push", "push_deleted.json"},
		{"pull_request", "pull_request.json"}, {"pull_request", "pull_request_fork.json"}, {"ping", "ping.json"},
	} {
		f.Add(seed.event, fixture(f, seed.file))
	}
	f.Fuzz(func(t *testing.T, event string, payload []byte) {
		d, err := Parse(event, payload)
		if err != nil || d.Ignore != "" {
			return
		}
		if d.Owner == "" || d.Repo == "" || !validSHA(d.Revision) || (d.Branch == "") == (d.Tag == "") {
			t.Fatalf("accepted a build without repository, commit or exactly one of branch/tag: %+v", d)
		}
	})
}
