package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/notify"
	"github.com/orbit-ci/orbit/shared/store"
)

// fullEnv registers every optional part (withEverything), the routes with
// their own authentication, the LDAP form and every integration, so that
// every route exists.
func fullEnv(t *testing.T) (*env, seeded, fixtures) {
	t.Helper()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	e := newEnv(t, withEverything(t), func(c *api.Config) {
		c.Metrics, c.Bridge = ok, ok
		// Routes with their own authentication: stand-ins that refuse.
		refuse := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusUnauthorized) })
		c.Runner, c.Blobs, c.GitHubWebhooks = refuse, refuse, refuse
	})
	sd := seed(t, e.st)
	ctxRec, err := e.st.CreateContext(context.Background(), store.Context{ID: "ctx-1", Owner: "local/acme", Name: "deploy"})
	require.NoError(t, err)
	sch, err := e.st.CreatePipelineSchedule(context.Background(), store.PipelineSchedule{ProjectSlug: sd.project.Slug, Name: "nightly"})
	require.NoError(t, err)
	return e, sd, fixtures{context: ctxRec, schedule: sch.ID}
}

// fixtures are fullEnv's seeded records beyond seed's.
type fixtures struct {
	context  store.Context
	schedule string
}

// refusingLDAP knows nobody; its test action always passes.
type refusingLDAP struct{}

func (refusingLDAP) Authenticate(context.Context, string, string) (accounts.Identity, error) {
	return accounts.Identity{}, accounts.ErrUnauthenticated
}
func (refusingLDAP) Test(context.Context) error { return nil }

type noNotify struct{}

func (noNotify) SetUser(context.Context, string, notify.UserSetting) error       { return nil }
func (noNotify) SetProject(context.Context, string, notify.ProjectSetting) error { return nil }

// caller is one kind of caller of the route × caller table.
type caller struct {
	name  string
	token string // "" sends no credential
}

// callers makes the table's callers: no credentials, a user of another
// organization (no role in the local organization that owns the project),
// a read-only member, a suspended user, a revoked token.
func callers(t *testing.T, e *env) []caller {
	t.Helper()
	ctx := context.Background()
	user := func(login, role string) *accounts.User {
		u, err := e.acc.SignIn(ctx, accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: login, Login: login, LocalRole: role})
		require.NoError(t, err)
		return u
	}
	tok := func(u *accounts.User) string {
		s, _, err := e.acc.CreateToken(ctx, u.ID, "table")
		require.NoError(t, err)
		return s
	}
	outsider, reader, suspended, revoked := user("mallory", ""), user("rita", "read"), user("sam", "write"), user("rob", "write")
	suspendedTok := tok(suspended)
	_, err := e.acc.SetSuspended(ctx, suspended.ID, true)
	require.NoError(t, err)
	revokedTok, rt, err := e.acc.CreateToken(ctx, revoked.ID, "revoked")
	require.NoError(t, err)
	require.NoError(t, e.acc.RevokeToken(ctx, revoked.ID, rt.ID))
	return []caller{
		{name: "no credentials"},
		{name: "another organization's user", token: tok(outsider)},
		{name: "read-only member", token: tok(reader)},
		{name: "suspended user", token: suspendedTok},
		{name: "revoked token", token: revokedTok},
	}
}

var pathParam = regexp.MustCompile(`\{([A-Za-z_-]+)(\.\.\.)?\}`)

// concreteRoute fills a route pattern's parameters with the seeded records.
func concreteRoute(t *testing.T, rt api.Route, sd seeded, fx fixtures) (method, path string) {
	method, path, ok := strings.Cut(rt.Pattern, " ")
	if !ok { // a pattern without a method serves every method
		path, method = rt.Pattern, http.MethodGet
	}
	exact := strings.HasSuffix(path, "{$}")
	path = strings.TrimSuffix(path, "{$}")
	path = pathParam.ReplaceAllStringFunc(path, func(m string) string {
		switch name := pathParam.FindStringSubmatch(m)[1]; name {
		case "vcs":
			return "local"
		case "org":
			return "acme"
		case "repo":
			return "api"
		case "id":
			switch rt.Access.Of {
			case api.ByWorkflow:
				return sd.workflow.ID
			case api.ByContext:
				return fx.context.ID
			case api.BySchedule:
				return fx.schedule
			}
			return sd.pipeline.ID
		case "org_id", "orgID", "ownerID":
			return ids.Org("local/acme")
		case "project_id", "projectID":
			return ids.Project(sd.project.Slug)
		case "job_id", "approval_request_id":
			return sd.build.ID
		case "number":
			return fmt.Sprint(sd.build.Number)
		case "login":
			return "admin"
		case "node":
			return "0"
		case "resource":
			return "artifacts"
		default:
			return "x"
		}
	})
	if strings.HasSuffix(path, "/") && !exact {
		path += "x"
	}
	return method, path
}

