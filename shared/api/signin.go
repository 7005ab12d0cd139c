package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
)

// Sign-in routes (browser pages; Public, since they make the caller
// known):
//
//	GET  /login                   the sign-in page: the login banner, GitHub, the LDAP form
//	GET  /login/link?code=C       a one-time sign-in link (`orbit up` prints one) → session
//	POST /login/password          {username, password} (form) through SignIn.Password (LDAP) → session
//	GET  /auth/github             → GitHub's authorize page, with a state bound to a cookie
//	GET  /auth/github/callback    ?code&state → session (the user is created at first sign-in); a
//	                              user already signed in (LDAP) connects GitHub to their account
//	POST /logout                  ends the session (CSRF-checked)
//
// Sign-in attempts are rate-limited per client address (SignIn.Attempts
// a minute); a refused sign-in says only "wrong username or password",
// never which one. Every sign-in and logout is audited (user.logged_in,
// user.logged_out; user.create for a new account).

// GitHubOAuth is GitHub's OAuth app flow; compose adapts the GitHub
// driver to it.
type GitHubOAuth interface {
	// AuthorizeURL is GitHub's authorize page for state.
	AuthorizeURL(state string) string
	// Exchange trades the callback's code for the user's token.
	Exchange(ctx context.Context, code string) (token string, err error)
	// SignIn is who the token belongs to, with their organizations.
	SignIn(ctx context.Context, token string) (accounts.Identity, error)
}

// PasswordAuth checks a username and password (the LDAP driver).
type PasswordAuth interface {
	Authenticate(ctx context.Context, username, password string) (accounts.Identity, error)
}

// SignIn configures the ways to sign in.
type SignIn struct {
	// GitHub signs users in with GitHub or GitHub Enterprise; nil leaves it
	// out.
	GitHub GitHubOAuth
	// GitHubURL is GitHub's web URL: a host other than github.com is
	// GitHub Enterprise, and the sign-in page names it so (with the
	// host). Empty is github.com.
	GitHubURL string
	// SealToken seals a user's GitHub token for their record; required with
	// GitHub.
	SealToken func(ctx context.Context, userID string, token []byte) ([]byte, error)
	// Password signs users in with a username and password (LDAP); nil
	// leaves the form out.
	Password PasswordAuth
	// Secure marks the cookies Secure (Orbit is served over HTTPS).
	Secure bool
	// Attempts is how many sign-in attempts a client address may make a
	// minute; 0 means 10.
	Attempts int
}

// gitHubName is how the pages name the GitHub users sign in with.
func (in SignIn) gitHubName() string {
	u, err := url.Parse(in.GitHubURL)
	if in.GitHubURL == "" || err != nil || u.Host == "" || u.Hostname() == "github.com" || u.Hostname() == "www.github.com" {
		return "GitHub"
	}
	return "GitHub Enterprise (" + u.Host + ")"
}

func (s *server) routeSignIn(mux *http.ServeMux) {
	if s.cfg.SignIn.Attempts <= 0 {
		s.cfg.SignIn.Attempts = 10
	}
	s.logins = newLimiter(s.cfg.SignIn.Attempts, time.Minute)
	s.route(mux, "GET /login", public, s.html(s.uiLogin))
	s.route(mux, "GET /login/link", public, http.HandlerFunc(s.signInLink))
	s.route(mux, "POST /logout", signedIn, http.HandlerFunc(s.logout))
	if s.cfg.SignIn.Password != nil {
		s.route(mux, "POST /login/password", public, http.HandlerFunc(s.signInPassword))
	}
	if s.cfg.SignIn.GitHub != nil {
		s.route(mux, "GET /auth/github", public, http.HandlerFunc(s.githubAuthorize))
		s.route(mux, "GET /auth/github/callback", public, http.HandlerFunc(s.githubCallback))
	}
}

type loginPage struct {
	uiBase
	Banner string
	// GitHub: the GitHub sign-in button, named GitHubName.
	GitHub     bool
	GitHubName string
	// Password: the LDAP form.
	Password bool
	// Local: no other way to sign in, so the page tells how the local
	// admin signs in (the link `orbit up` prints).
	Local bool
	Next  string
	Error string
}

func (s *server) uiLogin(r *http.Request) (string, uiPage, error) {
	set, err := s.cfg.Accounts.Settings(r.Context())
	if err != nil {
		return "", nil, err
	}
	in := s.cfg.SignIn
	return "login", &loginPage{uiBase: uiBase{Title: "Sign in"}, Banner: set.LoginBanner, GitHub: in.GitHub != nil,
		GitHubName: in.gitHubName(), Password: in.Password != nil, Local: in.GitHub == nil && in.Password == nil,
		Next: safeNext(r.URL.Query().Get("next")), Error: r.URL.Query().Get("error")}, nil
}

