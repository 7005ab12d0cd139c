// Package keyfile is the embedded driver of the secrets port: master keys
// kept in a local JSON file that only its owner may read (mode 0600).
//
// The file holds a list of AES-256 master keys with ids and creation times:
//
//	{"version": 1, "keys": [
//	  {"id": "mk-3f9c0a17d2e45b86", "created": "2026-01-02T03:04:05Z", "key": "<base64, 32 bytes>"}
//	]}
//
// New creates the file with one fresh key when it is missing. The newest
// key, the last in the list (Rotate appends), wraps new data keys; every key
// in the file still unwraps, so values sealed before a Rotate keep opening.
// A data key is wrapped with AES-256-GCM under the master key with a random
// nonce and additional data binding the master key id and the encryption
// context (secrets.CanonicalContext): wrapped = nonce ‖ ciphertext ‖ tag.
//
// Rotate replaces the file atomically (a temporary file renamed over it)
// and never drops a key. Losing the file loses every secret sealed with it:
// back it up with the data directory. One process at a time should rotate;
// a process that meets a key id it has not loaded (another process rotated)
// reloads the file once before failing.
package keyfile

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/secrets"
)

const (
	fileVersion = 1
	keySize     = 32
	nonceSize   = 12
	wrapDomain  = "orbit/keyfile/v1 data key\x00"
)

// Config configures the key file driver.
type Config struct {
	// Path is the key file; it is created (with its directory) when missing.
	Path string
	// Now is the clock that dates new keys; nil means time.Now.
	Now func() time.Time
}

// Keys is the key file driver. It is safe for concurrent use within one
// process.
type Keys struct {
	path string
	now  func() time.Time

	mu     sync.RWMutex
	keys   map[string]*masterKey
	newest *masterKey
}

var _ secrets.Keys = (*Keys)(nil)

type masterKey struct {
	id   string
	aead cipher.AEAD
}

type file struct {
	Version int         `json:"version"`
	Keys    []fileEntry `json:"keys"`
}

type fileEntry struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Key     []byte    `json:"key"`
}

// New opens the key file at cfg.Path, creating it with one fresh master key
// when it does not exist. It refuses a file that others may read or write
// (on Unix) or that is not a valid key file, naming the path.
func New(cfg Config) (*Keys, error) {
	if cfg.Path == "" {
		return nil, errors.New("keyfile: no path")
	}
	k := &Keys{path: cfg.Path, now: cfg.Now}
	if k.now == nil {
		k.now = time.Now
	}
	if err := k.load(); err == nil {
		return k, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := k.create(); err != nil {
		return nil, err
	}
	return k, nil
}

// GenerateDataKey returns a fresh data key wrapped by the newest master key
// and bound to aad.
func (k *Keys) GenerateDataKey(_ context.Context, aad map[string]string) (secrets.DataKey, error) {
	k.mu.RLock()
	mk := k.newest
	k.mu.RUnlock()

	plain := make([]byte, secrets.DataKeySize)
	nonce := make([]byte, nonceSize, nonceSize+secrets.DataKeySize+16)
	if _, err := rand.Read(plain); err != nil {
		return secrets.DataKey{}, fmt.Errorf("keyfile: data key: %w", err)
	}
	if _, err := rand.Read(nonce); err != nil {
		return secrets.DataKey{}, fmt.Errorf("keyfile: nonce: %w", err)
	}
	wrapped := mk.aead.Seal(nonce, nonce, plain, wrapAAD(mk.id, aad))
	return secrets.DataKey{KeyID: mk.id, Plaintext: plain, Wrapped: wrapped}, nil
}

// DecryptDataKey unwraps a data key with the master key keyID, reloading the
// file once when keyID is not loaded.
func (k *Keys) DecryptDataKey(_ context.Context, keyID string, wrapped []byte, aad map[string]string) ([]byte, error) {
	k.mu.RLock()
	mk := k.keys[keyID]
	k.mu.RUnlock()
	if mk == nil {
		k.mu.Lock()
		if k.keys[keyID] == nil {
			if err := k.load(); err != nil {
				k.mu.Unlock()
				return nil, err
			}
		}
		mk = k.keys[keyID]
		k.mu.Unlock()
		if mk == nil {
			return nil, fmt.Errorf("%w: master key %s is not in %s", secrets.ErrDecrypt, keyID, k.path)
		}
	}
	if len(wrapped) < nonceSize {
		return nil, fmt.Errorf("%w: wrapped data key too short", secrets.ErrDecrypt)
	}
	plain, err := mk.aead.Open(nil, wrapped[:nonceSize], wrapped[nonceSize:], wrapAAD(keyID, aad))
	if err != nil {
		return nil, fmt.Errorf("%w: data key does not open under master key %s with this context", secrets.ErrDecrypt, keyID)
	}
	return plain, nil
}

// Rotate adds a fresh master key to the file, re-read first so keys another
// process added are kept, and replaces the file atomically. New data keys
// are wrapped by the new key from then on; every older key still unwraps.
// It returns the new key's id.
func (k *Keys) Rotate() (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f, err := k.read()
	if err != nil {
		return "", err
	}
	entry, err := k.newEntry()
	if err != nil {
		return "", err
	}
	f.Keys = append(f.Keys, entry)
	keys, newest, err := keysOf(f)
	if err != nil {
		return "", fmt.Errorf("keyfile: %s: %w", k.path, err)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := writeTemp(k.path, data)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, k.path); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("keyfile: replace %s: %w", k.path, err)
	}
	syncDir(k.path)
	k.keys, k.newest = keys, newest
	return entry.ID, nil
}

