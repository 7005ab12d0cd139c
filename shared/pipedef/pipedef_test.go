package pipedef_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/pipedef"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/store"
)

type recorder struct {
	mu   sync.Mutex
	reqs []conductor.TriggerRequest
}

func (r *recorder) Trigger(_ context.Context, req conductor.TriggerRequest) (store.Pipeline, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return store.Pipeline{ID: "p"}, nil
}

func newService(t *testing.T) (*pipedef.Service, *recorder) {
	t.Helper()
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "orbit.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(t.TempDir(), "master.keys")})
	require.NoError(t, err)
	rec := &recorder{}
	svc, err := pipedef.New(pipedef.Config{KV: db, Sealer: secrets.NewSealer(keys), Trigger: rec, BaseURL: "http://orbit.test"})
	require.NoError(t, err)
	return svc, rec
}

func TestTheDefaultDefinitionIsMadeOnceUnderConcurrentFirstUse(t *testing.T) {
	svc, _ := newService(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ds, err := svc.ListDefinitions(t.Context(), "local/acme/api")
			assert.NoError(t, err)
			assert.Len(t, ds, 1)
		})
	}
	wg.Wait()
	// Deleted, it stays deleted: first use is over.
	require.NoError(t, svc.DeleteDefinition(t.Context(), "local/acme/api", pipedef.DefaultID("local/acme/api")))
	ds, err := svc.ListDefinitions(t.Context(), "local/acme/api")
	require.NoError(t, err)
	assert.Empty(t, ds)
}

func TestDeletingADefinitionDeletesItsTriggers(t *testing.T) {
	svc, rec := newService(t)
	ctx := t.Context()
	name, path := "deploy", ".circleci/deploy.yml"
	d, err := svc.CreateDefinition(ctx, "local/acme/api", pipedef.DefinitionSpec{Name: &name, ConfigPath: &path})
	require.NoError(t, err)
	ref := "main"
	tr, err := svc.CreateTrigger(ctx, "local/acme/api", d.ID, pipedef.TriggerSpec{Provider: pipedef.ProviderWebhook, CheckoutRef: &ref})
	require.NoError(t, err)
	u, err := svc.WebhookURL(ctx, tr)
	require.NoError(t, err)
	assert.Contains(t, u, "http://orbit.test/webhooks/trigger/"+tr.ID+"?secret=")

	require.NoError(t, svc.DeleteDefinition(ctx, "local/acme/api", d.ID))
	_, err = svc.GetTrigger(ctx, "local/acme/api", tr.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = svc.Invoke(ctx, tr.ID, "anything")
	assert.ErrorIs(t, err, pipedef.ErrForbidden)
	assert.Empty(t, rec.reqs)
}
