package secrets_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
)

func newKeys(t *testing.T) secrets.Keys {
	t.Helper()
	k, err := keyfile.New(keyfile.Config{Path: filepath.Join(t.TempDir(), "keys.json")})
	require.NoError(t, err)
	return k
}

var aad = map[string]string{"orbit:scope": "project/local/acme/api", "orbit:name": "TOKEN"}

// TestEnvelopeLayout pins the documented format, which sealed values in
// every store depend on.
func TestEnvelopeLayout(t *testing.T) {
	k := newKeys(t)
	sealed, err := secrets.Seal(t.Context(), k, []byte("hello"), aad)
	require.NoError(t, err)
	id, err := secrets.KeyID(sealed)
	require.NoError(t, err)

	require.Equal(t, "osv\x01", string(sealed[:4]))
	rest := sealed[4:]
	n := int(binary.BigEndian.Uint16(rest))
	assert.Equal(t, id, string(rest[2:2+n]))
	rest = rest[2+n:]
	m := int(binary.BigEndian.Uint16(rest))
	rest = rest[2+m:]
	assert.Len(t, rest, 12+len("hello")+16, "nonce, ciphertext, tag")
}

// TestOpenGarbageNeverPanics feeds Open random and half-valid input: every
// answer is ErrDecrypt, none a panic.
func TestOpenGarbageNeverPanics(t *testing.T) {
	ctx := t.Context()
	k := newKeys(t)
	valid, err := secrets.Seal(ctx, k, []byte("a value"), aad)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: a failure reproduces

	check := func(b []byte) {
		t.Helper()
		var err error
		require.NotPanics(t, func() { _, err = secrets.Open(ctx, k, b, aad) }, "input %x", b)
		require.ErrorIs(t, err, secrets.ErrDecrypt, "input %x", b)
		require.NotPanics(t, func() { _, _ = secrets.KeyID(b) }, "input %x", b)
	}
	randomBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for range 5000 {
		// Random bytes.
		check(randomBytes(rng.IntN(300)))
		// The magic, then random fields.
		check(append([]byte("osv\x01"), randomBytes(rng.IntN(300))...))
		// Plausible lengths with random content.
		b := []byte("osv\x01")
		b = binary.BigEndian.AppendUint16(b, uint16(rng.IntN(40)))
		b = append(b, randomBytes(rng.IntN(40))...)
		b = binary.BigEndian.AppendUint16(b, uint16(rng.IntN(80)))
		check(append(b, randomBytes(rng.IntN(120))...))
		// A valid envelope with a few random bytes changed.
		c := bytes.Clone(valid)
		for range 1 + rng.IntN(4) {
			c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
		}
		check(c)
	}
}

func TestKeyID(t *testing.T) {
	k := newKeys(t)
	sealed, err := secrets.Seal(t.Context(), k, []byte("x"), aad)
	require.NoError(t, err)
	dk, err := k.GenerateDataKey(t.Context(), nil)
	require.NoError(t, err)
	id, err := secrets.KeyID(sealed)
	require.NoError(t, err)
	assert.Equal(t, dk.KeyID, id)

	_, err = secrets.KeyID([]byte("not sealed"))
	assert.ErrorIs(t, err, secrets.ErrDecrypt)
}

func TestSealer(t *testing.T) {
	s := secrets.NewSealer(newKeys(t))
	sealed, err := s.Seal(t.Context(), []byte("v"), aad)
	require.NoError(t, err)
	got, err := s.Open(t.Context(), sealed, aad)
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
	_, err = s.Open(t.Context(), sealed, nil)
	assert.ErrorIs(t, err, secrets.ErrDecrypt)
}

// fakeKeys returns fixed answers, to test what Seal and Open make of a
// misbehaving key service.
type fakeKeys struct {
	dk     secrets.DataKey
	genErr error
	key    []byte
	decErr error
}

func (f *fakeKeys) GenerateDataKey(context.Context, map[string]string) (secrets.DataKey, error) {
	return f.dk, f.genErr
}

func (f *fakeKeys) DecryptDataKey(context.Context, string, []byte, map[string]string) ([]byte, error) {
	return f.key, f.decErr
}

func TestSealChecksKeyService(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	unavailable := errors.New("kms unavailable")
	tests := []struct {
		name string
		keys fakeKeys
		want string
	}{
		{"error", fakeKeys{genErr: unavailable}, "secrets: generate data key: kms unavailable"},
		{"short key", fakeKeys{dk: secrets.DataKey{KeyID: "k", Plaintext: key[:16], Wrapped: []byte{1}}}, "16-byte data key, want 32"},
		{"no key id", fakeKeys{dk: secrets.DataKey{Plaintext: key, Wrapped: []byte{1}}}, "invalid key id"},
		{"key id with space", fakeKeys{dk: secrets.DataKey{KeyID: "a b", Plaintext: key, Wrapped: []byte{1}}}, "invalid key id"},
		{"no wrapped key", fakeKeys{dk: secrets.DataKey{KeyID: "k", Plaintext: key}}, "0-byte wrapped key"},
		{"huge wrapped key", fakeKeys{dk: secrets.DataKey{KeyID: "k", Plaintext: key, Wrapped: make([]byte, 1<<16)}}, "65536-byte wrapped key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := secrets.Seal(t.Context(), &tc.keys, []byte("v"), nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotErrorIs(t, err, secrets.ErrDecrypt)
		})
	}
}

