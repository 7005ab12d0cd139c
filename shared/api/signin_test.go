package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/orbit-ci/orbit/shared/vcs/githubtest"
)

// browser is a cookie-keeping client of the handler that does not follow
// redirects, so each step's answer is checked.
type browser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]string
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	return &browser{t: t, h: h, cookies: map[string]string{}}
}

func (b *browser) do(method, target, body string, headers ...string) *httptest.ResponseRecorder {
	b.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for name, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return rec
}

// signInLink signs a user in through a one-time link.
func signInLink(t *testing.T, e *env, u *accounts.User) *browser {
	t.Helper()
	code, err := e.acc.SignInLink(context.Background(), u.ID, time.Hour)
	require.NoError(t, err)
	b := newBrowser(t, e.h)
	rec := b.do(http.MethodGet, "/login/link?code="+code, "")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	require.Equal(t, "/", rec.Header().Get("Location"))
	return b
}

func localUser(t *testing.T, e *env, login, role string) *accounts.User {
	t.Helper()
	u, err := e.acc.SignIn(context.Background(), accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: login, Login: login, LocalRole: role})
	require.NoError(t, err)
	return u
}

func TestSignInLinkSessionAndLogout(t *testing.T) {
	e := newEnv(t)
	bob := localUser(t, e, "bob", "read")
	code, err := e.acc.SignInLink(context.Background(), bob.ID, time.Hour)
	require.NoError(t, err)
	b := newBrowser(t, e.h)
	rec := b.do(http.MethodGet, "/login/link?code="+code, "")
	require.Equal(t, http.StatusSeeOther, rec.Code)
	set := rec.Header().Get("Set-Cookie")
	assert.Contains(t, set, api.SessionCookie+"=")
	assert.Contains(t, set, "HttpOnly")
	assert.Contains(t, set, "SameSite=Lax")

	rec = b.do(http.MethodGet, "/api/v2/me", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "bob", decodeBody[obj](t, rec)["login"])

	// The seed's user statistics count it, with the address.
	for _, period := range []string{"", "?period=last-month"} {
		list := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/admin/users"+period, ""))
		var found obj
		for _, u := range list["items"].([]any) {
			if u.(obj)["login"] == "bob" {
				found = u.(obj)
			}
		}
		require.NotNil(t, found, "bob signed in this month")
		assert.EqualValues(t, 2, found["sign_in_count"], "created by a sign-in, then the link")
		assert.Equal(t, "192.0.2.1", found["current_sign_in_ip"])
		assert.Equal(t, true, found["activated"])
	}

	// The link works once.
	again := newBrowser(t, e.h).do(http.MethodGet, "/login/link?code="+code, "")
	require.Equal(t, http.StatusSeeOther, again.Code)
	assert.True(t, strings.HasPrefix(again.Header().Get("Location"), "/login?error="), again.Header().Get("Location"))

	// Logout is a state change: without the session's CSRF token it is refused.
	rec = b.do(http.MethodPost, "/logout", "")
	require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	csrf := b.cookies[api.CSRFCookie]
	require.NotEmpty(t, csrf, "the pages' scripts read the CSRF token from its cookie")
	assert.Equal(t, e.acc.CSRFToken(b.cookies[api.SessionCookie]), csrf)
	old := b.cookies[api.SessionCookie]
	rec = b.do(http.MethodPost, "/logout", "csrf_token="+url.QueryEscape(csrf), "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	assert.Empty(t, b.cookies[api.SessionCookie], "the cookie is cleared")

	// The old cookie no longer works: the session record is gone.
	b.cookies[api.SessionCookie] = old
	assert.Equal(t, http.StatusUnauthorized, b.do(http.MethodGet, "/api/v2/me", "").Code)
}

func TestSuspendedUserIsLockedOutAtOnce(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)
	bob := localUser(t, e, "bob", "write")
	b := signInLink(t, e, bob)
	tok, _, err := e.acc.CreateToken(context.Background(), bob.ID, "script")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/api/v2/project/local/acme/api", "").Code)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v2/project/local/acme/api", "", "Circle-Token", tok).Code)

	rec := e.do(http.MethodPost, "/api/v2/admin/users/bob/suspend", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, true, decodeBody[obj](t, rec)["suspended"])

	assert.Equal(t, http.StatusUnauthorized, b.do(http.MethodGet, "/api/v2/project/local/acme/api", "").Code, "the session stops")
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v2/project/local/acme/api", "", "Circle-Token", tok).Code, "the token stops")
	page := b.do(http.MethodGet, "/", "")
	assert.Equal(t, http.StatusSeeOther, page.Code, "pages send them to the sign-in page")

	require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/api/v2/admin/users/bob/activate", "").Code)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v2/project/local/acme/api", "", "Circle-Token", tok).Code, "reactivated")
}

