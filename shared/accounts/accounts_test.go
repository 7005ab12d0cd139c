package accounts_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
)

func newService(t *testing.T) *accounts.Service {
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s, err := accounts.New(db, accounts.Config{SessionKey: make([]byte, 32)})
	require.NoError(t, err)
	return s
}

func TestFirstUserAdminTokensSuspension(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	first, err := s.SignIn(ctx, accounts.Identity{Provider: "local", ProviderID: "1", Login: "ada"})
	require.NoError(t, err)
	assert.Equal(t, accounts.AdminAll, first.Admin)
	second, err := s.SignIn(ctx, accounts.Identity{Provider: "local", ProviderID: "2", Login: "bob"})
	require.NoError(t, err)
	assert.Equal(t, accounts.AdminNone, second.Admin)

	tok, _, err := s.CreateToken(ctx, second.ID, "cli")
	require.NoError(t, err)
	u, err := s.Authenticate(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, "bob", u.Login)
	cookie, _, err := s.StartSession(ctx, second.ID)
	require.NoError(t, err)

	_, err = s.SetSuspended(ctx, second.ID, true)
	require.NoError(t, err)
	_, err = s.Authenticate(ctx, tok)
	assert.ErrorIs(t, err, accounts.ErrSuspended)
	_, err = s.Session(ctx, cookie)
	assert.ErrorIs(t, err, accounts.ErrSuspended)
	_, err = s.Authenticate(ctx, "orbit_wrong")
	assert.ErrorIs(t, err, accounts.ErrUnauthenticated)
}

func TestDeleteUser(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	_, err := s.SignIn(ctx, accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: "root", Login: "root"})
	require.NoError(t, err)
	id := accounts.Identity{Provider: accounts.ProviderLDAP, ProviderID: "uid=bob", Login: "bob"}
	bob, err := s.SignIn(ctx, id)
	require.NoError(t, err)
	tok, _, err := s.CreateToken(ctx, bob.ID, "ci")
	require.NoError(t, err)
	cookie, _, err := s.StartSession(ctx, bob.ID)
	require.NoError(t, err)

	require.NoError(t, s.Delete(ctx, bob.ID))
	_, err = s.Authenticate(ctx, tok)
	assert.ErrorIs(t, err, accounts.ErrUnauthenticated, "the token stops")
	_, err = s.Session(ctx, cookie)
	assert.ErrorIs(t, err, accounts.ErrUnauthenticated, "the session stops")
	_, err = s.ByLogin(ctx, "bob")
	assert.ErrorIs(t, err, accounts.ErrNotFound)
	again, err := s.SignIn(ctx, id)
	require.NoError(t, err)
	assert.NotEqual(t, bob.ID, again.ID, "a later sign-in makes a new user")
	assert.Equal(t, accounts.AdminNone, again.Admin)
}
