package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
)

// fakeGitHub stands in for GitHub behind the API: repository permissions
// and organization memberships by token, and a follower that creates the
// project as the GitHub registry does (store.ErrExists when followed).
type fakeGitHub struct {
	st *store.Store
	// perms: token → "owner/repo" → permission; orgs: token → logins.
	perms map[string]map[string]string
	orgs  map[string][]string

	mu         sync.Mutex
	unfollowed []string
}

func (f *fakeGitHub) Permission(_ context.Context, token, owner, repo string) (string, error) {
	return f.perms[token][owner+"/"+repo], nil
}

func (f *fakeGitHub) Orgs(_ context.Context, token string) ([]string, error) {
	return f.orgs[token], nil
}

func (f *fakeGitHub) Follow(ctx context.Context, _ *accounts.User, owner, repo string) (store.Project, error) {
	return f.st.CreateProject(ctx, store.Project{Slug: "gh/" + owner + "/" + repo, Name: repo, VCS: "github",
		RepoURL: "https://github.example/" + owner + "/" + repo + ".git", DefaultBranch: "main"})
}

func (f *fakeGitHub) Unfollow(_ context.Context, _ *accounts.User, owner, repo string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unfollowed = append(f.unfollowed, owner+"/"+repo)
	return nil
}

// orgEnv is an env with GitHub (fakeGitHub) and every optional part, and
// the audit recorder.
type orgEnv struct {
	*env
	gh  *fakeGitHub
	rec *audit.Recorder
}

func newOrgEnv(t *testing.T) *orgEnv {
	t.Helper()
	oe := &orgEnv{gh: &fakeGitHub{perms: map[string]map[string]string{}, orgs: map[string][]string{}}}
	oe.env = newEnv(t, withEverything(t), func(c *api.Config) {
		oe.gh.st, oe.rec = c.Store, c.Audit
		c.GitHub = oe.gh
		c.Permissions = accounts.Permissions{GitHub: oe.gh, Orgs: oe.gh,
			Open: func(_ context.Context, u *accounts.User) (string, error) { return string(u.GitHubToken), nil }}
	})
	return oe
}

// user signs in a local user with a local role and, if ghToken is set, a
// connected GitHub account; it returns their API token.
func (oe *orgEnv) user(login, role, ghToken string) string {
	t := oe.t
	u, err := oe.acc.SignIn(t.Context(), accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: login, Login: login, LocalRole: role})
	require.NoError(t, err)
	if ghToken != "" {
		_, err = oe.acc.SetGitHub(t.Context(), u.ID, login+"-gh", []byte(ghToken))
		require.NoError(t, err)
	}
	tok, _, err := oe.acc.CreateToken(t.Context(), u.ID, "tests")
	require.NoError(t, err)
	return tok
}

// actions are the audited actions on target, in order.
func (oe *orgEnv) actions(target string) []string {
	evs, err := oe.rec.Events(oe.t.Context(), t0.AddDate(-100, 0, 0), t0.AddDate(100, 0, 0))
	require.NoError(oe.t, err)
	var out []string
	for _, e := range evs {
		if e.Target.ID == target {
			out = append(out, fmt.Sprintf("%s %v", e.Action, e.Success))
		}
	}
	return out
}

func TestCreateOrganization(t *testing.T) {
	oe := newOrgEnv(t)
	oe.gh.orgs["tok-member"] = []string{"Acme"}
	member, writer, reader := oe.user("gina", "", "tok-member"), oe.user("wendy", "write", ""), oe.user("rita", "read", "")

	for _, tc := range []struct {
		name, token, body string
		code              int
		want              string // a part of the answer
	}{
		{"standalone: one of Orbit's own", writer, `{"name":"acme","vcs_type":"circleci"}`, http.StatusCreated,
			fmt.Sprintf(`{"id":%q,"name":"acme","slug":"local/acme","vcs_type":"circleci"}`, ids.Org("local/acme"))},
		{"the same again", writer, `{"name":"acme","vcs_type":"circleci"}`, http.StatusConflict, "already exists"},
		{"a read-only member of the local organizations", reader, `{"name":"other","vcs_type":"circleci"}`, http.StatusCreated, `"slug":"local/other"`},
		{"a GitHub organization the caller belongs to", member, `{"name":"acme","vcs_type":"github"}`, http.StatusCreated,
			fmt.Sprintf(`{"id":%q,"name":"acme","slug":"gh/acme","vcs_type":"github"}`, ids.Org("gh/acme"))},
		{"a GitHub organization the caller is not in", writer, `{"name":"globex","vcs_type":"github"}`, http.StatusForbidden, "not a member of the GitHub organization globex"},
		{"Bitbucket", oe.token, `{"name":"acme","vcs_type":"bitbucket"}`, http.StatusForbidden, "Bitbucket is not integrated"},
		{"an unknown vcs_type", oe.token, `{"name":"acme","vcs_type":"gitlab"}`, http.StatusBadRequest, `vcs_type \"gitlab\"`},
		{"no name", oe.token, `{"vcs_type":"github"}`, http.StatusBadRequest, `\"name\" is required`},
		{"a name that is not a slug part", oe.token, `{"name":"a/b","vcs_type":"circleci"}`, http.StatusBadRequest, `name \"a/b\"`},
		{"an unknown field", oe.token, `{"name":"acme","vcs_type":"github","plan":"free"}`, http.StatusBadRequest, `unknown field \"plan\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := oe.do(http.MethodPost, "/api/v2/organization", tc.body, "Circle-Token", tc.token)
			assert.Equal(t, tc.code, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.want)
		})
	}
	rec := oe.do(http.MethodPost, "/api/v2/organization", `{"name":"acme","vcs_type":"circleci"}`, anonymous...)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)

	// The record makes the organization known before it has a project:
	// its id names it to the contexts API and to its own routes.
	rec = oe.do(http.MethodPost, "/api/v2/context", fmt.Sprintf(`{"name":"deploy","owner":{"id":%q,"type":"organization"}}`, ids.Org("local/acme")))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"name":"deploy"`)
	orgs, err := oe.st.ListOrganizations(t.Context())
	require.NoError(t, err)
	var slugs []string
	for _, o := range orgs {
		slugs = append(slugs, o.Slug)
	}
	assert.Equal(t, []string{"gh/acme", "local/acme", "local/other"}, slugs)

	// The caller's collaborations list the organizations they are in.
	rec = oe.do(http.MethodGet, "/api/v2/me/collaborations", "", "Circle-Token", member)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, []any{obj{"id": ids.Org("gh/acme"), "vcs-type": "github", "name": "acme", "avatar_url": "", "slug": "gh/acme"}},
		decodeBody[[]any](t, rec))
	rec = oe.do(http.MethodGet, "/api/v2/me/collaborations", "", "Circle-Token", reader)
	assert.NotContains(t, rec.Body.String(), "gh/acme")
	assert.Contains(t, rec.Body.String(), `"slug":"local/other"`)
}

