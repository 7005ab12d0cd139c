package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/store"
)

// TestProviderNames: a project is reached under CircleCI's short and long
// provider names, and vcs_info names its provider as CircleCI does; the
// local-git provider keeps its own name.
func TestProviderNames(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, p := range []store.Project{
		{Slug: "gh/acme/api", Name: "api", VCS: "github", DefaultBranch: "main"},
		{Slug: "bb/acme/web", Name: "web", VCS: "bitbucket", DefaultBranch: "main"},
		{Slug: "circleci/8d2f0c3e/9a1b", Name: "9a1b", VCS: "circleci", DefaultBranch: "main"},
		{Slug: "local/acme/tool", Name: "tool", VCS: "local", DefaultBranch: "main"},
	} {
		_, err := e.st.CreateProject(ctx, p)
		require.NoError(t, err)
	}
	tests := []struct{ path, slug, provider string }{
		{"gh/acme/api", "gh/acme/api", "GitHub"},
		{"github/acme/api", "gh/acme/api", "GitHub"},
		{"github%2Facme%2Fapi", "gh/acme/api", "GitHub"},
		{"bb/acme/web", "bb/acme/web", "Bitbucket"},
		{"bitbucket/acme/web", "bb/acme/web", "Bitbucket"},
		{"circleci/8d2f0c3e/9a1b", "circleci/8d2f0c3e/9a1b", "CircleCI"},
		{"local/acme/tool", "local/acme/tool", "Local"},
	}
	for _, tt := range tests {
		rec := e.do(http.MethodGet, "/api/v2/project/"+tt.path, "")
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", tt.path, rec.Body.String())
		p := decodeBody[obj](t, rec)
		assert.Equal(t, tt.slug, p["slug"], tt.path)
		assert.Equal(t, tt.provider, p["vcs_info"].(obj)["provider"], tt.path)
	}
	// Long names in a trigger's path and in an org-slug query too.
	rec := e.do(http.MethodPost, "/api/v2/project/github/acme/api/pipeline", "")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, "gh/acme/api", e.trigger.reqs[0].ProjectSlug)
	list := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/pipeline?org-slug=github/acme", ""))
	require.Len(t, list["items"], 1)
	assert.Equal(t, "GitHub", list["items"].([]any)[0].(obj)["vcs"].(obj)["provider_name"])
	// Not a provider: no rewriting.
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v2/project/gitlab/acme/api", "").Code)
}
