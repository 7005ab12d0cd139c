package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/notify"
	"github.com/orbit-ci/orbit/shared/store"
)

// post sends a form as the browser's session, with the session's CSRF
// token unless csrf is false.
func (b *browser) post(target string, form url.Values, csrf bool) *httptest.ResponseRecorder {
	b.t.Helper()
	if csrf {
		form.Set("csrf_token", b.cookies[api.CSRFCookie])
	}
	return b.do(http.MethodPost, target, form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
}

// follow is the page a form's 303 leads to, with its notice.
func (b *browser) follow(rec *httptest.ResponseRecorder) string {
	b.t.Helper()
	require.Equal(b.t, http.StatusSeeOther, rec.Code, rec.Body.String())
	page := b.do(http.MethodGet, rec.Header().Get("Location"), "")
	require.Equal(b.t, http.StatusOK, page.Code, page.Body.String())
	return page.Body.String()
}

// auditedVaultEnv is vaultEnv with an audit log.
func auditedVaultEnv(t *testing.T) (*env, *audit.Recorder) {
	t.Helper()
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "audit.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	blobs, err := dirblob.New(dirblob.Config{Root: t.TempDir(), BaseURL: "http://127.0.0.1/blob", Secret: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	rec, err := audit.New(audit.Config{KV: db, Blobs: blobs, ActorFrom: func(ctx context.Context) (audit.Entity, bool) {
		u, ok := accounts.FromContext(ctx)
		if !ok {
			return audit.Entity{}, false
		}
		return audit.Entity{ID: u.ID, Type: "user", Name: u.Login}, true
	}})
	require.NoError(t, err)
	return vaultEnv(t, func(c *api.Config) { c.Audit = rec }), rec
}

