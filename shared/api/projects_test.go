package api_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFollowProject(t *testing.T) {
	repo := gitRepo(t, "acme", "web app")
	body := func(v obj) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return string(b)
	}
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantSlug string
		wantMsg  string
	}{
		{name: "derives slug from directories", body: body(obj{"path": repo}), wantCode: http.StatusCreated, wantSlug: "local/acme/web-app"},
		{name: "org and name override", body: body(obj{"path": repo, "org": "My Org", "name": "svc"}), wantCode: http.StatusCreated, wantSlug: "local/My-Org/svc"},
		{name: "not a git repository", body: body(obj{"path": t.TempDir()}), wantCode: http.StatusBadRequest, wantMsg: "is not a git repository"},
		{name: "missing path", body: `{}`, wantCode: http.StatusBadRequest, wantMsg: `"path" is required`},
		{name: "bad JSON", body: `{"path":`, wantCode: http.StatusBadRequest, wantMsg: "not valid JSON"},
		{name: "empty body", body: ``, wantCode: http.StatusBadRequest, wantMsg: "expected a JSON object"},
		{name: "unsluggable name", body: body(obj{"path": repo, "name": "///"}), wantCode: http.StatusBadRequest, wantMsg: "cannot derive a project slug"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rec := e.do(http.MethodPost, "/api/v2/project", tc.body, "Content-Type", "application/json")
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			got := decodeBody[obj](t, rec)
			if tc.wantMsg != "" {
				assert.Contains(t, got["message"], tc.wantMsg)
				return
			}
			assert.Equal(t, tc.wantSlug, got["slug"])
			vcsInfo := got["vcs_info"].(obj)
			assert.Equal(t, "trunk", vcsInfo["default_branch"])
			assert.Equal(t, filepath.Clean(repo), vcsInfo["vcs_url"])
			assert.Equal(t, "Local", vcsInfo["provider"])
		})
	}
}

func TestFollowProjectTwiceConflicts(t *testing.T) {
	e := newEnv(t)
	repo := gitRepo(t, "acme", "api")
	body := `{"path":` + string(mustJSON(t, repo)) + `}`
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/api/v2/project", body).Code)

	rec := e.do(http.MethodPost, "/api/v2/project", body)
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.Contains(t, decodeBody[obj](t, rec)["message"], "local/acme/api is already followed")
}

func TestGetProject(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	tests := []struct {
		name     string
		path     string
		wantCode int
	}{
		{name: "by slug", path: "/api/v2/project/local/acme/api", wantCode: http.StatusOK},
		{name: "by escaped slug", path: "/api/v2/project/local%2Facme%2Fapi", wantCode: http.StatusOK},
		{name: "unknown", path: "/api/v2/project/local/acme/nope", wantCode: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodGet, tc.path, "")
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			got := decodeBody[obj](t, rec)
			if tc.wantCode != http.StatusOK {
				assert.Contains(t, got["message"], "not found")
				return
			}
			assert.Equal(t, s.project.Slug, got["slug"])
			assert.Equal(t, "api", got["name"])
			assert.Equal(t, "acme", got["organization_name"])
			assert.Equal(t, "local/acme", got["organization_slug"])
			assert.NotEmpty(t, got["id"])
			assert.NotEmpty(t, got["organization_id"])
			assert.Equal(t, obj{"vcs_url": "/src/acme/api", "provider": "Local", "default_branch": "main"}, got["vcs_info"])
		})
	}
}

func TestListProjects(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodGet, "/api/v2/projects", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"items":[],"next_page_token":null}`, rec.Body.String())

	seed(t, e.st)
	got := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/projects", ""))
	items := got["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, "local/acme/api", items[0].(obj)["slug"])
	assert.Nil(t, got["next_page_token"])
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
