package keyfile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/secrets/secretstest"
)

func TestConformance(t *testing.T) {
	secretstest.Run(t, func(t *testing.T) (secrets.Keys, secretstest.Rotate) {
		k, err := keyfile.New(keyfile.Config{Path: filepath.Join(t.TempDir(), "keys.json")})
		require.NoError(t, err)
		return k, func(context.Context) error {
			_, err := k.Rotate()
			return err
		}
	})
}

type fileJSON struct {
	Version int `json:"version"`
	Keys    []struct {
		ID      string    `json:"id"`
		Created time.Time `json:"created"`
		Key     []byte    `json:"key"`
	} `json:"keys"`
}

func readFile(t *testing.T, path string) fileJSON {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var f fileJSON
	require.NoError(t, json.Unmarshal(b, &f))
	return f
}

func TestCreatesFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "orbit")
	path := filepath.Join(dir, "keys.json")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := keyfile.New(keyfile.Config{Path: path, Now: func() time.Time { return now }})
	require.NoError(t, err)

	fi, err := os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
	f := readFile(t, path)
	assert.Equal(t, 1, f.Version)
	require.Len(t, f.Keys, 1)
	assert.NotEmpty(t, f.Keys[0].ID)
	assert.Equal(t, now, f.Keys[0].Created)
	assert.Len(t, f.Keys[0].Key, 32)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")
}

// TestReopen checks that values survive a restart (a second New on the same
// file) and a rotation done by another instance.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keys.json")
	aad := map[string]string{"orbit:scope": "project/local/acme/api", "orbit:name": "TOKEN"}
	first, err := keyfile.New(keyfile.Config{Path: path})
	require.NoError(t, err)
	old, err := secrets.Seal(ctx, first, []byte("v1"), aad)
	require.NoError(t, err)

	second, err := keyfile.New(keyfile.Config{Path: path})
	require.NoError(t, err)
	got, err := secrets.Open(ctx, second, old, aad)
	require.NoError(t, err)
	assert.Equal(t, "v1", string(got))

	newID, err := second.Rotate()
	require.NoError(t, err)
	fresh, err := secrets.Seal(ctx, second, []byte("v2"), aad)
	require.NoError(t, err)
	id, err := secrets.KeyID(fresh)
	require.NoError(t, err)
	assert.Equal(t, newID, id)

	// first has not loaded the new key: it reloads the file on the miss.
	got, err = secrets.Open(ctx, first, fresh, aad)
	require.NoError(t, err)
	assert.Equal(t, "v2", string(got))
	// and first's rotation keeps the key second added.
	_, err = first.Rotate()
	require.NoError(t, err)
	assert.Len(t, readFile(t, path).Keys, 3)
	third, err := keyfile.New(keyfile.Config{Path: path})
	require.NoError(t, err)
	for want, sealed := range map[string][]byte{"v1": old, "v2": fresh} {
		got, err := secrets.Open(ctx, third, sealed, aad)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
}

func TestRotateNewestIsLast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	// A clock going backwards does not matter: the last key is the newest.
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	k, err := keyfile.New(keyfile.Config{Path: path, Now: func() time.Time { now = now.Add(-time.Hour); return now }})
	require.NoError(t, err)
	id, err := k.Rotate()
	require.NoError(t, err)
	dk, err := k.GenerateDataKey(t.Context(), nil)
	require.NoError(t, err)
	assert.Equal(t, id, dk.KeyID)
	f := readFile(t, path)
	require.Len(t, f.Keys, 2)
	assert.Equal(t, id, f.Keys[1].ID)
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the replaced file keeps mode 0600")
	}
}

func TestRefusesBadFiles(t *testing.T) {
	valid := func(t *testing.T) []byte {
		path := filepath.Join(t.TempDir(), "keys.json")
		_, err := keyfile.New(keyfile.Config{Path: path})
		require.NoError(t, err)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return b
	}
	key := `"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`
	tests := []struct {
		name    string
		content func(t *testing.T) []byte
		mode    os.FileMode
		want    string
	}{
		{"world readable", valid, 0o644, "has mode 0644; a key file must be readable by its owner only"},
		{"group writable", valid, 0o620, "has mode 0620"},
		{"empty", func(*testing.T) []byte { return nil }, 0o600, "is not a key file: it is empty"},
		{"garbage", func(*testing.T) []byte { return []byte("s3cr3tjunk") }, 0o600, "is not a key file: invalid JSON at byte 1"},
		{"trailing data", func(t *testing.T) []byte { return append(valid(t), "{}"...) }, 0o600, "data after the JSON object"},
		{"unknown field", func(*testing.T) []byte { return []byte(`{"version":1,"keys":[],"x":1}`) }, 0o600, `unknown field "x"`},
		{"version", func(*testing.T) []byte { return []byte(`{"version":2,"keys":[]}`) }, 0o600, "unsupported version 2"},
		{"no keys", func(*testing.T) []byte { return []byte(`{"version":1,"keys":[]}`) }, 0o600, "no keys"},
		{"short key", func(*testing.T) []byte {
			return []byte(`{"version":1,"keys":[{"id":"a","created":"2026-01-01T00:00:00Z","key":"AAAA"}]}`)
		}, 0o600, "key a: 3 bytes, want 32"},
		{"bad base64", func(*testing.T) []byte {
			return []byte(`{"version":1,"keys":[{"id":"a","created":"2026-01-01T00:00:00Z","key":"!!!!"}]}`)
		}, 0o600, "illegal base64"},
		{"duplicate id", func(*testing.T) []byte {
			return []byte(`{"version":1,"keys":[{"id":"a","created":"2026-01-01T00:00:00Z","key":` + key + `},{"id":"a","created":"2026-01-01T00:00:00Z","key":` + key + `}]}`)
		}, 0o600, "duplicate id a"},
		{"empty id", func(*testing.T) []byte {
			return []byte(`{"version":1,"keys":[{"id":"","created":"2026-01-01T00:00:00Z","key":` + key + `}]}`)
		}, 0o600, "key 0: id must be"},
		{"id with space", func(*testing.T) []byte {
			return []byte(`{"version":1,"keys":[{"id":"a b","created":"2026-01-01T00:00:00Z","key":` + key + `}]}`)
		}, 0o600, "key 0: id must be printable ASCII"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mode&0o077 != 0 && runtime.GOOS == "windows" {
				t.Skip("no Unix permissions on Windows")
			}
			path := filepath.Join(t.TempDir(), "keys.json")
			require.NoError(t, os.WriteFile(path, tc.content(t), 0o600))
			require.NoError(t, os.Chmod(path, tc.mode))
			before, err := os.ReadFile(path)
			require.NoError(t, err)

			_, err = keyfile.New(keyfile.Config{Path: path})
			require.Error(t, err)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "s3cr3t", "the file's content is not quoted")

			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, before, after, "a refused file is left as it was")
		})
	}
}

func TestRefusesDirectory(t *testing.T) {
	path := t.TempDir()
	_, err := keyfile.New(keyfile.Config{Path: path})
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+" is not a regular file")
}

func TestRotateRefusesChangedFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions on Windows")
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	k, err := keyfile.New(keyfile.Config{Path: path})
	require.NoError(t, err)
	require.NoError(t, os.Chmod(path, 0o644))
	_, err = k.Rotate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Len(t, readFile(t, path).Keys, 1, "nothing written")
}

func TestNoPath(t *testing.T) {
	_, err := keyfile.New(keyfile.Config{})
	assert.Error(t, err)
}
