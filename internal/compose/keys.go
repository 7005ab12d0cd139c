package compose

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
)

// MinSecretBytes is the shortest installation secret accepted.
const MinSecretBytes = 32

// Keys are the signing keys of an installation, each derived from the
// installation secret with HKDF-SHA256 under its own label, so that a value
// signed for one use never verifies as another (a blob URL's signature is
// not a task token's) and a leaked derived key reveals neither the secret
// nor the other keys.
type Keys struct {
	// RunnerTokens signs the per-task tokens of the runner API.
	RunnerTokens []byte
	// BlobURLs signs the embedded blob store's presigned URLs.
	BlobURLs []byte
	// TaskFiles signs the runner API's upload URLs (caches, workspaces,
	// artifacts) when the blob store cannot presign them itself.
	TaskFiles []byte
	// Sessions signs browser session cookies (kept for the sign-in to come).
	Sessions []byte
	// WarmAgents signs the per-agent tokens warm agents claim tasks with
	// at the bridge.
	WarmAgents []byte
}

// Labels of the derived keys. Changing one revokes everything signed with
// that key.
const (
	labelRunnerTokens = "orbit/v1/runner-task-tokens"
	labelBlobURLs     = "orbit/v1/blob-urls"
	labelTaskFiles    = "orbit/v1/task-file-uploads"
	labelSessions     = "orbit/v1/sessions"
	labelWarmAgents   = "orbit/v1/warm-agents"
)

// DeriveKeys derives the installation's keys from secret.
func DeriveKeys(secret []byte) (Keys, error) {
	if len(secret) < MinSecretBytes {
		return Keys{}, fmt.Errorf("installation secret is %d bytes, want at least %d", len(secret), MinSecretBytes)
	}
	var k Keys
	for _, d := range []struct {
		label string
		key   *[]byte
	}{
		{labelRunnerTokens, &k.RunnerTokens},
		{labelBlobURLs, &k.BlobURLs},
		{labelTaskFiles, &k.TaskFiles},
		{labelSessions, &k.Sessions},
		{labelWarmAgents, &k.WarmAgents},
	} {
		b, err := hkdf.Key(sha256.New, secret, nil, d.label, 32)
		if err != nil {
			return Keys{}, fmt.Errorf("derive %s: %w", d.label, err)
		}
		*d.key = b
	}
	return k, nil
}

// secretFile reads the embedded shape's installation secret, making it on
// first start.
func secretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= MinSecretBytes {
		return b, nil
	}
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read installation secret: %w", err)
	}
	b = make([]byte, MinSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write installation secret: %w", err)
	}
	return b, nil
}
