package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/store"
)

// pipelinesOf makes projects and pipelines: n by the admin (through the
// API) and one by bob (in the store) on each slug.
func pipelinesOf(t *testing.T, e *env, slugs ...string) {
	t.Helper()
	ctx := context.Background()
	for _, slug := range slugs {
		_, err := e.st.CreateProject(ctx, store.Project{Slug: slug, Name: slug, VCS: "local", DefaultBranch: "main"})
		require.NoError(t, err)
		rec := e.do(http.MethodPost, "/api/v2/project/"+slug+"/pipeline", `{"branch":"main"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		_, err = e.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: slug, Trigger: store.Trigger{Type: "api", Actor: "bob"},
			VCS: store.PipelineVCS{Branch: "main"}})
		require.NoError(t, err)
	}
}

func slugsOf(t *testing.T, list obj) (out []string) {
	t.Helper()
	for _, it := range list["items"].([]any) {
		p := it.(obj)
		out = append(out, p["project_slug"].(string)+"#"+p["trigger"].(obj)["actor"].(obj)["login"].(string))
	}
	return out
}

// TestMyPipelines: /pipeline/mine is its own route (it was taken for
// pipeline number "mine" and answered 400) and lists the caller's only.
func TestMyPipelines(t *testing.T) {
	e := newEnv(t)
	pipelinesOf(t, e, "local/acme/api")
	rec := e.do(http.MethodGet, "/api/v2/project/local/acme/api/pipeline/mine", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	list := decodeBody[obj](t, rec)
	assert.Equal(t, []string{"local/acme/api#admin"}, slugsOf(t, list))
	assert.Nil(t, list["next_page_token"])

	all := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/project/local/acme/api/pipeline", ""))
	assert.Equal(t, []string{"local/acme/api#bob", "local/acme/api#admin"}, slugsOf(t, all))
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v2/project/local/acme/api/pipeline/1", "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v2/project/local/acme/nope/pipeline/mine", "").Code)
}

func TestOrganizationPipelines(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.PageSize = 3 })
	pipelinesOf(t, e, "local/acme/api", "local/acme/web", "local/other/x")

	get := func(query string) obj {
		t.Helper()
		rec := e.do(http.MethodGet, "/api/v2/pipeline?"+query, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return decodeBody[obj](t, rec)
	}
	page := get("org-slug=local/acme")
	first := slugsOf(t, page)
	require.Len(t, first, 3)
	require.NotNil(t, page["next_page_token"])
	page = get("org-slug=local/acme&page-token=" + url.QueryEscape(page["next_page_token"].(string)))
	rest := slugsOf(t, page)
	assert.Nil(t, page["next_page_token"])
	assert.ElementsMatch(t, []string{"local/acme/api#admin", "local/acme/api#bob", "local/acme/web#admin", "local/acme/web#bob"},
		append(first, rest...), "every pipeline of the organization once, none of another")
	assert.Equal(t, "local/acme/web#bob", first[0], "newest first")

	assert.ElementsMatch(t, []string{"local/acme/api#admin", "local/acme/web#admin"}, slugsOf(t, get("org-slug=local/acme&mine=true")))
	assert.Len(t, slugsOf(t, get("mine=true")), 3, "without org-slug: every project the caller can read")

	for _, bad := range []string{"org-slug=acme", "mine=perhaps", "page-token=zzz"} {
		assert.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, "/api/v2/pipeline?"+bad, "").Code, bad)
	}
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v2/pipeline", "", anonymous...).Code)
}

func TestPipelineValues(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	rec := e.do(http.MethodGet, "/api/v2/pipeline/"+s.pipeline.ID+"/values", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, obj{
		"pipeline.id":              s.pipeline.ID,
		"pipeline.number":          float64(1),
		"pipeline.project.git_url": "/src/acme/api",
		"pipeline.project.type":    "local",
		"pipeline.trigger_source":  "api",
		"pipeline.git.branch":      "main",
		"pipeline.git.revision":    "0123456789abcdef0123456789abcdef01234567",
	}, decodeBody[obj](t, rec))
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v2/pipeline/00000000-0000-0000-0000-000000000000/values", "").Code)
}

func TestPipelineRun(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)
	const path = "/api/v2/project/local/acme/api/pipeline/run"
	rec := e.do(http.MethodPost, path, `{"config":{"branch":"dev"},"checkout":{"branch":"dev"},"parameters":{"n":3,"deploy":true}}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	out := decodeBody[obj](t, rec)
	assert.Equal(t, float64(2), out["number"])
	req := e.trigger.reqs[len(e.trigger.reqs)-1]
	assert.Equal(t, "dev", req.Branch)
	assert.Equal(t, "admin", req.Actor)
	assert.Equal(t, map[string]any{"n": int64(3), "deploy": true}, req.Parameters)

	rec = e.do(http.MethodPost, path, "")
	require.Equal(t, http.StatusCreated, rec.Code, "an empty body runs the default branch: %s", rec.Body.String())
	assert.Equal(t, "", e.trigger.reqs[len(e.trigger.reqs)-1].Branch)

	for name, body := range map[string]string{
		"refs differ":   `{"config":{"branch":"dev"},"checkout":{"tag":"v1"}}`,
		"unknown field": `{"config":{"brnch":"dev"}}`,
		"bad id":        `{"definition_id":"nope"}`,
		"bad parameter": `{"parameters":{"x":[1]}}`,
	} {
		assert.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, path, body).Code, name)
	}
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodPost, "/api/v2/project/local/acme/nope/pipeline/run", "{}").Code)
}

func TestCollaborationsAndUsers(t *testing.T) {
	e := newEnv(t, withEverything(t))
	pipelinesOf(t, e, "local/acme/api", "local/acme/web", "local/other/x")
	rec := e.do(http.MethodGet, "/api/v2/me/collaborations", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	orgs := decodeBody[[]obj](t, rec)
	require.Len(t, orgs, 2)
	assert.Equal(t, "local/acme", orgs[0]["slug"])
	assert.Equal(t, "acme", orgs[0]["name"])
	assert.Equal(t, "local", orgs[0]["vcs-type"])
	assert.Equal(t, "local/other", orgs[1]["slug"])
	// The organization id is the one the contexts API takes as owner-id.
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v2/context?owner-id="+orgs[0]["id"].(string), "").Code)

	rec = e.do(http.MethodGet, "/api/v2/user/"+e.admin.ID, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, obj{"id": e.admin.ID, "login": "admin", "name": "admin", "avatar_url": nil}, decodeBody[obj](t, rec))
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v2/user/nope", "").Code)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v2/user/"+e.admin.ID, "", anonymous...).Code)
}
