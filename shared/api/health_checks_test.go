package api_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/queue/boltqueue"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
)

// TestChecksOfRealDrivers: each dependency check passes against the
// embedded drivers and names its dependency once the driver is broken.
func TestChecksOfRealDrivers(t *testing.T) {
	dir := t.TempDir()
	store, err := boltkv.Open(filepath.Join(dir, "kv.db"), boltkv.Config{})
	require.NoError(t, err)
	q, err := boltqueue.Open(filepath.Join(dir, "q.db"), "run", boltqueue.Config{})
	require.NoError(t, err)
	blobs, err := dirblob.New(dirblob.Config{Root: filepath.Join(dir, "blobs"), BaseURL: "http://x/blob",
		Secret: make([]byte, 32)})
	require.NoError(t, err)
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(dir, "keys.json")})
	require.NoError(t, err)
	nomadDown := errors.New("nomad unreachable at http://127.0.0.1:4646")
	health := api.Checks{
		"store": api.StoreCheck(store), "queue": api.QueueCheck(q), "blob": api.BlobCheck(blobs),
		"secrets": api.SecretsCheck(keys),
	}.And(func(context.Context) map[string]error { return map[string]error{"nomad": nomadDown} })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := health(ctx)
	assert.Equal(t, map[string]error{"store": nil, "queue": nil, "blob": nil, "secrets": nil, "nomad": nomadDown}, got)

	require.NoError(t, store.Close())
	require.NoError(t, q.Close())
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "blobs")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "blobs"), nil, 0o600)) // a file where the directory was
	got = health(ctx)
	for _, name := range []string{"store", "queue", "blob"} {
		assert.Error(t, got[name], name)
		if got[name] != nil {
			assert.Contains(t, got[name].Error(), map[string]string{"store": "store:", "queue": "queue:",
				"blob": "blob store:"}[name])
		}
	}
	assert.NoError(t, got["secrets"])
}

func TestChecksRunAtOnce(t *testing.T) {
	release := make(chan struct{})
	started := make(chan string, 3)
	slow := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			started <- name
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	health := api.Checks{"a": slow("a"), "b": slow("b")}.And(func(ctx context.Context) map[string]error {
		return map[string]error{"c": slow("c")(ctx)}
	})
	done := make(chan map[string]error)
	go func() { done <- health(context.Background()) }()
	for range 3 {
		select {
		case <-started: // all three run before any returns
		case <-time.After(10 * time.Second):
			t.Fatal("checks run one after the other")
		}
	}
	close(release)
	assert.Equal(t, map[string]error{"a": nil, "b": nil, "c": nil}, <-done)
}
