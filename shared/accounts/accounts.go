// Package accounts keeps Orbit's users and how they prove who they are:
// users (created at first sign-in, the first one an admin), admin levels,
// suspension, the seed's "Suspend New Users" and "Required Org Membership
// List" settings, personal API tokens (stored as SHA-256, shown once) and
// browser sessions (an HMAC-signed cookie naming a session record, so a
// logout or a suspension ends it at once). It is written against the kv
// port only; shared/api authenticates requests with it.
//
// Key layout (the single table of DESIGN.md):
//
//	USER#<id>           META            user (GSI1: USERS / <login>)
//	LOGIN#<provider>    <provider id>   pointer: identity → user id (unique)
//	USER#<id>           TOKEN#<id>      token listing entry (no secret)
//	TOKEN#<sha256 hex>  META            token → user (what Authenticate reads)
//	SESSION#<id>        META            session (TTL = its expiry)
//	SIGNIN#<sha256 hex> META            one-time sign-in link (TTL)
//	ACCOUNTS            COUNTERS        users ever created (first user → admin)
//	ACCOUNTS            SETTINGS        account settings
//
// Every check of a token or session reads the user record, so a suspended
// user's sessions and tokens stop working with the write that suspends them.
package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Errors callers branch on.
var (
	// ErrNotFound: no such user, token or session.
	ErrNotFound = errors.New("accounts: not found")
	// ErrUnauthenticated: the credential is missing, malformed, expired or
	// revoked. Its message never contains the credential.
	ErrUnauthenticated = errors.New("accounts: not authenticated")
	// ErrSuspended: the user is suspended (or, with "Suspend New Users",
	// waits for an admin to activate them).
	ErrSuspended = errors.New("accounts: user is suspended")
	// ErrNotMember: the user belongs to none of the Required Org Membership
	// List's organizations and cannot register.
	ErrNotMember = errors.New("accounts: not a member of a required organization")
	// ErrInvalid: a bad argument (an unknown admin level, an empty login).
	ErrInvalid = errors.New("accounts: invalid request")
)

// Admin levels, as the seed's REPL snippets set them.
const (
	// AdminNone is a user who is not an admin.
	AdminNone = ""
	// AdminAll may do everything, settings included.
	AdminAll = "all"
	// AdminWriteSettings may change system settings.
	AdminWriteSettings = "write-settings"
)

// Providers of identities.
const (
	ProviderLocal  = "local"
	ProviderGitHub = "github"
	ProviderLDAP   = "ldap"
)

// Service keeps the accounts. Safe for concurrent use.
type Service struct {
	kv         kv.Store
	now        func() time.Time
	sessionKey []byte
	sessionTTL time.Duration
}

// Config configures a Service.
type Config struct {
	// SessionKey signs session cookies (compose.Keys.Sessions); at least 32
	// bytes. Required.
	SessionKey []byte
	// SessionTTL is how long a session lasts; 0 means 7 days.
	SessionTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a Service on db.
func New(db kv.Store, cfg Config) (*Service, error) {
	if db == nil {
		return nil, errors.New("accounts: a kv store is required")
	}
	if len(cfg.SessionKey) < 32 {
		return nil, fmt.Errorf("accounts: session key is %d bytes, want at least 32", len(cfg.SessionKey))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 7 * 24 * time.Hour
	}
	return &Service{kv: db, now: cfg.Now, sessionKey: cfg.SessionKey, sessionTTL: cfg.SessionTTL}, nil
}

func (s *Service) clock() time.Time { return s.now().UTC() }

type userKey struct{}

// WithUser returns ctx carrying the authenticated user (shared/api sets it
// on every authenticated request).
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// FromContext returns the authenticated user of a request, if any: the
// actor of an audit event.
func FromContext(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}

func (s *Service) get(ctx context.Context, pk, sk string, v any) (kv.Item, error) {
	it, err := s.kv.Get(ctx, pk, sk)
	if errors.Is(err, kv.ErrNotFound) {
		return kv.Item{}, ErrNotFound
	}
	if err != nil {
		return kv.Item{}, err
	}
	if err := json.Unmarshal(it.Data, v); err != nil {
		return kv.Item{}, fmt.Errorf("decode %s/%s: %w", pk, sk, err)
	}
	return it, nil
}

func record(pk, sk string, v any) (kv.Item, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return kv.Item{}, fmt.Errorf("encode %s/%s: %w", pk, sk, err)
	}
	return kv.Item{PK: pk, SK: sk, Data: b}, nil
}
