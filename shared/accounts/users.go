package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/orbit-ci/orbit/shared/kv"
)

// User is an account.
type User struct {
	ID    string `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// Provider is how the user signs in (local, github, ldap); ProviderID
	// their id there.
	Provider   string `json:"provider"`
	ProviderID string `json:"provider_id"`
	// Admin is AdminNone, AdminAll or AdminWriteSettings.
	Admin string `json:"admin,omitempty"`
	// Suspended users cannot sign in; their sessions and tokens fail.
	Suspended bool `json:"suspended,omitempty"`
	// LocalRole is the user's role in the local organization, which owns
	// the local-git projects: "read", "write" or "" (not a member). Admins
	// administer it whatever their role.
	LocalRole string `json:"local_role,omitempty"`
	// GitHubToken is the user's GitHub OAuth token, sealed by the secrets
	// port (never in clear here); empty until they connect GitHub.
	GitHubToken []byte `json:"github_token,omitempty"`
	// SSHKeys are the authorized_keys lines the user added to their
	// account: a rerun with SSH admits them.
	SSHKeys     []string  `json:"ssh_keys,omitempty"`
	GitHubLogin string    `json:"github_login,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	SignInCount int       `json:"sign_in_count"`
	// CurrentSignIn is the latest sign-in, LastSignIn the one before, each
	// with the client's address (the seed's user statistics fields).
	CurrentSignIn   time.Time `json:"current_sign_in_at,omitzero"`
	CurrentSignInIP string    `json:"current_sign_in_ip,omitempty"`
	LastSignIn      time.Time `json:"last_sign_in_at,omitzero"`
	LastSignInIP    string    `json:"last_sign_in_ip,omitempty"`
}

// IsAdmin says whether the user holds any admin level.
func (u *User) IsAdmin() bool { return u.Admin != AdminNone }

// Identity is who an identity provider says signed in.
type Identity struct {
	Provider   string
	ProviderID string
	Login      string
	Name       string
	Email      string
	// Orgs are the organizations the provider says the user belongs to,
	// checked against the Required Org Membership List.
	Orgs []string
	// LocalRole applies to a user created by this sign-in (local users).
	LocalRole string
	// IP is the client's address, for the user statistics.
	IP string
}

func userPK(id string) string { return "USER#" + id }

// SignIn returns the user of id, creating them at first sign-in: the very
// first user is an admin ("all"); with "Suspend New Users" a new user is
// created suspended and SignIn returns ErrSuspended; a user in none of the
// Required Org Membership List's organizations is not created (ErrNotMember).
// A suspended user gets ErrSuspended. It counts the sign-in.
func (s *Service) SignIn(ctx context.Context, id Identity) (*User, error) {
	if id.Provider == "" || id.ProviderID == "" || id.Login == "" {
		return nil, fmt.Errorf("%w: an identity needs a provider, an id and a login", ErrInvalid)
	}
	var ptr struct {
		UserID string `json:"user_id"`
	}
	_, err := s.get(ctx, "LOGIN#"+id.Provider, id.ProviderID, &ptr)
	var u *User
	switch {
	case errors.Is(err, ErrNotFound):
		if u, err = s.register(ctx, id); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if u, err = s.User(ctx, ptr.UserID); err != nil {
			return nil, err
		}
	}
	if u.Suspended {
		return u, ErrSuspended
	}
	return s.RecordSignIn(ctx, u.ID, id.IP)
}

// RecordSignIn counts a sign-in of the user from the client address ip
// (SignIn does; a one-time link's caller does it itself).
func (s *Service) RecordSignIn(ctx context.Context, userID, ip string) (*User, error) {
	return s.update(ctx, userID, func(u *User) error {
		u.SignInCount++
		u.LastSignIn, u.LastSignInIP = u.CurrentSignIn, u.CurrentSignInIP
		u.CurrentSignIn, u.CurrentSignInIP = s.clock(), ip
		return nil
	})
}

