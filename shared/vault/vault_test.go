package vault_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
)

func newVault(t *testing.T) (*vault.Vault, *store.Store) {
	t.Helper()
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "orbit.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	st := store.New(db, nil)
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(t.TempDir(), "master.keys")})
	require.NoError(t, err)
	return vault.New(st, secrets.NewSealer(keys)), st
}

func TestVarsAreMaskedAndValidated(t *testing.T) {
	ctx := context.Background()
	v, _ := newVault(t)
	scope := store.ProjectScope("local/acme/api")
	got, err := v.SetVar(ctx, scope, "TOKEN", "s3cret-value")
	require.NoError(t, err)
	assert.Equal(t, "xxxxalue", got.Masked)
	created := got.CreatedAt

	got, err = v.SetVar(ctx, scope, "TOKEN", "replaced!")
	require.NoError(t, err)
	assert.Equal(t, "xxxxced!", got.Masked)
	assert.Equal(t, created, got.CreatedAt, "replacing keeps the creation time")

	list, err := v.ListVars(ctx, scope)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "xxxxced!", list[0].Masked)

	for _, bad := range []string{"", "1ABC", "A-B", "A B", "É"} {
		_, err := v.SetVar(ctx, scope, bad, "x")
		assert.ErrorIs(t, err, vault.ErrInvalid, bad)
	}
	_, err = v.SetVar(ctx, scope, "BIG", strings.Repeat("x", vault.MaxValue+1))
	assert.ErrorIs(t, err, vault.ErrInvalid)

	require.NoError(t, v.DeleteVar(ctx, scope, "TOKEN"))
	assert.ErrorIs(t, v.DeleteVar(ctx, scope, "TOKEN"), store.ErrNotFound)
	_, err = v.GetVar(ctx, scope, "TOKEN")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// TestSealedValueIsBoundToItsPlace: a sealed value copied into another
// variable's record does not open there (values are opened only for a
// task's spec; reads show the mask kept at write time).
func TestSealedValueIsBoundToItsPlace(t *testing.T) {
	ctx := context.Background()
	v, st := newVault(t)
	a, b := store.ProjectScope("local/acme/a"), store.ProjectScope("local/acme/b")
	_, err := v.SetVar(ctx, a, "TOKEN", "value-of-a")
	require.NoError(t, err)
	rec, err := st.GetVar(ctx, a, "TOKEN")
	require.NoError(t, err)
	assert.NotContains(t, string(rec.Sealed), "value-of-a")
	_, err = st.PutVar(ctx, b, rec)
	require.NoError(t, err)
	_, err = v.AddTaskSecrets(ctx, &runner.TaskSpec{ProjectSlug: "local/acme/b"}, nil)
	assert.Error(t, err)
}

func TestContexts(t *testing.T) {
	ctx := context.Background()
	v, st := newVault(t)
	c, err := v.CreateContext(ctx, "local/acme", "prod")
	require.NoError(t, err)
	_, err = v.CreateContext(ctx, "local/acme", "prod")
	assert.ErrorIs(t, err, store.ErrExists)
	_, err = v.CreateContext(ctx, "local/other", "prod")
	assert.NoError(t, err, "names are unique per owner")
	for _, bad := range []struct{ owner, name string }{{"local/acme", ""}, {"local/acme", "a/b"}, {"acme", "x"}, {"local/acme/api", "x"}} {
		_, err := v.CreateContext(ctx, bad.owner, bad.name)
		assert.ErrorIs(t, err, vault.ErrInvalid, bad)
	}
	_, err = v.SetVar(ctx, store.ContextScope(c.ID), "KEY", "ctx-value")
	require.NoError(t, err)

	reason, err := v.ContextsDenied(ctx, "local/acme/api", []string{"prod"})
	require.NoError(t, err)
	assert.Empty(t, reason)
	reason, err = v.ContextsDenied(ctx, "local/acme/api", []string{"prod", "staging"})
	require.NoError(t, err)
	assert.Equal(t, `there is no context named "staging" in local/acme`, reason)

	// Project restrictions: only the named projects may use the context.
	r, err := v.Restrict(ctx, c.ID, "local/acme/web")
	require.NoError(t, err)
	again, err := v.Restrict(ctx, c.ID, "local/acme/web")
	require.NoError(t, err)
	assert.Equal(t, r.ID, again.ID, "restricting twice keeps one restriction")
	reason, err = v.ContextsDenied(ctx, "local/acme/api", []string{"prod"})
	require.NoError(t, err)
	assert.Equal(t, `the context "prod" is restricted to other projects`, reason)
	reason, err = v.ContextsDenied(ctx, "local/acme/web", []string{"prod"})
	require.NoError(t, err)
	assert.Empty(t, reason)
	_, err = v.Restrict(ctx, c.ID, "local/other/api")
	assert.ErrorIs(t, err, vault.ErrInvalid, "a project of another owner")
	require.NoError(t, v.Unrestrict(ctx, c.ID, r.ID))
	assert.ErrorIs(t, v.Unrestrict(ctx, c.ID, r.ID), store.ErrNotFound)
	reason, err = v.ContextsDenied(ctx, "local/acme/api", []string{"prod"})
	require.NoError(t, err)
	assert.Empty(t, reason)

	require.NoError(t, st.DeleteContext(ctx, c.ID))
	reason, err = v.ContextsDenied(ctx, "local/acme/api", []string{"prod"})
	require.NoError(t, err)
	assert.Contains(t, reason, `"prod"`)
	vars, err := st.ListVars(ctx, store.ContextScope(c.ID))
	require.NoError(t, err)
	assert.Empty(t, vars, "a deleted context's variables go with it")
	_, err = v.CreateContext(ctx, "local/acme", "prod")
	assert.NoError(t, err, "the name is free again")
}