// safeNext keeps a post-sign-in redirect on this site: a path, never
// "//host" or a URL.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// startSession sets the session cookie for u and audits the sign-in.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, u *accounts.User, created bool) error {
	cookie, exp, err := s.cfg.Accounts.StartSession(r.Context(), u.ID)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: cookie, Path: "/", Expires: exp,
		HttpOnly: true, Secure: s.cfg.SignIn.Secure, SameSite: http.SameSiteLaxMode})
	// The CSRF token, readable by Orbit's own pages' scripts (another
	// site can neither read nor set it): they send it back in
	// X-CSRF-Token or a form's csrf_token field.
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: s.cfg.Accounts.CSRFToken(cookie), Path: "/", Expires: exp,
		Secure: s.cfg.SignIn.Secure, SameSite: http.SameSiteStrictMode})
	ctx := audit.WithRequest(accounts.WithUser(r.Context(), u), requestOf(r))
	if created {
		s.record(ctx, audit.UserCreate, u, nil)
	}
	s.record(ctx, audit.UserLoggedIn, u, map[string]any{"provider": u.Provider})
	return nil
}

// record audits an action on a user.
func (s *server) record(ctx context.Context, action string, u *accounts.User, payload map[string]any) {
	if s.cfg.Audit == nil {
		return
	}
	s.cfg.Audit.Must(ctx, audit.Event{Action: action, Target: audit.Entity{ID: u.ID, Type: "user", Name: u.Login},
		Payload: payload, Success: true})
}

// signInFailed answers a refused sign-in on the sign-in page.
func (s *server) signInFailed(w http.ResponseWriter, r *http.Request, err error) {
	msg := "wrong username or password"
	switch {
	case errors.Is(err, accounts.ErrSuspended):
		msg = suspendedMessage
	case errors.Is(err, accounts.ErrNotMember):
		msg = "you are not a member of an organization allowed to use this Orbit"
	case errors.Is(err, errRateLimited):
		msg = err.Error()
	case errors.Is(err, accounts.ErrUnauthenticated), errors.Is(err, errBadCredentials):
	default:
		s.log.ErrorContext(r.Context(), "sign-in failed", "request_id", RequestID(r.Context()), "error", err)
		msg = "sign-in failed; try again later"
	}
	http.Redirect(w, r, "/login?error="+urlQuery(msg), http.StatusSeeOther)
}

var errBadCredentials = errors.New("wrong username or password")

// suspendedMessage tells a suspended user why they are refused.
const suspendedMessage = "your account is suspended or waits for an administrator to activate it"