func TestCreateProjectInOrganization(t *testing.T) {
	oe := newOrgEnv(t)
	admin, writer := oe.user("ada", "", "tok-admin"), oe.user("will", "write", "tok-writer")
	oe.gh.perms["tok-admin"] = map[string]string{"acme/api": "admin", "acme/web": "admin", "acme/lib": "admin"}
	oe.gh.perms["tok-writer"] = map[string]string{"acme/api": "write"}

	// By slug, by escaped slug, by id, and the deprecated form.
	rec := oe.do(http.MethodPost, "/api/v2/organization/gh/acme/project", `{"name":"api"}`, "Circle-Token", admin)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	p := decodeBody[obj](t, rec)
	assert.Equal(t, "gh/acme/api", p["slug"])
	assert.Equal(t, ids.Project("gh/acme/api"), p["id"])
	assert.Equal(t, "gh/acme", p["organization_slug"])
	assert.Equal(t, obj{"vcs_url": "https://github.example/acme/api.git", "provider": "GitHub", "default_branch": "main"}, p["vcs_info"])

	rec = oe.do(http.MethodPost, "/api/v2/organization/github%2Facme/project", `{"name":"web"}`, "Circle-Token", admin)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"slug":"gh/acme/web"`)

	rec = oe.do(http.MethodPost, "/api/v2/project/github/acme/lib", "", "Circle-Token", admin)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	settings := decodeBody[map[string]obj](t, rec)
	assert.Equal(t, true, settings["advanced"]["set_github_status"])
	_, err := oe.st.GetProject(t.Context(), "gh/acme/lib")
	require.NoError(t, err)

	rec = oe.do(http.MethodPost, "/api/v2/organization/"+ids.Org("gh/acme")+"/project", `{"name":"api"}`, "Circle-Token", admin)
	assert.Equal(t, http.StatusConflict, rec.Code, "followed already: %s", rec.Body.String())

	for _, tc := range []struct {
		name, method, path, body, token string
		code                            int
		want                            string
	}{
		{"write on the repository is not enough", http.MethodPost, "/api/v2/organization/gh/acme/project", `{"name":"api"}`, writer,
			http.StatusForbidden, "this needs admin access"},
		{"no access to the repository", http.MethodPost, "/api/v2/organization/gh/acme/project", `{"name":"secret"}`, writer,
			http.StatusNotFound, ""},
		{"deprecated form, no admin", http.MethodPost, "/api/v2/project/gh/acme/api", "", writer, http.StatusForbidden, "this needs admin access"},
		{"an organization of Orbit's own", http.MethodPost, "/api/v2/organization/local/acme/project", `{"name":"api"}`, oe.token,
			http.StatusMethodNotAllowed, "Create projects using the API is currently supported for classic Github OAuth and Bitbucket projects only"},
		{"deprecated form, Orbit's own", http.MethodPost, "/api/v2/project/local/acme/api", "", oe.token,
			http.StatusMethodNotAllowed, `POST /api/v2/project {\"path\"`},
		{"Bitbucket", http.MethodPost, "/api/v2/organization/bitbucket/acme/project", `{"name":"api"}`, oe.token, http.StatusForbidden, "Bitbucket"},
		{"an unknown organization id", http.MethodPost, "/api/v2/organization/" + ids.Org("gh/nobody") + "/project", `{"name":"api"}`, oe.token,
			http.StatusNotFound, "organization"},
		{"no name", http.MethodPost, "/api/v2/organization/gh/acme/project", `{}`, admin, http.StatusBadRequest, `\"name\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := oe.do(tc.method, tc.path, tc.body, "Circle-Token", tc.token)
			assert.Equal(t, tc.code, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.want)
		})
	}
	ps, err := oe.st.ListProjects(t.Context())
	require.NoError(t, err)
	assert.Len(t, ps, 3, "only the three created by an admin of their repository")
	// Audited as the seed's project.add and project.follow.
	assert.Equal(t, []string{"project.follow true", "project.add true"}, oe.actions("gh/acme/api"))
	assert.Equal(t, []string{"project.follow true", "project.add true"}, oe.actions("gh/acme/lib"))
}

func TestCreateProjectWithoutGitHub(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodPost, "/api/v2/project/gh/acme/api", "")
	assert.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "GitHub is not configured")
	rec = e.do(http.MethodPost, "/api/v2/organization", `{"name":"acme","vcs_type":"github"}`)
	assert.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
}

func TestDeleteOrganization(t *testing.T) {
	oe := newOrgEnv(t)
	ctx := t.Context()
	member := oe.user("gina", "write", "tok-member")
	oe.gh.orgs["tok-member"] = []string{"acme"}
	oe.gh.perms["tok-member"] = map[string]string{"acme/api": "admin"}
	for _, slug := range []string{"gh/acme/api", "gh/acme/web", "gh/acme-two/api", "local/acme/api"} {
		_, err := oe.st.CreateProject(ctx, store.Project{Slug: slug, Name: "x", VCS: "github", DefaultBranch: "main"})
		require.NoError(t, err)
	}
	_, err := oe.st.CreateOrganization(ctx, store.Organization{Slug: "gh/acme", Name: "acme"})
	require.NoError(t, err)
	var ctxID string
	for _, owner := range []string{"gh/acme", "gh/acme-two"} {
		rec := oe.do(http.MethodPost, "/api/v2/context", fmt.Sprintf(`{"name":"deploy","owner":{"slug":%q}}`, owner))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		if owner == "gh/acme" {
			ctxID, _ = decodeBody[obj](t, rec)["id"].(string)
		}
	}
	rec := oe.do(http.MethodPut, "/api/v2/context/"+ctxID+"/environment-variable/TOKEN", `{"value":"s3cret"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	// A member who administers one repository is no organization admin.
	rec = oe.do(http.MethodDelete, "/api/v2/organization/gh/acme", "", "Circle-Token", member)
	assert.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	rec = oe.do(http.MethodDelete, "/api/v2/organization/gh/acme", "", anonymous...)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())

	rec = oe.do(http.MethodDelete, "/api/v2/organization/"+ids.Org("gh/acme"), "")
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	assert.Equal(t, obj{"message": "Organization gh/acme deleted: 2 projects and 1 contexts."}, decodeBody[obj](t, rec))

	ps, err := oe.st.ListProjects(ctx)
	require.NoError(t, err)
	var left []string
	for _, p := range ps {
		left = append(left, p.Slug)
	}
	assert.Equal(t, []string{"gh/acme-two/api", "local/acme/api"}, left, "another organization's projects stay")
	cs, err := oe.st.ListContexts(ctx, "gh/acme")
	require.NoError(t, err)
	assert.Empty(t, cs)
	_, err = oe.st.GetContext(ctx, ctxID)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = oe.st.GetVar(ctx, store.ContextScope(ctxID), "TOKEN")
	assert.ErrorIs(t, err, store.ErrNotFound, "the context's variables go with it")
	cs, err = oe.st.ListContexts(ctx, "gh/acme-two")
	require.NoError(t, err)
	assert.Len(t, cs, 1)
	_, err = oe.st.GetOrganization(ctx, "gh/acme")
	assert.ErrorIs(t, err, store.ErrNotFound)
	oe.gh.mu.Lock()
	assert.ElementsMatch(t, []string{"acme/api", "acme/web"}, oe.gh.unfollowed, "webhooks and deploy keys removed on GitHub")
	oe.gh.mu.Unlock()
	assert.Equal(t, []string{"project.unfollow true"}, oe.actions("gh/acme/web"))
	assert.Equal(t, []string{"context.create true", "context.delete true"}, slices.DeleteFunc(oe.actions(ctxID),
		func(a string) bool { return a == "context.env_var.store true" }))

	// Gone: by slug, by id, and an organization that never was.
	for _, path := range []string{"/api/v2/organization/gh/acme", "/api/v2/organization/gh%2Facme", "/api/v2/organization/" + ids.Org("gh/acme"), "/api/v2/organization/local/nobody"} {
		rec = oe.do(http.MethodDelete, path, "")
		assert.Equal(t, http.StatusNotFound, rec.Code, "%s: %s", path, rec.Body.String())
	}
	// An organization with projects but no record is deleted too.
	rec = oe.do(http.MethodDelete, "/api/v2/organization/local/acme", "")
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	_, err = oe.st.GetProject(ctx, "local/acme/api")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
