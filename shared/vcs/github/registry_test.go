package github_test

import (
	"context"
	"testing"

	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRegistryFollowUnfollow follows a repository through the fake: a
// gh/ project, the vault's checkout key as the deploy key (its private
// half sealed in the vault), a webhook whose secret the registry opens
// again; unfollowing removes both and forgets the secret.
func TestRegistryFollowUnfollow(t *testing.T) {
	fake, d, _ := setup(t)
	dir := t.TempDir()
	db, err := boltkv.Open(dir+"/kv.db", boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	keys, err := keyfile.New(keyfile.Config{Path: dir + "/master.keys"})
	require.NoError(t, err)
	sealer := secrets.NewSealer(keys)
	st := store.New(db, nil)
	v := vault.New(st, sealer)
	reg := &github.Registry{KV: db, Sealer: sealer}
	ctx := context.Background()

	p, err := reg.Follow(ctx, d, v, st, github.FollowRequest{Token: monaTok, Owner: "acme", Repo: "api", WebhookURL: "https://orbit.example.com/webhooks/github"})
	require.NoError(t, err)
	assert.Equal(t, "gh/acme/api", p.Slug)
	assert.Equal(t, fake.URL+"/acme/api.git", p.RepoURL)
	keysOnGitHub, hooks := fake.Keys("acme", "api"), fake.Hooks("acme", "api")
	require.Len(t, keysOnGitHub, 1)
	require.Len(t, hooks, 1)
	checkout, err := v.ListKeys(ctx, "gh/acme/api", store.SSHKeyCheckout)
	require.NoError(t, err)
	require.Len(t, checkout, 1)
	assert.Equal(t, checkout[0].PublicKey, keysOnGitHub[0].Key, "the deploy key is the vault's checkout key")
	slug, secret, err := reg.WebhookSecret(ctx, "acme", "api")
	require.NoError(t, err)
	assert.Equal(t, "gh/acme/api", slug)
	assert.Equal(t, hooks[0].Secret, string(secret))
	assert.Len(t, secret, 64)

	_, err = reg.Follow(ctx, d, v, st, github.FollowRequest{Token: monaTok, Owner: "acme", Repo: "api"})
	assert.ErrorIs(t, err, store.ErrExists)

	require.NoError(t, reg.Unfollow(ctx, d, monaTok, "acme", "api"))
	assert.Empty(t, fake.Keys("acme", "api"))
	assert.Empty(t, fake.Hooks("acme", "api"))
	_, _, err = reg.WebhookSecret(ctx, "acme", "api")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