// create writes a new file with one key; it does not replace a file another
// process created meanwhile (a hard link fails when the path exists), but
// uses that one.
func (k *Keys) create() error {
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return fmt.Errorf("keyfile: create %s: %w", k.path, err)
	}
	entry, err := k.newEntry()
	if err != nil {
		return err
	}
	f := file{Version: fileVersion, Keys: []fileEntry{entry}}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := writeTemp(k.path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	switch err := os.Link(tmp, k.path); {
	case errors.Is(err, fs.ErrExist):
		return k.load()
	case err != nil:
		return fmt.Errorf("keyfile: create %s: %w", k.path, err)
	}
	syncDir(k.path)
	k.keys, k.newest, err = keysOf(f)
	return err
}

func (k *Keys) newEntry() (fileEntry, error) {
	key := make([]byte, keySize)
	id := make([]byte, 8)
	if _, err := rand.Read(key); err != nil {
		return fileEntry{}, fmt.Errorf("keyfile: master key: %w", err)
	}
	if _, err := rand.Read(id); err != nil {
		return fileEntry{}, fmt.Errorf("keyfile: master key id: %w", err)
	}
	return fileEntry{ID: "mk-" + hex.EncodeToString(id), Created: k.now().UTC(), Key: key}, nil
}

// load reads the file and uses its keys. The caller holds mu for writing
// (or owns k exclusively).
func (k *Keys) load() error {
	f, err := k.read()
	if err != nil {
		return err
	}
	keys, newest, err := keysOf(f)
	if err != nil {
		return fmt.Errorf("keyfile: %s: %w", k.path, err)
	}
	k.keys, k.newest = keys, newest
	return nil
}

// read reads the file, checking its mode and syntax; use checks its keys.
func (k *Keys) read() (file, error) {
	var f file
	fi, err := os.Stat(k.path)
	if err != nil {
		return f, fmt.Errorf("keyfile: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return f, fmt.Errorf("keyfile: %s is not a regular file", k.path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return f, fmt.Errorf("keyfile: %s has mode %04o; a key file must be readable by its owner only (chmod 600 %s)", k.path, perm, k.path)
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		return f, fmt.Errorf("keyfile: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(&f)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		// Not err itself: it quotes a character of the file, which may be
		// part of a key.
		return f, fmt.Errorf("keyfile: %s is not a key file: invalid JSON at byte %d", k.path, syntax.Offset)
	case errors.Is(err, io.EOF):
		return f, fmt.Errorf("keyfile: %s is not a key file: it is empty", k.path)
	case err != nil:
		return f, fmt.Errorf("keyfile: %s is not a key file: %w", k.path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return f, fmt.Errorf("keyfile: %s is not a key file: data after the JSON object", k.path)
	}
	if f.Version != fileVersion {
		return f, fmt.Errorf("keyfile: %s: unsupported version %d (want %d)", k.path, f.Version, fileVersion)
	}
	return f, nil
}

// keysOf checks f's keys and returns them by id, and the newest.
func keysOf(f file) (map[string]*masterKey, *masterKey, error) {
	if len(f.Keys) == 0 {
		return nil, nil, errors.New("no keys")
	}
	keys := make(map[string]*masterKey, len(f.Keys))
	var newest *masterKey
	for i, e := range f.Keys {
		if e.ID == "" || len(e.ID) > secrets.MaxKeyIDLen {
			return nil, nil, fmt.Errorf("key %d: id must be 1..%d bytes", i, secrets.MaxKeyIDLen)
		}
		for _, c := range []byte(e.ID) {
			if c <= ' ' || c > '~' {
				return nil, nil, fmt.Errorf("key %d: id must be printable ASCII without spaces", i)
			}
		}
		if keys[e.ID] != nil {
			return nil, nil, fmt.Errorf("key %d: duplicate id %s", i, e.ID)
		}
		if len(e.Key) != keySize {
			return nil, nil, fmt.Errorf("key %s: %d bytes, want %d", e.ID, len(e.Key), keySize)
		}
		block, err := aes.NewCipher(e.Key)
		if err != nil {
			return nil, nil, fmt.Errorf("key %s: %w", e.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, nil, fmt.Errorf("key %s: %w", e.ID, err)
		}
		mk := &masterKey{id: e.ID, aead: aead}
		keys[e.ID] = mk
		newest = mk
	}
	return keys, newest, nil
}

func wrapAAD(keyID string, aad map[string]string) []byte {
	b := append([]byte(wrapDomain), keyID...)
	b = append(b, 0)
	return append(b, secrets.CanonicalContext(aad)...)
}

// writeTemp writes data to a new 0600 file next to path, synced, and
// returns its name.
func writeTemp(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("keyfile: write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("keyfile: write %s: %w", path, err)
	}
	return f.Name(), nil
}

// syncDir makes a rename or link in path's directory durable, where the
// platform allows it.
func syncDir(path string) {
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