// TestAddTaskSecrets: project variables, then each context's in the order
// named, after what the spec has; values of 4+ characters are masked.
func TestAddTaskSecrets(t *testing.T) {
	ctx := context.Background()
	v, _ := newVault(t)
	slug := "local/acme/api"
	ps := store.ProjectScope(slug)
	for name, val := range map[string]string{"A": "project-a", "SHARED": "from-project", "PIN": "123"} {
		_, err := v.SetVar(ctx, ps, name, val)
		require.NoError(t, err)
	}
	c1, err := v.CreateContext(ctx, "local/acme", "one")
	require.NoError(t, err)
	c2, err := v.CreateContext(ctx, "local/acme", "two")
	require.NoError(t, err)
	_, err = v.SetVar(ctx, store.ContextScope(c1.ID), "SHARED", "from-one")
	require.NoError(t, err)
	_, err = v.SetVar(ctx, store.ContextScope(c2.ID), "SHARED", "line1-secret\nline2-secret")
	require.NoError(t, err)
	ck, err := v.CreateCheckoutKey(ctx, slug, vault.DeployKey)
	require.NoError(t, err)

	spec := runner.TaskSpec{ProjectSlug: slug, Environment: []runner.EnvVar{{Name: "CI", Value: "true"}}}
	denied, err := v.AddTaskSecrets(ctx, &spec, []string{"two", "one"})
	require.NoError(t, err)
	assert.Empty(t, denied)
	assert.Equal(t, []runner.EnvVar{
		{Name: "CI", Value: "true"},
		{Name: "A", Value: "project-a"}, {Name: "PIN", Value: "123"}, {Name: "SHARED", Value: "from-project"},
		{Name: "SHARED", Value: "line1-secret\nline2-secret"},
		{Name: "SHARED", Value: "from-one"},
	}, spec.Environment)
	assert.ElementsMatch(t, []string{"project-a", "from-project", "line1-secret", "line2-secret", "from-one"}, spec.Secrets)

	signer, err := ssh.ParsePrivateKey([]byte(spec.Checkout.SSHKey))
	require.NoError(t, err, "the checkout key is opened for the task")
	assert.Equal(t, ck.Fingerprint, ssh.FingerprintSHA256(signer.PublicKey()))

	denied, err = v.AddTaskSecrets(ctx, &runner.TaskSpec{ProjectSlug: slug}, []string{"missing"})
	require.NoError(t, err)
	assert.Equal(t, `there is no context named "missing" in local/acme`, denied)
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	v, _ := newVault(t)
	slug := "local/acme/api"
	_, err := v.CreateCheckoutKey(ctx, slug, vault.UserKey)
	assert.ErrorIs(t, err, vault.ErrInvalid)
	_, err = v.CreateCheckoutKey(ctx, slug, "other")
	assert.ErrorIs(t, err, vault.ErrInvalid)
	first, err := v.CreateCheckoutKey(ctx, slug, vault.DeployKey)
	require.NoError(t, err)
	assert.True(t, first.Preferred)
	assert.Nil(t, first.SealedKey)
	assert.True(t, strings.HasPrefix(first.PublicKey, "ssh-ed25519 "))
	second, err := v.CreateCheckoutKey(ctx, slug, vault.DeployKey)
	require.NoError(t, err)
	keys, err := v.ListKeys(ctx, slug, store.SSHKeyCheckout)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.False(t, keys[0].Preferred)
	assert.True(t, keys[1].Preferred, "the newest checkout key is preferred")
	got, err := v.GetKey(ctx, slug, store.SSHKeyCheckout, second.MD5)
	require.NoError(t, err)
	assert.Equal(t, second.Fingerprint, got.Fingerprint, "found by MD5 fingerprint")

	// Additional keys: PKCS#8 PEM accepted, garbage and passphrases refused.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	added, err := v.AddSSHKey(ctx, slug, "git.example.com", pemKey)
	require.NoError(t, err)
	assert.Equal(t, "git.example.com", added.Hostname)
	_, err = v.AddSSHKey(ctx, slug, "", "not a key")
	assert.ErrorIs(t, err, vault.ErrInvalid)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("pw"))
	require.NoError(t, err)
	_, err = v.AddSSHKey(ctx, slug, "", string(pem.EncodeToMemory(block)))
	require.ErrorIs(t, err, vault.ErrInvalid)
	assert.Contains(t, err.Error(), "passphrase")
	_, err = v.AddSSHKey(ctx, slug, "bad host", pemKey)
	assert.ErrorIs(t, err, vault.ErrInvalid)

	spec := runner.TaskSpec{ProjectSlug: slug}
	denied, err := v.AddTaskSecrets(ctx, &spec, nil)
	require.NoError(t, err)
	assert.Empty(t, denied)
	require.Len(t, spec.SSHKeys, 1)
	assert.Equal(t, pemKey, spec.SSHKeys[0].PrivateKey)
	assert.Equal(t, added.MD5, spec.SSHKeys[0].MD5)

	require.NoError(t, v.DeleteKey(ctx, slug, store.SSHKeyAdditional, added.Fingerprint))
	assert.ErrorIs(t, v.DeleteKey(ctx, slug, store.SSHKeyAdditional, added.Fingerprint), store.ErrNotFound)
}