func actions(t *testing.T, rec *audit.Recorder) []string {
	t.Helper()
	evs, err := rec.Events(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	require.NoError(t, err)
	var out []string
	for _, ev := range evs {
		if ev.Action == audit.UserLoggedIn {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %v", ev.Action, ev.Actor.Name, ev.Success))
	}
	return out
}

func TestUISettingsVariableForm(t *testing.T) {
	e, log := auditedVaultEnv(t)
	b := signInLink(t, e, e.admin)
	const page = "/ui/project/local/acme/api/settings"

	body := b.do(http.MethodGet, page, "").Body.String()
	assert.Contains(t, body, `action="/ui/project/local/acme/api/settings/envvar"`)
	assert.Contains(t, body, `name="csrf_token" value="`+b.cookies[api.CSRFCookie]+`"`)

	// Without the session's CSRF token the form is refused and nothing is stored.
	refused := b.post(page+"/envvar", url.Values{"name": {"TOKEN"}, "value": {secretValue}}, false)
	assert.Equal(t, http.StatusForbidden, refused.Code)
	assert.Contains(t, refused.Body.String(), "CSRF")
	vars, err := e.st.ListVars(context.Background(), store.ProjectScope("local/acme/api"))
	require.NoError(t, err)
	assert.Empty(t, vars)

	got := b.follow(b.post(page+"/envvar", url.Values{"name": {"TOKEN"}, "value": {secretValue}}, true))
	assert.Contains(t, got, `<div class="notice" role="status">Variable TOKEN saved.</div>`)
	assert.Contains(t, got, `<code class="masked">xxxx7q9z</code>`)
	assert.NotContains(t, got, secretValue, "the value is never in the page")
	assert.NotContains(t, got, secretValue[:len(secretValue)-4])

	// A bad name comes back as the page's notice, saying what is wrong.
	bad := b.follow(b.post(page+"/envvar", url.Values{"name": {"1BAD"}, "value": {"x"}}, true))
	assert.Contains(t, bad, "Not saved: environment variable name &#34;1BAD&#34;")

	del := b.follow(b.post(page+"/envvar/TOKEN/delete", url.Values{}, true))
	assert.Contains(t, del, "Variable TOKEN deleted.")
	assert.NotContains(t, del, "xxxx7q9z")

	// The same audit events as the API's, by the signed-in user.
	assert.Equal(t, []string{"project.env_var.create admin true",
		"project.env_var.create admin false", "project.env_var.delete admin true"}, actions(t, log))
}

func TestUISettingsNeedAdmin(t *testing.T) {
	e := vaultEnv(t)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/api/v2/project/local/acme/api/envvar", `{"name":"TOKEN","value":"`+secretValue+`"}`).Code)
	const page = "/ui/project/local/acme/api/settings"
	for _, role := range []string{"read", "write"} {
		u := localUser(t, e, "user-"+role, role)
		b := signInLink(t, e, u)
		rec := b.do(http.MethodGet, page, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Contains(t, rec.Body.String(), "xxxx7q9z")
		assert.NotContains(t, rec.Body.String(), secretValue)
		assert.NotContains(t, rec.Body.String(), "<form method=\"post\" action=\"/ui/project/local/acme/api/settings/envvar\"", "no form for a non-admin")
		for _, path := range []string{"/envvar", "/envvar/TOKEN/delete", "/checkout-key", "/schedule"} {
			rec := b.post(page+path, url.Values{"name": {"X"}, "value": {"y"}, "hours": {"1"}}, true)
			assert.Equal(t, http.StatusForbidden, rec.Code, "%s %s", role, path)
			assert.Contains(t, rec.Body.String(), "needs admin access", "%s %s", role, path)
		}
	}
	vars, err := e.st.ListVars(context.Background(), store.ProjectScope("local/acme/api"))
	require.NoError(t, err)
	assert.Len(t, vars, 1, "nothing changed")

	// Someone with no access to the project learns nothing about it.
	stranger := signInLink(t, e, localUser(t, e, "stranger", ""))
	assert.Equal(t, http.StatusNotFound, stranger.do(http.MethodGet, page, "").Code)
}

func TestUISettingsKeysAndSchedules(t *testing.T) {
	e := vaultEnv(t)
	b := signInLink(t, e, e.admin)
	const page = "/ui/project/local/acme/api/settings"
	got := b.follow(b.post(page+"/checkout-key", url.Values{"type": {"deploy-key"}}, true))
	assert.Contains(t, got, "Checkout key ")
	assert.Contains(t, got, "ssh-ed25519 ")
	assert.NotContains(t, got, "PRIVATE KEY")

	got = b.follow(b.post(page+"/schedule", url.Values{"name": {"nightly"}, "hours": {"3, 15"}, "per_hour": {"1"},
		"days": {"MON", "FRI"}, "branch": {"<script>alert(1)</script>"}}, true))
	assert.Contains(t, got, "Schedule nightly created.")
	assert.Contains(t, got, "1× an hour at hours 3, 15 on MON, FRI")
	assert.Contains(t, got, "branch <code>&lt;script&gt;alert(1)&lt;/script&gt;</code>", "a user's string is escaped")
	assert.NotContains(t, got, "<script>alert(1)")
	scheds, _, err := e.st.ListPipelineSchedules(context.Background(), "local/acme/api", "", 10)
	require.NoError(t, err)
	require.Len(t, scheds, 1)
	assert.Equal(t, e.admin.ID, scheds[0].ActorID)

	bad := b.follow(b.post(page+"/schedule", url.Values{"name": {"x"}, "hours": {"nine"}}, true))
	assert.Contains(t, bad, "Not saved: hours: &#34;nine&#34; is not a number")

	// A schedule of another project cannot be deleted through this one's page.
	_, err = e.st.CreateProject(context.Background(), store.Project{Slug: "local/acme/web", Name: "web", VCS: "local"})
	require.NoError(t, err)
	rec := b.post("/ui/project/local/acme/web/settings/schedule/"+scheds[0].ID+"/delete", url.Values{}, true)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	got = b.follow(b.post(page+"/schedule/"+scheds[0].ID+"/delete", url.Values{}, true))
	assert.Contains(t, got, "Schedule nightly deleted.")
}

func TestUIContexts(t *testing.T) {
	e, log := auditedVaultEnv(t)
	b := signInLink(t, e, e.admin)
	list := b.do(http.MethodGet, "/ui/contexts", "").Body.String()
	assert.Contains(t, list, `<option value="local/acme">local/acme</option>`)

	assert.Equal(t, http.StatusForbidden, b.post("/ui/contexts", url.Values{"owner": {"local/acme"}, "name": {"prod"}}, false).Code)
	rec := b.post("/ui/contexts", url.Values{"owner": {"local/acme"}, "name": {"prod"}}, true)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	ctxURL := rec.Header().Get("Location")
	require.True(t, strings.HasPrefix(ctxURL, "/ui/contexts/"), ctxURL)
	got := b.follow(rec)
	assert.Contains(t, got, "<h1>Context prod</h1>")

	got = b.follow(b.post(ctxURL+"/envvar", url.Values{"name": {"DEPLOY_KEY"}, "value": {secretValue}}, true))
	assert.Contains(t, got, "Variable DEPLOY_KEY saved.")
	assert.Contains(t, got, `<code class="masked">xxxx7q9z</code>`)
	assert.NotContains(t, got, secretValue)

	id := strings.TrimPrefix(ctxURL, "/ui/contexts/")
	got = b.follow(b.post(ctxURL+"/restrictions", url.Values{"project": {ids.Project("local/acme/api")}}, true))
	assert.Contains(t, got, "<td>local/acme/api</td>")
	c, err := e.st.GetContext(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, c.Restrictions, 1)

	dup := b.follow(b.post("/ui/contexts", url.Values{"owner": {"local/acme"}, "name": {"prod"}}, true))
	assert.Contains(t, dup, "Not saved: ")

	// A reader sees the context, masked, and cannot change it.
	reader := signInLink(t, e, localUser(t, e, "rita", "read"))
	page := reader.do(http.MethodGet, ctxURL, "")
	require.Equal(t, http.StatusOK, page.Code)
	assert.Contains(t, page.Body.String(), "xxxx7q9z")
	assert.NotContains(t, page.Body.String(), "Delete context")
	assert.Equal(t, http.StatusForbidden, reader.post(ctxURL+"/delete", url.Values{}, true).Code)
	assert.Equal(t, http.StatusForbidden, reader.post("/ui/contexts", url.Values{"owner": {"local/acme"}, "name": {"mine"}}, true).Code)

	got = b.follow(b.post(ctxURL+"/delete", url.Values{}, true))
	assert.Contains(t, got, "Context prod deleted.")
	assert.Equal(t, []string{"context.create admin true",
		"context.env_var.store admin true", "context.create admin false", "context.create rita false", "context.delete admin true"}, actions(t, log))
}

func TestUIAccountTokens(t *testing.T) {
	e := newEnv(t)
	bob := localUser(t, e, "bob", "read")
	b := signInLink(t, e, bob)
	assert.Equal(t, http.StatusForbidden, b.post("/ui/account/token", url.Values{"label": {"laptop"}}, false).Code)

	rec := b.post("/ui/account/token", url.Values{"label": {"<b>laptop</b>"}}, true)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	m := regexp.MustCompile(`id="acc-new-token" class="token" readonly value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	require.NotNil(t, m, rec.Body.String())
	token := m[1]
	assert.Contains(t, rec.Body.String(), "&lt;b&gt;laptop&lt;/b&gt;")

	// The token works, and is never shown again.
	me := e.do(http.MethodGet, "/api/v2/me", "", "Circle-Token", token)
	require.Equal(t, http.StatusOK, me.Code)
	assert.Equal(t, "bob", decodeBody[obj](t, me)["login"])
	again := b.do(http.MethodGet, "/ui/account", "").Body.String()
	assert.Contains(t, again, "&lt;b&gt;laptop&lt;/b&gt;")
	assert.NotContains(t, again, token)

	ts, err := e.acc.Tokens(context.Background(), bob.ID)
	require.NoError(t, err)
	require.Len(t, ts, 1)
	got := b.follow(b.post("/ui/account/token/"+ts[0].ID+"/revoke", url.Values{}, true))
	assert.Contains(t, got, "Token revoked")
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v2/me", "", "Circle-Token", token).Code)

	// Another user's token cannot be revoked from bob's page.
	_, other, err := e.acc.CreateToken(context.Background(), e.admin.ID, "admin's")
	require.NoError(t, err)
	assert.NotEqual(t, http.StatusSeeOther, b.post("/ui/account/token/"+other.ID+"/revoke", url.Values{}, true).Code)
	still, err := e.acc.Tokens(context.Background(), e.admin.ID)
	require.NoError(t, err)
	assert.Len(t, still, 2)
}

func TestUIAccountSSHKeys(t *testing.T) {
	e := newEnv(t)
	b := signInLink(t, e, localUser(t, e, "bob", "read"))
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk5BbqbNnJ0dA4bd0TBCBoOHUozdmvAqZ8+/HNpE8Ai bob@laptop"
	got := b.follow(b.post("/ui/account/ssh-key", url.Values{"key": {key}}, true))
	assert.Contains(t, got, "SSH key added.")
	assert.Contains(t, got, "AAAAC3NzaC1lZDI1NTE5AAAAIGk5BbqbNnJ0dA4bd0TBCBoOHUozdmvAqZ8&#43;/HNpE8Ai bob@laptop")
	bad := b.follow(b.post("/ui/account/ssh-key", url.Values{"key": {"not a key"}}, true))
	assert.Contains(t, bad, "Not saved: keys[1]: not an SSH public key")
	got = b.follow(b.post("/ui/account/ssh-key/delete", url.Values{"index": {"0"}}, true))
	assert.Contains(t, got, "SSH key removed.")
	assert.NotContains(t, got, "bob@laptop")
}

func TestUILoginPage(t *testing.T) {
	e := newEnv(t, func(c *api.Config) {
		c.SignIn.Password = refusingLDAP{}
	})
	require.NoError(t, e.acc.SetSettings(context.Background(), accounts.Settings{LoginBanner: "Maintenance <Friday> 18:00"}))
	rec := e.do(http.MethodGet, "/login", "", anonymous...)
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	assert.Contains(t, body, "<p>Maintenance &lt;Friday&gt; 18:00</p>")
	assert.Contains(t, body, `action="/login/password"`)
	assert.Contains(t, body, `<label for="username">Username</label>`)
	assert.Contains(t, body, "orbit admin signin-link")
	assert.NotContains(t, body, "/auth/github")
}

func TestUILoginNamesGitHubEnterprise(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"", "Sign in with GitHub</a>"},
		{"https://github.com", "Sign in with GitHub</a>"},
		{"https://ghe.example.com", "Sign in with GitHub Enterprise (ghe.example.com)</a>"},
	} {
		e := newEnv(t, func(c *api.Config) {
			c.SignIn.GitHub, c.SignIn.GitHubURL = oauthStub{}, tc.url
			c.SignIn.SealToken = func(context.Context, string, []byte) ([]byte, error) { return nil, nil }
		})
		body := e.do(http.MethodGet, "/login?next=/ui/account", "", anonymous...).Body.String()
		assert.Contains(t, body, tc.want, tc.url)
		assert.Contains(t, body, `href="/auth/github?next=%2fui%2faccount"`, tc.url)
	}
}

// oauthStub is a GitHub sign-in the login page only names.
type oauthStub struct{}

func (oauthStub) AuthorizeURL(state string) string {
	return "https://github.invalid/authorize?state=" + state
}
func (oauthStub) Exchange(context.Context, string) (string, error) {
	return "", errors.New("the stub exchanges nothing")
}
func (oauthStub) SignIn(context.Context, string) (accounts.Identity, error) {
	return accounts.Identity{}, errors.New("the stub signs no one in")
}

// notifySettings records what the notification forms set.
type notifySettings struct {
	users    map[string]notify.UserSetting
	projects map[string]notify.ProjectSetting
}

func (n *notifySettings) SetUser(_ context.Context, login string, s notify.UserSetting) error {
	n.users[login] = s
	return nil
}

func (n *notifySettings) SetProject(_ context.Context, slug string, s notify.ProjectSetting) error {
	n.projects[slug] = s
	return nil
}

func TestUINotificationForms(t *testing.T) {
	n := &notifySettings{users: map[string]notify.UserSetting{}, projects: map[string]notify.ProjectSetting{}}
	e := vaultEnv(t, func(c *api.Config) { c.Notifications = n })
	b := signInLink(t, e, e.admin)
	got := b.follow(b.post("/ui/project/local/acme/api/settings/notifications", url.Values{"enabled": {"false"}}, true))
	assert.Contains(t, got, "Workflow emails turned off for this project.")
	assert.Equal(t, notify.ProjectSetting{Enabled: false}, n.projects["local/acme/api"])
	b.follow(b.post("/ui/project/local/acme/api/settings/notifications", url.Values{"enabled": {"true"}}, true))
	assert.Equal(t, notify.ProjectSetting{Enabled: true}, n.projects["local/acme/api"])

	reader := signInLink(t, e, localUser(t, e, "rita", "read"))
	assert.Equal(t, http.StatusForbidden, reader.post("/ui/project/local/acme/api/settings/notifications", url.Values{"enabled": {"false"}}, true).Code)
	got = reader.follow(reader.post("/ui/account/notifications", url.Values{"email": {"rita@example.com"}, "enabled": {"1"}}, true))
	assert.Contains(t, got, "Workflow emails go to rita@example.com.")
	assert.Equal(t, notify.UserSetting{Email: "rita@example.com", Enabled: true}, n.users["rita"])
	assert.Equal(t, http.StatusForbidden, reader.post("/ui/account/notifications", url.Values{"email": {"x@example.com"}}, false).Code)
	assert.Equal(t, true, n.projects["local/acme/api"].Enabled, "the reader changed nothing")
}
