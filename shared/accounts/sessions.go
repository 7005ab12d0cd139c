package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// A session cookie is "<session id>.<HMAC-SHA256 of the id under the
// sessions key>": the signature rejects forged ids without a read, the
// record (keyed by the id's SHA-256, expiring with the session) makes
// logout final, and every check reads the user, so suspension is immediate.

// Session is a signed-in browser.
type Session struct {
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Service) sign(purpose, v string) string {
	m := hmac.New(sha256.New, s.sessionKey)
	m.Write([]byte(purpose + "\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// StartSession creates a session for the user and returns the cookie value
// and when it expires.
func (s *Service) StartSession(ctx context.Context, userID string) (string, time.Time, error) {
	id, err := randomHex(32)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := s.clock().Add(s.sessionTTL)
	it, err := record("SESSION#"+hashSecret(id), "META", Session{UserID: userID, ExpiresAt: exp})
	if err != nil {
		return "", time.Time{}, err
	}
	it.ExpiresAt = exp
	if _, err := s.kv.Put(ctx, it, kv.Condition{IfNotExists: true}); err != nil {
		return "", time.Time{}, err
	}
	return id + "." + s.sign("session", id), exp, nil
}

func (s *Service) sessionID(cookie string) (string, bool) {
	id, sig, ok := strings.Cut(cookie, ".")
	if !ok || len(id) != 64 || !hmac.Equal([]byte(sig), []byte(s.sign("session", id))) {
		return "", false
	}
	return id, true
}

// Session returns the user of a session cookie: ErrUnauthenticated when it
// is forged, expired or ended, ErrSuspended for a suspended user.
func (s *Service) Session(ctx context.Context, cookie string) (*User, error) {
	id, ok := s.sessionID(cookie)
	if !ok {
		return nil, ErrUnauthenticated
	}
	var sess Session
	if _, err := s.get(ctx, "SESSION#"+hashSecret(id), "META", &sess); errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthenticated
	} else if err != nil {
		return nil, err
	}
	if !s.clock().Before(sess.ExpiresAt) {
		return nil, ErrUnauthenticated
	}
	return s.active(ctx, sess.UserID)
}

// EndSession ends a session (logout); ending an unknown one is no error.
func (s *Service) EndSession(ctx context.Context, cookie string) error {
	id, ok := s.sessionID(cookie)
	if !ok {
		return nil
	}
	return s.kv.Delete(ctx, "SESSION#"+hashSecret(id), "META", kv.Condition{})
}

// CSRFToken is the token a session's forms carry: bound to the session, so
// another site cannot know it.
func (s *Service) CSRFToken(cookie string) string {
	id, ok := s.sessionID(cookie)
	if !ok {
		return ""
	}
	return s.sign("csrf", id)
}

// CheckCSRF says whether token is the session's CSRF token.
func (s *Service) CheckCSRF(cookie, token string) bool {
	want := s.CSRFToken(cookie)
	return want != "" && hmac.Equal([]byte(want), []byte(token))
}

// SignInLink makes a one-time sign-in code for the user, valid for ttl
// (what `orbit up` prints for its local admin).
func (s *Service) SignInLink(ctx context.Context, userID string, ttl time.Duration) (string, error) {
	code, err := randomHex(32)
	if err != nil {
		return "", err
	}
	it, err := record("SIGNIN#"+hashSecret(code), "META", Session{UserID: userID, ExpiresAt: s.clock().Add(ttl)})
	if err != nil {
		return "", err
	}
	it.ExpiresAt = s.clock().Add(ttl)
	if _, err := s.kv.Put(ctx, it, kv.Condition{IfNotExists: true}); err != nil {
		return "", err
	}
	return code, nil
}

// UseSignInLink consumes a one-time code and returns its user; a second use,
// an expired or unknown code is ErrUnauthenticated.
func (s *Service) UseSignInLink(ctx context.Context, code string) (*User, error) {
	if len(code) != 64 {
		return nil, ErrUnauthenticated
	}
	var link Session
	it, err := s.get(ctx, "SIGNIN#"+hashSecret(code), "META", &link)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthenticated
	} else if err != nil {
		return nil, err
	}
	if err := s.kv.Delete(ctx, it.PK, it.SK, kv.Condition{IfVersion: it.Version}); errors.Is(err, kv.ErrConflict) {
		return nil, ErrUnauthenticated
	} else if err != nil {
		return nil, err
	}
	if !s.clock().Before(link.ExpiresAt) {
		return nil, ErrUnauthenticated
	}
	return s.active(ctx, link.UserID)
}
