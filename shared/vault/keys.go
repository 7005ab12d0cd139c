package vault

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/store"
	"golang.org/x/crypto/ssh"
)

// Checkout key types, as CircleCI's API names them.
const (
	DeployKey = "deploy-key"
	UserKey   = "user-key"
)

// CreateCheckoutKey generates a checkout key for the project: an Ed25519
// key pair whose public half the user adds to the repository host as a
// deploy key. The newest checkout key is the preferred one, which checkout
// uses.
func (v *Vault) CreateCheckoutKey(ctx context.Context, slug, typ string) (store.SSHKey, error) {
	switch typ {
	case DeployKey:
	case UserKey:
		return store.SSHKey{}, invalid("a user key is created through a GitHub login, which this installation does not have; create a %s", DeployKey)
	default:
		return store.SSHKey{}, invalid("checkout key type %q: want %s or %s", typ, DeployKey, UserKey)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return store.SSHKey{}, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "orbit checkout key for "+slug)
	if err != nil {
		return store.SSHKey{}, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return store.SSHKey{}, err
	}
	return v.storeKey(ctx, slug, store.SSHKey{Kind: store.SSHKeyCheckout, Type: typ}, sshPub, pem.EncodeToMemory(block))
}

// AddSSHKey stores an additional SSH key of the project (a PEM or OpenSSH
// private key without a passphrase), used for hostname ("" for every host)
// by add_ssh_keys.
func (v *Vault) AddSSHKey(ctx context.Context, slug, hostname, privateKey string) (store.SSHKey, error) {
	if strings.ContainsAny(hostname, " \t\n*?") {
		return store.SSHKey{}, invalid("hostname %q", hostname)
	}
	signer, err := ssh.ParsePrivateKey([]byte(privateKey))
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return store.SSHKey{}, invalid("the private key has a passphrase; add a key without one")
	case err != nil:
		return store.SSHKey{}, invalid("not a PEM or OpenSSH private key: %v", err)
	}
	return v.storeKey(ctx, slug, store.SSHKey{Kind: store.SSHKeyAdditional, Hostname: hostname}, signer.PublicKey(), []byte(privateKey))
}

func keyAAD(slug string, k store.SSHKey) map[string]string {
	return map[string]string{"orbit:scope": "PROJECT#" + slug, "orbit:key": k.Kind + "#" + k.Fingerprint}
}

func (v *Vault) storeKey(ctx context.Context, slug string, k store.SSHKey, pub ssh.PublicKey, private []byte) (store.SSHKey, error) {
	k.Fingerprint = ssh.FingerprintSHA256(pub)
	k.MD5 = strings.TrimPrefix(ssh.FingerprintLegacyMD5(pub), "MD5:")
	k.PublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	sealed, err := v.seal.Seal(ctx, private, keyAAD(slug, k))
	if err != nil {
		return store.SSHKey{}, fmt.Errorf("seal key %s: %w", k.Fingerprint, err)
	}
	k.SealedKey = sealed
	k, err = v.st.CreateSSHKey(ctx, slug, k)
	if err != nil {
		return store.SSHKey{}, err
	}
	return v.withPreferred(ctx, slug, k)
}

// ListKeys returns the project's keys of a kind (store.SSHKeyCheckout or
// store.SSHKeyAdditional), oldest first, without their private keys.
func (v *Vault) ListKeys(ctx context.Context, slug, kind string) ([]store.SSHKey, error) {
	keys, err := v.st.ListSSHKeys(ctx, slug, kind)
	if err != nil {
		return nil, err
	}
	for i := range keys {
		keys[i].SealedKey = nil
		keys[i].Preferred = kind == store.SSHKeyCheckout && i == len(keys)-1
	}
	return keys, nil
}

func (v *Vault) withPreferred(ctx context.Context, slug string, k store.SSHKey) (store.SSHKey, error) {
	keys, err := v.ListKeys(ctx, slug, k.Kind)
	if err != nil {
		return store.SSHKey{}, err
	}
	for _, c := range keys {
		if c.Fingerprint == k.Fingerprint {
			return c, nil
		}
	}
	return store.SSHKey{}, fmt.Errorf("key %s: %w", k.Fingerprint, store.ErrNotFound)
}

// GetKey returns a key by its SHA256 ("SHA256:…", also in URL-safe base64
// for URL paths) or MD5 ("aa:bb:…", with or without colons) fingerprint.
func (v *Vault) GetKey(ctx context.Context, slug, kind, fingerprint string) (store.SSHKey, error) {
	keys, err := v.ListKeys(ctx, slug, kind)
	if err != nil {
		return store.SSHKey{}, err
	}
	want := strings.TrimPrefix(fingerprint, "MD5:")
	for _, k := range keys {
		if k.Fingerprint == fingerprint || urlSafe.Replace(k.Fingerprint) == fingerprint || strings.EqualFold(k.MD5, want) || strings.EqualFold(strings.ReplaceAll(k.MD5, ":", ""), want) {
			return k, nil
		}
	}
	return store.SSHKey{}, fmt.Errorf("%s key %s: %w", kind, fingerprint, store.ErrNotFound)
}

var urlSafe = strings.NewReplacer("+", "-", "/", "_")

// DeleteKey deletes a key named by either fingerprint.
func (v *Vault) DeleteKey(ctx context.Context, slug, kind, fingerprint string) error {
	k, err := v.GetKey(ctx, slug, kind, fingerprint)
	if err != nil {
		return err
	}
	return v.st.DeleteSSHKey(ctx, slug, kind, k.Fingerprint)
}

// addKeys opens the preferred checkout key and the additional keys into
// the task's spec.
func (v *Vault) addKeys(ctx context.Context, spec *runner.TaskSpec) error {
	checkout, err := v.st.ListSSHKeys(ctx, spec.ProjectSlug, store.SSHKeyCheckout)
	if err != nil {
		return err
	}
	if n := len(checkout); n > 0 {
		key, err := v.openKey(ctx, spec.ProjectSlug, checkout[n-1])
		if err != nil {
			return err
		}
		spec.Checkout.SSHKey = key
	}
	extra, err := v.st.ListSSHKeys(ctx, spec.ProjectSlug, store.SSHKeyAdditional)
	if err != nil {
		return err
	}
	for _, k := range extra {
		key, err := v.openKey(ctx, spec.ProjectSlug, k)
		if err != nil {
			return err
		}
		spec.SSHKeys = append(spec.SSHKeys, runner.SSHKey{Fingerprint: k.Fingerprint, MD5: k.MD5, Hostname: k.Hostname, PrivateKey: key})
	}
	return nil
}

func (v *Vault) openKey(ctx context.Context, slug string, k store.SSHKey) (string, error) {
	b, err := v.seal.Open(ctx, k.SealedKey, keyAAD(slug, k))
	if err != nil {
		return "", fmt.Errorf("open key %s: %w", k.Fingerprint, err)
	}
	return string(b), nil
}
