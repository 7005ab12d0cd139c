package oidc

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/orbit-ci/orbit/shared/kv"
)

// keyBits is the size of the RSA signing key.
const keyBits = 2048

const (
	keyPK = "OIDC#KEY"
	keySK = "CURRENT"
)

// storedKey is the kv record: the private key (PKCS #8) sealed.
type storedKey struct {
	KID    string `json:"kid"`
	Sealed []byte `json:"sealed"`
}

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

func keyAAD(kid string) map[string]string {
	return map[string]string{"orbit:scope": "oidc", "orbit:name": "signing-key/" + kid}
}

// signer returns the signing key: the cached one, the stored one, or a new
// one stored if none is (the first writer wins a race).
func (i *Issuer) signer(ctx context.Context) (*signingKey, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.key != nil {
		return i.key, nil
	}
	for range 3 {
		k, err := i.loadKey(ctx)
		if err == nil {
			i.key = k
			return k, nil
		}
		if !errors.Is(err, kv.ErrNotFound) {
			return nil, err
		}
		if err := i.makeKey(ctx); err != nil && !errors.Is(err, kv.ErrConflict) {
			return nil, err
		}
	}
	return nil, errors.New("oidc: the signing key could not be stored")
}

func (i *Issuer) loadKey(ctx context.Context) (*signingKey, error) {
	it, err := i.cfg.KV.Get(ctx, keyPK, keySK)
	if err != nil {
		return nil, err
	}
	var sk storedKey
	if err := json.Unmarshal(it.Data, &sk); err != nil {
		return nil, fmt.Errorf("decode the OIDC signing key: %w", err)
	}
	der, err := i.cfg.Sealer.Open(ctx, sk.Sealed, keyAAD(sk.KID))
	if err != nil {
		return nil, fmt.Errorf("open the OIDC signing key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse the OIDC signing key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the OIDC signing key is not an RSA key")
	}
	return &signingKey{kid: sk.KID, key: rk}, nil
}

func (i *Issuer) makeKey(ctx context.Context) error {
	k, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	kid := thumbprint(&k.PublicKey)
	sealed, err := i.cfg.Sealer.Seal(ctx, der, keyAAD(kid))
	if err != nil {
		return fmt.Errorf("seal the OIDC signing key: %w", err)
	}
	b, err := json.Marshal(storedKey{KID: kid, Sealed: sealed})
	if err != nil {
		return err
	}
	_, err = i.cfg.KV.Put(ctx, kv.Item{PK: keyPK, SK: keySK, Data: b}, kv.Condition{IfNotExists: true})
	return err
}

// JWK is one public key of the JWKS.
type JWK struct {
	KTY string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	KID string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS is the key set served at JWKSPath.
func (i *Issuer) JWKS(ctx context.Context) (map[string][]JWK, error) {
	k, err := i.signer(ctx)
	if err != nil {
		return nil, err
	}
	pub := k.key.PublicKey
	return map[string][]JWK{"keys": {{KTY: "RSA", Use: "sig", Alg: "RS256", KID: k.kid,
		N: b64(pub.N.Bytes()), E: b64(big.NewInt(int64(pub.E)).Bytes())}}}, nil
}

// thumbprint is the RFC 7638 thumbprint of an RSA key, its key id.
func thumbprint(pub *rsa.PublicKey) string {
	j := fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, b64(big.NewInt(int64(pub.E)).Bytes()), b64(pub.N.Bytes()))
	sum := sha256.Sum256([]byte(j))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// sign makes a compact RS256 JWS of claims.
func (k *signingKey) sign(claims map[string]any) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": k.kid})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

// ParseJWKS reads a served key set (JWKSPath) into its RSA public keys by
// key id: what a verifier of Orbit's tokens does.
func ParseJWKS(data []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []JWK `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	out := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.KTY != "RSA" {
			continue
		}
		n, err := base64.RawURLEncoding.DecodeString(k.N)
		if err != nil {
			return nil, fmt.Errorf("JWKS key %s: n: %w", k.KID, err)
		}
		e, err := base64.RawURLEncoding.DecodeString(k.E)
		if err != nil {
			return nil, fmt.Errorf("JWKS key %s: e: %w", k.KID, err)
		}
		out[k.KID] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return out, nil
}
