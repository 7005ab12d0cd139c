package runner

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadToken: the token is malformed, forged or expired.
var ErrBadToken = errors.New("runner: invalid or expired task token")

// Tokens signs and checks per-task tokens: "<task-id>.<expiry-unix>.<mac>",
// mac = base64url(HMAC-SHA256(key, task-id "." expiry)). A token authorizes
// the runner API calls of one task until it expires.
type Tokens struct {
	key []byte
	now func() time.Time
}

// NewTokens returns a signer with key (at least 32 bytes). now may be nil.
func NewTokens(key []byte, now func() time.Time) (*Tokens, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("runner: token key must be at least 32 bytes, got %d", len(key))
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{key: key, now: now}, nil
}

// Sign returns a token for taskID valid until expires.
func (t *Tokens) Sign(taskID string, expires time.Time) string {
	payload := taskID + "." + strconv.FormatInt(expires.Unix(), 10)
	return payload + "." + t.mac(payload)
}

// Verify returns the task ID the token was signed for.
func (t *Tokens) Verify(token string) (string, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", ErrBadToken
	}
	payload, mac := token[:i], token[i+1:]
	if !hmac.Equal([]byte(mac), []byte(t.mac(payload))) {
		return "", ErrBadToken
	}
	j := strings.LastIndexByte(payload, '.')
	if j < 0 {
		return "", ErrBadToken
	}
	exp, err := strconv.ParseInt(payload[j+1:], 10, 64)
	if err != nil || t.now().Unix() > exp {
		return "", ErrBadToken
	}
	return payload[:j], nil
}

func (t *Tokens) mac(payload string) string {
	h := hmac.New(sha256.New, t.key)
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Derive returns a signer for another purpose (e.g. "continuation"): its
// key is HMAC-SHA256(key, purpose), so its tokens are never valid task
// tokens, nor the other way round.
func (t *Tokens) Derive(purpose string) *Tokens {
	h := hmac.New(sha256.New, t.key)
	h.Write([]byte("orbit-derived-key/" + purpose))
	return &Tokens{key: h.Sum(nil), now: t.now}
}
