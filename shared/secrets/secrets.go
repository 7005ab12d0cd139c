// Package secrets is Orbit's secrets port: envelope encryption of small
// values (environment variables, SSH keys) with a fresh AES-256-GCM data key
// per value, the data key wrapped by a key service that holds the master
// keys: KMS in AWS (kmskeys), a local key file in the embedded shape
// (keyfile).
//
//	Seal(plaintext, aad)
//	  keys.GenerateDataKey(aad) ──► data key (plaintext + wrapped, key id)
//	  AES-256-GCM(data key, random nonce, additional data = header + aad)
//	  zero the data key
//	  ──► envelope: "osv" 1 │ key id │ wrapped data key │ nonce │ ciphertext+tag
//
//	Open(envelope, aad)
//	  parse ──► keys.DecryptDataKey(key id, wrapped, aad) ──► data key
//	  AES-256-GCM open, zero the data key ──► plaintext
//
// Contract (pinned down by secretstest.Run against every driver):
//
//   - aad, the encryption context (for example {"orbit:scope":
//     "project/local/acme/api", "orbit:name": "TOKEN"}), is bound twice: to
//     the data key (KMS EncryptionContext; the key file's wrap) and to the
//     GCM additional data, together with the envelope's header. A sealed
//     value opens only with the same aad, so one copied into another
//     variable's record does not open. A nil aad equals an empty one.
//   - Two seals of the same value differ (fresh data key and nonce).
//   - Open fails with an error wrapping ErrDecrypt, and never panics, when
//     the envelope is truncated, extended, spliced or has any bit changed,
//     when aad differs, or when its master key is unknown to the key
//     service. Other errors (the key service unreachable or throttling) do
//     not wrap ErrDecrypt: retrying them may succeed.
//   - After a key rotation every value sealed before it still opens; new
//     seals use the newest master key. The envelope records which master
//     key wrapped its data key (KeyID).
//   - No error message contains plaintext or key bytes.
//   - Seal, Open and every Keys driver are safe for concurrent use.
//
// The envelope format, big-endian:
//
//	"osv" 0x01          magic and version
//	uint16 n, n bytes   master key id (printable ASCII, 1..2048 bytes)
//	uint16 m, m bytes   wrapped data key (1..65535 bytes)
//	12 bytes            GCM nonce
//	rest                AES-256-GCM ciphertext and 16-byte tag
package secrets

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrDecrypt says a sealed value cannot be opened: it was changed, it is not
// an envelope, it belongs to another context, or its master key is unknown.
var ErrDecrypt = errors.New("secrets: cannot open sealed value")

// DataKeySize is the length of a data key: AES-256.
const DataKeySize = 32

// MaxKeyIDLen bounds a master key id (a KMS key ARN is at most 2048 bytes).
const MaxKeyIDLen = 2048

const (
	magic     = "osv\x01"
	nonceSize = 12
	tagSize   = 16
)

// DataKey is a fresh data key from a key service.
type DataKey struct {
	// KeyID names the master key that wrapped the data key; Open passes it
	// back to DecryptDataKey. Printable ASCII, 1..MaxKeyIDLen bytes.
	KeyID string
	// Plaintext is the DataKeySize-byte data key. Seal zeroes it after use.
	Plaintext []byte
	// Wrapped is the data key encrypted under the master key, bound to the
	// aad it was generated with.
	Wrapped []byte
}

// Keys is a key service holding master keys: what a driver implements.
// Implementations are safe for concurrent use and never put key bytes in
// errors.
type Keys interface {
	// GenerateDataKey returns a fresh random data key wrapped by the newest
	// master key and bound to aad.
	GenerateDataKey(ctx context.Context, aad map[string]string) (DataKey, error)
	// DecryptDataKey unwraps a data key that GenerateDataKey returned. It
	// returns an error wrapping ErrDecrypt when wrapped does not open under
	// keyID with aad: changed, bound to other aad, or keyID unknown (any
	// master key ever used, rotated or not, is known). The caller zeroes
	// the returned key.
	DecryptDataKey(ctx context.Context, keyID string, wrapped []byte, aad map[string]string) ([]byte, error)
}

// Seal encrypts plaintext (any length, empty included) under a fresh data
// key from keys, bound to aad, and returns the envelope.
func Seal(ctx context.Context, keys Keys, plaintext []byte, aad map[string]string) ([]byte, error) {
	dk, err := keys.GenerateDataKey(ctx, aad)
	if err != nil {
		return nil, fmt.Errorf("secrets: generate data key: %w", err)
	}
	defer clear(dk.Plaintext)
	switch {
	case len(dk.Plaintext) != DataKeySize:
		return nil, fmt.Errorf("secrets: key service returned a %d-byte data key, want %d", len(dk.Plaintext), DataKeySize)
	case !validKeyID(dk.KeyID):
		return nil, fmt.Errorf("secrets: key service returned an invalid key id (%d bytes)", len(dk.KeyID))
	case len(dk.Wrapped) == 0 || len(dk.Wrapped) > 0xffff:
		return nil, fmt.Errorf("secrets: key service returned a %d-byte wrapped key, want 1..65535", len(dk.Wrapped))
	}
	aead, err := newGCM(dk.Plaintext)
	if err != nil {
		return nil, err
	}

	out := make([]byte, 0, len(magic)+2+len(dk.KeyID)+2+len(dk.Wrapped)+nonceSize+len(plaintext)+tagSize)
	out = append(out, magic...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(dk.KeyID)))
	out = append(out, dk.KeyID...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(dk.Wrapped)))
	out = append(out, dk.Wrapped...)
	header := out
	nonce := out[len(out) : len(out)+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secrets: nonce: %w", err)
	}
	out = out[:len(out)+nonceSize]
	return aead.Seal(out, nonce, plaintext, additionalData(header, aad)), nil
}

