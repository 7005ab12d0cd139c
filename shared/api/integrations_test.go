package api_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
)

// sealer is a real key-file sealer in a temporary directory.
func sealer(t *testing.T) *secrets.Sealer {
	t.Helper()
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(t.TempDir(), "master.keys")})
	require.NoError(t, err)
	return secrets.NewSealer(keys)
}

// scratchKV is a kv of its own for a service's side records (outboxes).
func scratchKV(t *testing.T) *boltkv.Store {
	t.Helper()
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "side.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// tokenOf signs in a local user with a role in the local organization
// ("read", "write" or "" for none) and returns their API token.
func (e *env) tokenOf(login, role string) string {
	e.t.Helper()
	u, err := e.acc.SignIn(e.t.Context(), accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: login, Login: login, LocalRole: role})
	require.NoError(e.t, err)
	if u.LocalRole != role {
		_, err = e.acc.SetLocalRole(e.t.Context(), u.ID, role)
		require.NoError(e.t, err)
	}
	tok, _, err := e.acc.CreateToken(e.t.Context(), u.ID, "tests")
	require.NoError(e.t, err)
	return tok
}

// withIntegrations sets the integrations a test builds.
func withIntegrations(in api.Integrations) func(*api.Config) {
	return func(c *api.Config) { c.Integrations = in }
}

// status asserts a response's code, showing its body when it differs.
func wantStatus(t *testing.T, code int, rec interface {
	Result() *http.Response
}, body string) {
	t.Helper()
	require.Equal(t, code, rec.Result().StatusCode, body)
}