// TestEveryRouteRefusesTheWrongCallers calls every registered route as
// every kind of caller the route must turn away: no 2xx ever, 401 without
// valid credentials (pages redirect to the sign-in page), 404 for what
// the caller may not see, 403 for what they may see but not do. A route
// registered without a rule cannot exist (route panics), so a new route is
// in this table the moment it is added.
func TestEveryRouteRefusesTheWrongCallers(t *testing.T) {
	e, sd, fx := fullEnv(t)
	cs := callers(t, e)
	routes := e.h.Routes()
	require.Greater(t, len(routes), 50, "the table covers every route")
	counted := map[api.Who]int{}
	for _, rt := range routes {
		counted[rt.Access.Who]++
		if rt.Access.Who == api.Public {
			continue
		}
		method, path := concreteRoute(t, rt, sd, fx)
		for _, c := range cs {
			t.Run(rt.Pattern+"/"+c.name, func(t *testing.T) {
				var body io.Reader
				if method != http.MethodGet && method != http.MethodDelete {
					body = strings.NewReader(`{}`)
				}
				req := httptest.NewRequest(method, path, body)
				req.Header.Set("Content-Type", "application/json")
				if c.token != "" {
					req.Header.Set("Circle-Token", c.token)
				}
				rec := httptest.NewRecorder()
				e.h.ServeHTTP(rec, req)
				got := rec.Code
				want := expected(rt, c.name, method)
				if want == allowed {
					return
				}
				assert.False(t, got >= 200 && got < 300 && !leakFree(rt, rec.Body.String(), sd),
					"%s %s as %s: %d %s", method, path, c.name, got, rec.Body.String())
				if want != 0 {
					assert.Equal(t, want, got, "%s %s as %s: %s", method, path, c.name, rec.Body.String())
				}
			})
		}
	}
	for _, who := range []api.Who{api.Own, api.SignedIn, api.Project, api.SiteAdmin} {
		assert.NotZero(t, counted[who], "routes of kind %s", who)
	}
}

// leakFree allows a 2xx only on a SignedIn route (the caller's own /me,
// filtered listings) whose answer names none of the seeded records.
func leakFree(rt api.Route, body string, sd seeded) bool {
	if rt.Access.Who != api.SignedIn {
		return false
	}
	for _, secret := range []string{sd.project.Slug, sd.pipeline.ID, sd.workflow.ID, sd.build.ID, "ctx-1"} {
		if strings.Contains(body, secret) {
			return false
		}
	}
	return true
}

// allowed marks a caller the route admits.
const allowed = -1

// expected is the status a caller must get from a route (0: any refusal,
// or for SignedIn routes any answer that leaks nothing).
func expected(rt api.Route, who, method string) int {
	page := !strings.Contains(rt.Pattern, "/api/")
	switch who {
	case "no credentials", "suspended user", "revoked token":
		if rt.Access.Who == api.Own {
			return 0 // refused by the route itself
		}
		if page && method == http.MethodGet {
			return http.StatusSeeOther
		}
		return http.StatusUnauthorized
	case "another organization's user":
		switch rt.Access.Who {
		case api.SiteAdmin:
			return http.StatusForbidden
		case api.Project:
			if rt.Access.Of == api.ByContext || rt.Access.Of == api.ByOrgID {
				return http.StatusForbidden // the organization exists; its contexts are not theirs
			}
			return http.StatusNotFound
		}
	case "read-only member":
		switch {
		case rt.Access.Who == api.SiteAdmin:
			return http.StatusForbidden
		case rt.Access.Who == api.Project && rt.Access.Level > accounts.Read:
			return http.StatusForbidden
		case rt.Access.Who == api.Project, rt.Access.Who == api.SignedIn:
			return allowed // a member may: other tests check what they see
		}
	}
	return 0
}

// TestRouteRulesFollowThePolicy checks the rules themselves against the
// issue's policy, so a route cannot be declared more open than its kind:
// reads need read, every other method on a project needs write, and
// settings, variables and keys need admin; admin routes need an instance
// admin; only the listed routes are public or authenticate on their own.
func TestRouteRulesFollowThePolicy(t *testing.T) {
	e, _, _ := fullEnv(t)
	publicOK := map[string]bool{
		"GET /health-check": true, "GET /status": true, "/api/": true, "GET /login": true,
		"GET /login/link": true, "POST /login/password": true, "GET /auth/github": true, "GET /auth/github/callback": true,
		"GET /api/v2/openapi.json": true,
		// the pages' stylesheet and script bundles (the sign-in page needs them)
		"GET /ui/static/": true,
		// OIDC discovery: cloud providers read it to verify jobs' tokens.
		"GET /.well-known/openid-configuration": true, "GET /.well-known/jwks.json": true,
	}
	ownOK := regexp.MustCompile(`^(/runner/v1/|/blob/|POST /webhooks/github|POST /webhooks/trigger/\{trigger_id\}|POST /api/v2/pipeline/continue)$`)
	adminPath := regexp.MustCompile(`/(envvar|checkout-key|ssh-key|settings|notifications|restrictions|environment-variable)\b|^DELETE /api/v2/context/`)
	for _, rt := range e.h.Routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		a := rt.Access
		switch {
		case a.Who == api.Public:
			assert.True(t, publicOK[rt.Pattern], "%s is public: add it to the policy only if anyone may call it", rt.Pattern)
		case a.Who == api.Own:
			assert.Regexp(t, ownOK, rt.Pattern, "%s authenticates on its own", rt.Pattern)
		case strings.Contains(path, "/api/v2/admin/"), strings.HasPrefix(path, "/ui/admin"):
			assert.Equal(t, api.SiteAdmin, a.Who, "%s is an admin route", rt.Pattern)
		case a.Who == api.Project && method != http.MethodGet && adminPath.MatchString(rt.Pattern):
			assert.Equal(t, accounts.Admin, a.Level, "%s changes settings, variables or keys", rt.Pattern)
		case a.Who == api.Project && method != http.MethodGet:
			assert.GreaterOrEqual(t, a.Level, accounts.Write, "%s changes a project", rt.Pattern)
		}
	}
}