// TestCrossSiteRequestsAreRefused: what a web page in the user's browser
// can send to Orbit without asking (a form, or fetch with text/plain)
// changes nothing.
func TestCrossSiteRequestsAreRefused(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)
	b := signInLink(t, e, localUser(t, e, "bob", "write"))
	const trigger = "/api/v2/project/local/acme/api/pipeline"
	before := len(e.trigger.calls())

	// A form post carries the cookie but not the CSRF token.
	rec := b.do(http.MethodPost, trigger, "branch=main", "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	// fetch() with text/plain, no preflight: refused the same way.
	rec = b.do(http.MethodPost, trigger, `{"branch":"main"}`, "Content-Type", "text/plain")
	assert.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	// Even with a token, a JSON route takes only JSON.
	rec = e.do(http.MethodPost, trigger, `{"branch":"main"}`, "Content-Type", "text/plain")
	assert.Equal(t, http.StatusUnsupportedMediaType, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "application/json")
	assert.Len(t, e.trigger.calls(), before, "nothing was triggered")

	// The page's own script sends the token in X-CSRF-Token and JSON: accepted.
	csrf := e.acc.CSRFToken(b.cookies[api.SessionCookie])
	rec = b.do(http.MethodPost, trigger, `{"branch":"main"}`, "Content-Type", "application/json", api.CSRFHeader, csrf)
	assert.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
}

func TestPagesSendStrangersToTheSignInPage(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodGet, "/", "", anonymous...)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/login?next=%2F", rec.Header().Get("Location"))

	require.Equal(t, http.StatusOK, e.do(http.MethodPut, "/api/v2/admin/settings", `{"login_banner":"Authorised use only <b>"}`).Code)
	rec = e.do(http.MethodGet, "/login", "", anonymous...)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "Authorised use only &lt;b&gt;", "the banner, escaped")
}

func TestSignInAttemptsAreRateLimited(t *testing.T) {
	e := newEnv(t)
	var last *httptest.ResponseRecorder
	for range 11 {
		last = newBrowser(t, e.h).do(http.MethodGet, "/login/link?code=bogus", "")
		require.Equal(t, http.StatusSeeOther, last.Code)
	}
	loc, err := url.Parse(last.Header().Get("Location"))
	require.NoError(t, err)
	assert.Contains(t, loc.Query().Get("error"), "too many sign-in attempts")
}