func (s *Service) register(ctx context.Context, id Identity) (*User, error) {
	set, err := s.Settings(ctx)
	if err != nil {
		return nil, err
	}
	if len(set.RequiredOrgs) > 0 && !slices.ContainsFunc(id.Orgs, func(o string) bool {
		return slices.ContainsFunc(set.RequiredOrgs, func(r string) bool { return strings.EqualFold(o, r) })
	}) {
		return nil, fmt.Errorf("%w: %s is in none of %s", ErrNotMember, id.Login, strings.Join(set.RequiredOrgs, ", "))
	}
	n, err := s.kv.Add(ctx, "ACCOUNTS", "COUNTERS", "users", 1)
	if err != nil {
		return nil, fmt.Errorf("count users: %w", err)
	}
	u := &User{ID: uuid.NewString(), Login: id.Login, Name: id.Name, Email: id.Email,
		Provider: id.Provider, ProviderID: id.ProviderID, LocalRole: id.LocalRole, CreatedAt: s.clock()}
	if n == 1 {
		u.Admin = AdminAll // the seed: the first user is an admin
	} else if set.SuspendNewUsers {
		u.Suspended = true
	}
	ptr, err := record("LOGIN#"+id.Provider, id.ProviderID, map[string]string{"user_id": u.ID})
	if err != nil {
		return nil, err
	}
	meta, err := userItem(u)
	if err != nil {
		return nil, err
	}
	err = s.kv.Transact(ctx, []kv.Op{
		{Kind: kv.OpPut, Item: ptr, Cond: kv.Condition{IfNotExists: true}},
		{Kind: kv.OpPut, Item: meta, Cond: kv.Condition{IfNotExists: true}},
	})
	if errors.Is(err, kv.ErrConflict) { // a concurrent first sign-in won
		return s.SignInUser(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("create user %s: %w", id.Login, err)
	}
	return u, nil
}

// SignInUser returns the existing user of an identity.
func (s *Service) SignInUser(ctx context.Context, id Identity) (*User, error) {
	var ptr struct {
		UserID string `json:"user_id"`
	}
	if _, err := s.get(ctx, "LOGIN#"+id.Provider, id.ProviderID, &ptr); err != nil {
		return nil, err
	}
	return s.User(ctx, ptr.UserID)
}

func userItem(u *User) (kv.Item, error) {
	it, err := record(userPK(u.ID), "META", u)
	it.GSI1PK, it.GSI1SK = "USERS", strings.ToLower(u.Login)+"#"+u.ID
	return it, err
}

// User returns the user with the id.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	var u User
	if _, err := s.get(ctx, userPK(id), "META", &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// ByLogin returns the user with the login (case-insensitive; the first by
// id when two providers share one).
func (s *Service) ByLogin(ctx context.Context, login string) (*User, error) {
	page, err := s.kv.Query(ctx, kv.Query{Index: kv.GSI1, PK: "USERS", Prefix: strings.ToLower(login) + "#", Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(page.Items) == 0 {
		return nil, fmt.Errorf("user %q: %w", login, ErrNotFound)
	}
	return s.User(ctx, strings.TrimPrefix(page.Items[0].GSI1SK, strings.ToLower(login)+"#"))
}

// List returns every user, by login.
func (s *Service) List(ctx context.Context) ([]User, error) {
	var out []User
	q := kv.Query{Index: kv.GSI1, PK: "USERS", Limit: 1000}
	for {
		page, err := s.kv.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			u, err := s.User(ctx, it.GSI1SK[strings.LastIndexByte(it.GSI1SK, '#')+1:])
			if err != nil {
				return nil, err
			}
			out = append(out, *u)
		}
		if q.Cursor = page.Cursor; q.Cursor == "" {
			return out, nil
		}
	}
}

// update applies fn to the user under optimistic concurrency.
func (s *Service) update(ctx context.Context, id string, fn func(*User) error) (*User, error) {
	for range 50 {
		var u User
		it, err := s.get(ctx, userPK(id), "META", &u)
		if err != nil {
			return nil, err
		}
		if err := fn(&u); err != nil {
			return nil, err
		}
		next, err := userItem(&u)
		if err != nil {
			return nil, err
		}
		if _, err = s.kv.Put(ctx, next, kv.Condition{IfVersion: it.Version}); errors.Is(err, kv.ErrConflict) {
			continue
		} else if err != nil {
			return nil, err
		}
		return &u, nil
	}
	return nil, fmt.Errorf("update user %s: too much contention", id)
}

// SetSuspended suspends or reactivates a user. Their sessions and tokens
// stop (or start again) working with this write.
func (s *Service) SetSuspended(ctx context.Context, id string, suspended bool) (*User, error) {
	return s.update(ctx, id, func(u *User) error { u.Suspended = suspended; return nil })
}

// SetAdmin gives a user an admin level (AdminNone removes it).
func (s *Service) SetAdmin(ctx context.Context, id, level string) (*User, error) {
	if level != AdminNone && level != AdminAll && level != AdminWriteSettings {
		return nil, fmt.Errorf("%w: admin level %q, want %q or %q (or empty to remove)", ErrInvalid, level, AdminAll, AdminWriteSettings)
	}
	return s.update(ctx, id, func(u *User) error { u.Admin = level; return nil })
}

// SetLocalRole sets a user's role in the local organization ("read",
// "write" or "" for none).
func (s *Service) SetLocalRole(ctx context.Context, id, role string) (*User, error) {
	if role != "" && role != "read" && role != "write" {
		return nil, fmt.Errorf("%w: local role %q, want read, write or empty", ErrInvalid, role)
	}
	return s.update(ctx, id, func(u *User) error { u.LocalRole = role; return nil })
}

// SetGitHub records the user's connected GitHub account and sealed token.
func (s *Service) SetGitHub(ctx context.Context, id, login string, sealed []byte) (*User, error) {
	return s.update(ctx, id, func(u *User) error { u.GitHubLogin, u.GitHubToken = login, sealed; return nil })
}

// SetSSHKeys replaces the user's SSH public keys (authorized_keys lines,
// checked by the caller).
func (s *Service) SetSSHKeys(ctx context.Context, id string, keys []string) (*User, error) {
	return s.update(ctx, id, func(u *User) error { u.SSHKeys = keys; return nil })
}

// Delete removes a user (the seed's delete-by-login): their tokens stop
// working, their sessions with the user record (every check reads it),
// and their identity is forgotten, so a later sign-in creates a new user.
func (s *Service) Delete(ctx context.Context, id string) error {
	u, err := s.User(ctx, id)
	if err != nil {
		return err
	}
	ts, err := s.Tokens(ctx, id)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := s.RevokeToken(ctx, id, t.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("delete user %s: %w", u.Login, err)
		}
	}
	return s.kv.Transact(ctx, []kv.Op{
		{Kind: kv.OpDelete, Item: kv.Item{PK: "LOGIN#" + u.Provider, SK: u.ProviderID}},
		{Kind: kv.OpDelete, Item: kv.Item{PK: userPK(id), SK: "META"}},
	})
}
