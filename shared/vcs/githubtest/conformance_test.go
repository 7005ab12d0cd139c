package githubtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	gh "github.com/google/go-github/v93/github"
	"github.com/orbit-ci/orbit/shared/vcs/githubtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShapesDecodeStrictly decodes every answer of the fake into
// go-github's types with unknown fields refused, so each field the fake
// sends has the name GitHub gives it (go-github's types are written from
// GitHub's documented schemas).
func TestShapesDecodeStrictly(t *testing.T) {
	fake := githubtest.New()
	defer fake.Close()
	fake.AddUser("tok", githubtest.User{ID: 7, Login: "mona", Orgs: []string{"acme"}})
	fake.AddRepo(githubtest.Repo{Owner: "acme", Name: "api", DefaultBranch: "main", Refs: map[string]string{"main": strings.Repeat("a", 40)},
		Files: map[string]map[string]string{strings.Repeat("a", 40): {"f": "x"}}, Permissions: map[string]string{"mona": "admin"},
		Commits: map[string]githubtest.Commit{strings.Repeat("a", 40): {Message: "Fix\n\nBody", AuthorName: "Mona", AuthorEmail: "mona@example.com"}}})
	call := func(method, path, body string) []byte {
		req, err := http.NewRequest(method, fake.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Less(t, resp.StatusCode, 300, "%s %s: %s", method, path, b)
		return b
	}
	strict := func(b []byte, v any) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		assert.NoError(t, dec.Decode(v), "%s", b)
	}
	strict(call("GET", "/api/v3/user", ""), new(gh.User))
	strict(call("GET", "/api/v3/user/orgs", ""), new([]*gh.Organization))
	strict(call("GET", "/api/v3/user/repos", ""), new([]*gh.Repository))
	strict(call("GET", "/api/v3/repos/acme/api", ""), new(gh.Repository))
	strict(call("GET", "/api/v3/repos/acme/api/commits/main", ""), new(gh.RepositoryCommit))
	strict(call("GET", "/api/v3/repos/acme/api/collaborators/mona/permission", ""), new(gh.RepositoryPermissionLevel))
	strict(call("GET", "/api/v3/repos/acme/api/contents/f?ref=main", ""), new(gh.RepositoryContent))
	strict(call("POST", "/api/v3/repos/acme/api/hooks", `{"name":"web","config":{"url":"https://o/webhooks/github","content_type":"json"},"events":["push"]}`), new(gh.Hook))
	strict(call("POST", "/api/v3/repos/acme/api/keys", `{"title":"t","key":"ssh-ed25519 AAAA","read_only":true}`), new(gh.Key))
	strict(call("POST", "/api/v3/repos/acme/api/statuses/"+strings.Repeat("a", 40), `{"state":"success","context":"ci/circleci: build"}`), new(gh.RepoStatus))
}
