package orbimport_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/orbimport"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs/localgit"
)

const orbSrc = "version: 2.1\ncommands:\n  hi:\n    steps: [{run: echo hi}]\n"

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestDir(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "acme", "hi@1.0.0.yml"), orbSrc)
	writeFile(t, filepath.Join(src, "acme", "hi@1.1.0.yml"), orbSrc)
	writeFile(t, filepath.Join(src, "other", "tools@0.3.2.yml"), orbSrc)
	reg := config.DirRegistry(t.TempDir())
	got, err := orbimport.Dir(reg, src)
	require.NoError(t, err)
	assert.Len(t, got, 3)
	exact, err := reg.Resolve(config.OrbRef{Namespace: "acme", Name: "hi", Version: "volatile"})
	require.NoError(t, err)
	assert.Equal(t, "1.1.0", exact.Version)

	tests := []struct{ name, file, content, want string }{
		{"a file outside the layout", "README.md", "x", "not an orb release file"},
		{"a partial version", "acme/hi@1.yml", orbSrc, "give an exact version"},
		{"not an orb", "acme/bad@1.0.0.yml", "version: 2.1\ncommands: 5\n", "acme/bad@1.0.0.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, tt.file), tt.content)
			_, err := orbimport.Dir(config.DirRegistry(t.TempDir()), dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err = orbimport.Dir(reg, t.TempDir())
	assert.ErrorContains(t, err, "holds no orb release")
}

// TestRegistry imports from a CircleCI-compatible registry: another
// Orbit's /graphql-unstable, which answers orbVersion as CircleCI does
// (the official CLI's orb source and info run against it in cmd/orbit).
func TestRegistry(t *testing.T) {
	upstream := t.TempDir()
	for _, v := range []string{"1.0.0", "1.4.0", "2.0.0"} {
		_, err := config.DirRegistry(upstream).Import(config.OrbRef{Namespace: "acme", Name: "hi", Version: v}, []byte(orbSrc))
		require.NoError(t, err)
	}
	t.Setenv("ORBIT_ORB_DIR", upstream)
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "orbit.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	acc, err := accounts.New(db, accounts.Config{SessionKey: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	u, err := acc.SignIn(t.Context(), accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: "admin", Login: "admin"})
	require.NoError(t, err)
	token, _, err := acc.CreateToken(t.Context(), u.ID, "tests")
	require.NoError(t, err)
	st := store.New(db, nil)
	h, err := api.New(api.Config{Store: st, Trigger: noTrigger{}, Projects: localgit.Repos{}, Accounts: acc})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	reg := config.DirRegistry(t.TempDir())
	r := orbimport.Registry{URL: srv.URL, Token: token}
	refs := []config.OrbRef{{Namespace: "acme", Name: "hi", Version: "1"}, {Namespace: "acme", Name: "hi", Version: "volatile"}}
	got, err := r.Import(t.Context(), reg, refs)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "acme/hi@1.4.0", got[0].Ref.String(), "a partial version resolved by the registry")
	assert.Equal(t, "acme/hi@2.0.0", got[1].Ref.String(), "@volatile is the newest")
	src, _, err := reg.Orb(config.OrbRef{Namespace: "acme", Name: "hi", Version: "2.0.0"})
	require.NoError(t, err)
	assert.Equal(t, orbSrc, string(src))

	_, err = r.Import(t.Context(), reg, []config.OrbRef{{Namespace: "acme", Name: "none", Version: "1.0.0"}})
	assert.ErrorIs(t, err, orbimport.ErrNotInRegistry)
	_, _, err = orbimport.Registry{URL: srv.URL, Token: "wrong"}.Fetch(t.Context(), refs[0])
	assert.ErrorContains(t, err, "401")
}

type noTrigger struct{}

func (noTrigger) Trigger(context.Context, conductor.TriggerRequest) (store.Pipeline, error) {
	return store.Pipeline{}, nil
}