// Open decrypts an envelope that Seal returned with the same aad. See the
// package comment for what fails with ErrDecrypt.
func Open(ctx context.Context, keys Keys, sealed []byte, aad map[string]string) ([]byte, error) {
	env, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	key, err := keys.DecryptDataKey(ctx, env.keyID, env.wrapped, aad)
	if err != nil {
		return nil, fmt.Errorf("secrets: open data key of master key %s: %w", env.keyID, err)
	}
	defer clear(key)
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("secrets: key service returned a %d-byte data key, want %d", len(key), DataKeySize)
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, env.nonce, env.ciphertext, additionalData(env.header, aad))
	if err != nil {
		return nil, fmt.Errorf("%w: the value was changed or belongs to another context", ErrDecrypt)
	}
	if plain == nil {
		plain = []byte{}
	}
	return plain, nil
}

// KeyID returns the id of the master key that wrapped the envelope's data
// key, for finding values sealed before a rotation. It fails with ErrDecrypt
// when sealed is not an envelope; it does not authenticate it.
func KeyID(sealed []byte) (string, error) {
	env, err := parse(sealed)
	if err != nil {
		return "", err
	}
	return env.keyID, nil
}

// Sealer binds Seal and Open to one key service, for consumers that take
// them as methods.
type Sealer struct {
	keys Keys
}

// NewSealer returns a Sealer over keys.
func NewSealer(keys Keys) *Sealer { return &Sealer{keys: keys} }

// Seal is Seal with the Sealer's key service.
func (s *Sealer) Seal(ctx context.Context, plaintext []byte, aad map[string]string) ([]byte, error) {
	return Seal(ctx, s.keys, plaintext, aad)
}

// Open is Open with the Sealer's key service.
func (s *Sealer) Open(ctx context.Context, sealed []byte, aad map[string]string) ([]byte, error) {
	return Open(ctx, s.keys, sealed, aad)
}

// CanonicalContext encodes aad unambiguously, for binding it as additional
// data: the number of entries, then each key and value in key order, every
// field prefixed by its length (uint32, big-endian). Drivers whose key
// service has no native encryption context bind their wraps to it.
func CanonicalContext(aad map[string]string) []byte {
	keys := make([]string, 0, len(aad))
	size := 4
	for k, v := range aad {
		keys = append(keys, k)
		size += 8 + len(k) + len(v)
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(aad[k])))
		b = append(b, aad[k]...)
	}
	return b
}

// Mask is how a secret value is shown, as CircleCI shows environment
// variables: "xxxx" followed by its last four characters (runes). A value of
// four characters or fewer is shown as "xxxx" alone, since its last four
// characters would be all of it.
func Mask(value string) string {
	r := []rune(value)
	if len(r) <= 4 {
		return "xxxx"
	}
	return "xxxx" + string(r[len(r)-4:])
}

type envelope struct {
	header     []byte // magic through the wrapped key
	keyID      string
	wrapped    []byte
	nonce      []byte
	ciphertext []byte
}

func parse(b []byte) (envelope, error) {
	var e envelope
	if len(b) < len(magic) || !bytes.Equal(b[:3], []byte(magic[:3])) {
		return e, fmt.Errorf("%w: not a sealed value", ErrDecrypt)
	}
	if b[3] != magic[3] {
		return e, fmt.Errorf("%w: unsupported envelope version %d", ErrDecrypt, b[3])
	}
	rest := b[len(magic):]
	field := func() ([]byte, bool) {
		if len(rest) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n == 0 || len(rest) < 2+n {
			return nil, false
		}
		f := rest[2 : 2+n]
		rest = rest[2+n:]
		return f, true
	}
	id, ok1 := field()
	wrapped, ok2 := field()
	if !ok1 || !ok2 || len(rest) < nonceSize+tagSize {
		return e, fmt.Errorf("%w: truncated envelope", ErrDecrypt)
	}
	if !validKeyID(string(id)) {
		return e, fmt.Errorf("%w: malformed key id", ErrDecrypt)
	}
	e.header = b[:len(b)-len(rest)]
	e.keyID = string(id)
	e.wrapped = wrapped
	e.nonce = rest[:nonceSize]
	e.ciphertext = rest[nonceSize:]
	return e, nil
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > MaxKeyIDLen {
		return false
	}
	for i := range len(id) {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

func additionalData(header []byte, aad map[string]string) []byte {
	return append(slices.Clip(header), CanonicalContext(aad)...)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: data key: %w", err)
	}
	return cipher.NewGCM(block)
}