func TestSealZeroesDataKey(t *testing.T) {
	f := &fakeKeys{dk: secrets.DataKey{KeyID: "k", Plaintext: bytes.Repeat([]byte{7}, 32), Wrapped: []byte{1}}}
	_, err := secrets.Seal(t.Context(), f, []byte("v"), nil)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, 32), f.dk.Plaintext)
}

func TestOpenKeyServiceErrors(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	f := &fakeKeys{dk: secrets.DataKey{KeyID: "k", Plaintext: bytes.Clone(key), Wrapped: []byte{1}}}
	sealed, err := secrets.Seal(t.Context(), f, []byte("v"), nil)
	require.NoError(t, err)

	// An operational error passes through and is not ErrDecrypt.
	unavailable := errors.New("kms unavailable")
	_, err = secrets.Open(t.Context(), &fakeKeys{decErr: unavailable}, sealed, nil)
	assert.ErrorIs(t, err, unavailable)
	assert.NotErrorIs(t, err, secrets.ErrDecrypt)
	assert.Contains(t, err.Error(), "master key k")

	_, err = secrets.Open(t.Context(), &fakeKeys{key: bytes.Clone(key[:31])}, sealed, nil)
	assert.ErrorContains(t, err, "31-byte data key")

	returned := bytes.Clone(key)
	got, err := secrets.Open(t.Context(), &fakeKeys{key: returned}, sealed, nil)
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
	assert.Equal(t, make([]byte, 32), returned, "Open zeroes the data key")
}

// TestGCMBindsContextAndHeader uses a key service that ignores everything
// it is given, so only the GCM layer can refuse: the aad and the header
// must be its additional data, and each seal must draw a fresh nonce.
func TestGCMBindsContextAndHeader(t *testing.T) {
	ctx := t.Context()
	key := bytes.Repeat([]byte{7}, 32)
	blind := &blindKeys{key: key}
	a, err := secrets.Seal(ctx, blind, []byte("v"), aad)
	require.NoError(t, err)
	b, err := secrets.Seal(ctx, blind, []byte("v"), aad)
	require.NoError(t, err)
	nonce := func(s []byte) []byte { return s[len(s)-12-1-16 : len(s)-1-16] }
	assert.NotEqual(t, nonce(a), nonce(b), "the same data key twice must not get the same nonce")

	_, err = secrets.Open(ctx, blind, a, map[string]string{"orbit:scope": "project/local/acme/api", "orbit:name": "OTHER"})
	assert.ErrorIs(t, err, secrets.ErrDecrypt, "other context")

	otherID := bytes.Clone(a)
	otherID[6] ^= 1 // first byte of the key id ("k" -> "j")
	_, err = secrets.Open(ctx, blind, otherID, aad)
	assert.ErrorIs(t, err, secrets.ErrDecrypt, "other key id")

	otherWrapped := bytes.Clone(a)
	otherWrapped[9] ^= 1 // the wrapped key's byte
	_, err = secrets.Open(ctx, blind, otherWrapped, aad)
	assert.ErrorIs(t, err, secrets.ErrDecrypt, "other wrapped key")

	got, err := secrets.Open(ctx, blind, a, aad)
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
}

// blindKeys hands out one data key with key id "k" and a 1-byte wrapped
// key, and unwraps anything to it.
type blindKeys struct{ key []byte }

func (b *blindKeys) GenerateDataKey(context.Context, map[string]string) (secrets.DataKey, error) {
	return secrets.DataKey{KeyID: "k", Plaintext: bytes.Clone(b.key), Wrapped: []byte{1}}, nil
}

func (b *blindKeys) DecryptDataKey(context.Context, string, []byte, map[string]string) ([]byte, error) {
	return bytes.Clone(b.key), nil
}

func TestCanonicalContext(t *testing.T) {
	assert.Equal(t, []byte{0, 0, 0, 0}, secrets.CanonicalContext(nil))
	assert.Equal(t, secrets.CanonicalContext(nil), secrets.CanonicalContext(map[string]string{}))
	assert.Equal(t,
		[]byte("\x00\x00\x00\x02"+"\x00\x00\x00\x01a\x00\x00\x00\x02bc"+"\x00\x00\x00\x01b\x00\x00\x00\x00"),
		secrets.CanonicalContext(map[string]string{"b": "", "a": "bc"}))
	assert.NotEqual(t,
		secrets.CanonicalContext(map[string]string{"ab": "c"}),
		secrets.CanonicalContext(map[string]string{"a": "bc"}))
}

func TestMask(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"empty", "", "xxxx"},
		{"short", "abc", "xxxx"},
		{"four", "abcd", "xxxx"},
		{"five", "abcde", "xxxxbcde"},
		{"token", "ghp_0123456789abcdefWXYZ", "xxxxWXYZ"},
		{"runes", "pässwörd✓", "xxxxörd✓"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, secrets.Mask(tc.value))
		})
	}
}