func TestGitHubSignIn(t *testing.T) {
	fake := githubtest.New()
	t.Cleanup(fake.Close)
	fake.AddUser("gho_alice", githubtest.User{ID: 42, Login: "alice", Name: "Alice", Email: "alice@example.com", Orgs: []string{"acme"}})
	fake.AddUser("gho_eve", githubtest.User{ID: 43, Login: "eve", Orgs: []string{"elsewhere"}})
	d, err := github.New(github.Config{BaseURL: fake.URL, ClientID: fake.ClientID, ClientSecret: fake.ClientSecret,
		RedirectURL: "http://orbit.test/auth/github/callback"})
	require.NoError(t, err)
	var sealedFor []string
	e := newEnv(t, func(c *api.Config) {
		c.SignIn.GitHub = d
		c.SignIn.SealToken = func(_ context.Context, userID string, tok []byte) ([]byte, error) {
			sealedFor = append(sealedFor, userID)
			return append([]byte("sealed:"), tok...), nil
		}
	})
	require.Equal(t, http.StatusOK, e.do(http.MethodPut, "/api/v2/admin/settings", `{"required_orgs":["acme"]}`).Code)

	signIn := func(login string) (*browser, *url.URL) {
		b := newBrowser(t, e.h)
		rec := githubDance(t, b, fake, "/auth/github?next=/ui/pipeline/x", login)
		require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
		next, err := url.Parse(rec.Header().Get("Location"))
		require.NoError(t, err)
		return b, next
	}

	b, next := signIn("alice")
	assert.Equal(t, "/ui/pipeline/x", next.String(), "back where the user was going")
	rec := b.do(http.MethodGet, "/api/v2/me", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "alice", decodeBody[obj](t, rec)["login"])
	alice, err := e.acc.ByLogin(context.Background(), "alice")
	require.NoError(t, err)
	assert.Equal(t, accounts.ProviderGitHub, alice.Provider)
	assert.Equal(t, "alice", alice.GitHubLogin)
	assert.Equal(t, "sealed:gho_alice", string(alice.GitHubToken), "the token is kept sealed")
	assert.Equal(t, []string{alice.ID}, sealedFor)

	_, next = signIn("eve")
	assert.Equal(t, "/login", next.Path)
	assert.Contains(t, next.Query().Get("error"), "not a member", "the Required Org Membership List applies")

	// A callback whose state is not the browser's own is refused.
	rec = newBrowser(t, e.h).do(http.MethodGet, "/auth/github/callback?code=code-alice&state=forged", "")
	require.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Contains(t, rec.Header().Get("Location"), "error=")
	assert.NotContains(t, rec.Header().Get("Set-Cookie"), api.SessionCookie)
}

func TestAdminDeletesAUser(t *testing.T) {
	e := newEnv(t)
	bob := localUser(t, e, "bob", "read")
	tok, _, err := e.acc.CreateToken(context.Background(), bob.ID, "x")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, e.do(http.MethodDelete, "/api/v2/admin/users/admin", "", "Circle-Token", tok).Code, "not an admin")
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodDelete, "/api/v2/admin/users/admin", "").Code, "not yourself")
	rec := e.do(http.MethodDelete, "/api/v2/admin/users/bob", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v2/me", "", "Circle-Token", tok).Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/api/v2/admin/users/bob", "").Code)
}

// TestAccountSSHKeys: a user's SSH keys live in their account, and a
// rerun with SSH admits them.
func TestAccountSSHKeys(t *testing.T) {
	fc := &fakeControls{}
	e := newEnv(t, func(c *api.Config) { c.Controls = fc })
	sd := seed(t, e.st)
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGt8UzF8yJ0oQzd1rC3cM6wJ8QyBvG5E6m0ZkJc2QqjD dev@laptop"
	rec := e.do(http.MethodPut, "/api/v2/me/ssh-keys", `{"keys":["not a key"]}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "keys[0]")
	rec = e.do(http.MethodPut, "/api/v2/me/ssh-keys", `{"keys":["`+key+`"]}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, []any{key}, decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/me/ssh-keys", ""))["keys"])
	rec = e.do(http.MethodPost, "/api/v2/workflow/"+sd.workflow.ID+"/rerun", `{"enable_ssh": true, "jobs": ["build"]}`)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	assert.Equal(t, []string{key}, fc.rerun.SSHKeys)
}

// githubDance takes browser b through GitHub's OAuth flow on the fake,
// signing in login, and returns Orbit's answer to the callback.
func githubDance(t *testing.T, b *browser, fake *githubtest.Server, start, login string) *httptest.ResponseRecorder {
	t.Helper()
	rec := b.do(http.MethodGet, start, "")
	require.Equal(t, http.StatusFound, rec.Code)
	authorize, err := url.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(authorize.String(), fake.URL+"/login/oauth/authorize"), authorize.String())
	q := authorize.Query()
	q.Set("login", login) // the fake signs in whom the test names
	authorize.RawQuery = q.Encode()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(authorize.String())
	require.NoError(t, err)
	resp.Body.Close()
	callback, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return b.do(http.MethodGet, callback.RequestURI(), "")
}