func (s *server) signInLink(w http.ResponseWriter, r *http.Request) {
	if err := s.logins.allow(clientIP(r)); err != nil {
		s.signInFailed(w, r, err)
		return
	}
	u, err := s.cfg.Accounts.UseSignInLink(r.Context(), r.URL.Query().Get("code"))
	if err == nil && u.Suspended {
		err = accounts.ErrSuspended
	}
	if err == nil {
		u, err = s.cfg.Accounts.RecordSignIn(r.Context(), u.ID, clientIP(r))
	}
	if err == nil {
		err = s.startSession(w, r, u, false)
	}
	if err != nil {
		s.signInFailed(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *server) signInPassword(w http.ResponseWriter, r *http.Request) {
	if err := s.logins.allow(clientIP(r)); err != nil {
		s.signInFailed(w, r, err)
		return
	}
	if !sameOrigin(r) {
		s.signInFailed(w, r, errBadCredentials)
		return
	}
	user, pass := r.PostFormValue("username"), r.PostFormValue("password")
	if user == "" || pass == "" {
		s.signInFailed(w, r, errBadCredentials)
		return
	}
	id, err := s.cfg.SignIn.Password.Authenticate(r.Context(), user, pass)
	if err != nil {
		s.log.InfoContext(r.Context(), "password sign-in refused", "request_id", RequestID(r.Context()), "username", user, "error", err)
		s.signInFailed(w, r, errBadCredentials)
		return
	}
	s.finishSignIn(w, r, id, nil, safeNext(r.PostFormValue("next")))
}

// finishSignIn creates or finds the identity's user and starts a session.
func (s *server) finishSignIn(w http.ResponseWriter, r *http.Request, id accounts.Identity, ghToken []byte, next string) {
	ctx := r.Context()
	id.IP = clientIP(r)
	_, lookErr := s.cfg.Accounts.SignInUser(ctx, id)
	u, err := s.cfg.Accounts.SignIn(ctx, id)
	if err == nil && ghToken != nil {
		var sealed []byte
		if sealed, err = s.cfg.SignIn.SealToken(ctx, u.ID, ghToken); err == nil {
			u, err = s.cfg.Accounts.SetGitHub(ctx, u.ID, id.Login, sealed)
		}
	}
	if err == nil {
		err = s.startSession(w, r, u, errors.Is(lookErr, accounts.ErrNotFound))
	}
	if err != nil {
		s.signInFailed(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := s.cfg.Accounts.EndSession(r.Context(), c.Value); err != nil {
			s.htmlError(w, r, err)
			return
		}
	}
	if u, ok := accounts.FromContext(r.Context()); ok {
		s.record(audit.WithRequest(r.Context(), requestOf(r)), audit.UserLoggedOut, u, nil)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.SignIn.Secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// The OAuth state is random, kept in a short-lived HttpOnly cookie, and
// must come back unchanged: another site cannot finish a sign-in into the
// user's browser (login CSRF).
const stateCookie = "orbit_oauth_state"

func (s *server) githubAuthorize(w http.ResponseWriter, r *http.Request) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		s.htmlError(w, r, err)
		return
	}
	state := base64.RawURLEncoding.EncodeToString(b)
	next := safeNext(r.URL.Query().Get("next"))
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state + "|" + base64.RawURLEncoding.EncodeToString([]byte(next)),
		Path: "/auth/github", MaxAge: 600, HttpOnly: true, Secure: s.cfg.SignIn.Secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, s.cfg.SignIn.GitHub.AuthorizeURL(state), http.StatusFound)
}

func (s *server) githubCallback(w http.ResponseWriter, r *http.Request) {
	if err := s.logins.allow(clientIP(r)); err != nil {
		s.signInFailed(w, r, err)
		return
	}
	c, err := r.Cookie(stateCookie)
	want, nextEnc, _ := strings.Cut(valueOr(c, err), "|")
	got := r.URL.Query().Get("state")
	if want == "" || !hmac.Equal([]byte(sha(want)), []byte(sha(got))) {
		http.Redirect(w, r, "/login?error="+urlQuery("the GitHub sign-in expired or came from elsewhere; try again"), http.StatusSeeOther)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: "/auth/github", MaxAge: -1})
	next := "/"
	if b, err := base64.RawURLEncoding.DecodeString(nextEnc); err == nil {
		next = safeNext(string(b))
	}
	ctx := r.Context()
	tok, err := s.cfg.SignIn.GitHub.Exchange(ctx, r.URL.Query().Get("code"))
	if err != nil {
		s.signInFailed(w, r, fmt.Errorf("GitHub OAuth exchange: %w", err))
		return
	}
	id, err := s.cfg.SignIn.GitHub.SignIn(ctx, tok)
	if err != nil {
		s.signInFailed(w, r, fmt.Errorf("GitHub identity: %w", err))
		return
	}
	// Signed in already (LDAP, the local admin): this connects GitHub to
	// that account, as the seed's LDAP users do, instead of making a user.
	if u, kind, err := s.caller(r); err == nil && kind == bySession && u.Provider != accounts.ProviderGitHub {
		sealed, err := s.cfg.SignIn.SealToken(ctx, u.ID, []byte(tok))
		if err == nil {
			_, err = s.cfg.Accounts.SetGitHub(ctx, u.ID, id.Login, sealed)
		}
		if err != nil {
			s.signInFailed(w, r, fmt.Errorf("connect GitHub to %s: %w", u.Login, err))
			return
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.finishSignIn(w, r, id, []byte(tok), next)
}

func valueOr(c *http.Cookie, err error) string {
	if err != nil {
		return ""
	}
	return c.Value
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return string(h[:])
}

// sameOrigin refuses a form posted from another site (login CSRF): the
// browser's Origin, when sent, must be this host.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser, or an old one: the limiter still applies
	}
	_, host, _ := strings.Cut(o, "://")
	return host == r.Host
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// clientIP is the caller's address, for rate limits and the audit log.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// errRateLimited: too many attempts (429).
var errRateLimited = errors.New("too many sign-in attempts; wait a minute and try again")

// limiter allows n events per window per key (a fixed window: simple, and
// enough to stop password guessing; each api Lambda instance keeps its
// own, so the AWS shape's limit is per instance, in front of API
// Gateway's own throttling).
type limiter struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	now    func() time.Time
	seen   map[string]*window
}

type window struct {
	start time.Time
	count int
}

func newLimiter(n int, per time.Duration) *limiter {
	return &limiter{n: n, window: per, now: time.Now, seen: map[string]*window{}}
}

func (l *limiter) allow(key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.seen) > 10000 { // forget old windows
		for k, w := range l.seen {
			if now.Sub(w.start) >= l.window {
				delete(l.seen, k)
			}
		}
	}
	w := l.seen[key]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &window{start: now}
		l.seen[key] = w
	}
	w.count++
	if w.count > l.n {
		return errRateLimited
	}
	return nil
}
