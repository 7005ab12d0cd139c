package api

import (
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
)

// Credentials, as CircleCI accepts them: a personal API token in the
// Circle-Token header, as the username of HTTP Basic authentication, in
// the circle-token query parameter, or in Authorization (raw, or after
// "Bearer "), which the official CLI's GraphQL calls use; or a browser
// session cookie. A token is checked before a cookie; a request carrying a
// bad credential is refused even if it carries a good one too.

// SessionCookie names the browser session cookie.
const SessionCookie = "orbit_session"

// CSRFHeader carries a session's CSRF token on a script's request; forms
// carry it in the csrf_token field.
const CSRFHeader = "X-CSRF-Token"

const csrfField = "csrf_token"

// CSRFCookie holds the session's CSRF token for Orbit's pages' scripts
// (not HttpOnly, SameSite=Strict); the server checks the token sent back
// against the session, never against this cookie.
const CSRFCookie = "orbit_csrf"

// credential kinds.
const (
	byNone = iota
	byToken
	bySession
)

type credKey struct{}

// token returns the request's API token, if any.
func token(r *http.Request) string {
	if t := r.Header.Get("Circle-Token"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, rest, _ := strings.Cut(a, " ")
		switch strings.ToLower(scheme) {
		case "basic":
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
			if err != nil {
				return "\x00bad" // a malformed credential: refused, never ignored
			}
			user, _, _ := strings.Cut(string(raw), ":")
			return user
		case "bearer":
			return strings.TrimSpace(rest)
		}
		return strings.TrimSpace(a)
	}
	return r.URL.Query().Get("circle-token")
}

// caller authenticates the request and says by which credential:
// accounts.ErrUnauthenticated without a valid one, accounts.ErrSuspended for
// a suspended user.
func (s *server) caller(r *http.Request) (*accounts.User, int, error) {
	ctx := r.Context()
	if t := token(r); t != "" {
		u, err := s.cfg.Accounts.Authenticate(ctx, t)
		return u, byToken, err
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		u, err := s.cfg.Accounts.Session(ctx, c.Value)
		return u, bySession, err
	}
	return nil, byNone, accounts.ErrUnauthenticated
}

// checkCSRF refuses a state-changing request authenticated by the session
// cookie (which a browser attaches to another site's requests too) unless
// it carries the session's CSRF token, in the X-CSRF-Token header or the
// form's csrf_token field. Token-authenticated requests need none: a
// browser never attaches a token on its own.
func (s *server) checkCSRF(r *http.Request) error {
	if credOf(r) != bySession || safeMethod(r.Method) {
		return nil
	}
	c, _ := r.Cookie(SessionCookie)
	tok := r.Header.Get(CSRFHeader)
	if tok == "" && isForm(r) {
		tok = r.PostFormValue(csrfField)
	}
	if !s.cfg.Accounts.CheckCSRF(c.Value, tok) {
		return &forbiddenError{"the request has no valid CSRF token (reload the page and try again)"}
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
}

// errMediaType: a JSON route got a body of another type (415).
var errMediaType = errors.New("unsupported media type")

type mediaTypeError struct{ got string }

func (e *mediaTypeError) Error() string {
	if e.got == "" {
		return "the request body needs Content-Type: application/json"
	}
	return "the request body is " + e.got + "; this route accepts only application/json"
}
func (e *mediaTypeError) Unwrap() error { return errMediaType }

// jsonOnly refuses a request to an API route whose body is not JSON: a
// browser sends text/plain and form bodies across sites without asking
// (no CORS preflight), application/json never.
func jsonOnly(r *http.Request) error {
	if safeMethod(r.Method) || r.ContentLength == 0 && r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" && r.Header.Get("Transfer-Encoding") == "" {
		return nil // an empty POST (cancel, approve) needs no type
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &mediaTypeError{got: mt}
	}
	return nil
}

// refuse answers a request that authorize or jsonOnly turned away: JSON
// for the API; for pages, a redirect to the sign-in page when the caller is
// not signed in, else an HTML error.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, page bool, err error) {
	if page && isUnauthenticated(err) && safeMethod(r.Method) {
		to := "/login?next=" + url.QueryEscape(r.URL.RequestURI())
		if errors.Is(err, accounts.ErrSuspended) { // say why the session stopped
			to += "&error=" + url.QueryEscape(suspendedMessage)
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	if page {
		s.htmlError(w, r, err)
		return
	}
	code, msg := s.classifyAndLog(r, err)
	writeJSON(w, code, message{Message: msg})
}

func isUnauthenticated(err error) bool {
	return errors.Is(err, accounts.ErrUnauthenticated) || errors.Is(err, accounts.ErrSuspended)
}

func credOf(r *http.Request) int {
	k, _ := r.Context().Value(credKey{}).(int)
	return k
}
