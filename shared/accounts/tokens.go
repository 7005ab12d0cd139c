package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/orbit-ci/orbit/shared/kv"
)

// TokenPrefix starts every personal API token, so a leaked one is easy to
// recognise (and to search logs for).
const TokenPrefix = "orbit_"

// Token describes a personal API token; the token itself is shown once, by
// CreateToken, and only its SHA-256 is stored.
type Token struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"created_at"`
	// Hash is the hex SHA-256 of the token (never shown to callers).
	Hash string `json:"hash"`
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// CreateToken makes a personal API token for the user and returns it in
// clear (the only time it is) with its description.
func (s *Service) CreateToken(ctx context.Context, userID, label string) (string, Token, error) {
	if _, err := s.User(ctx, userID); err != nil {
		return "", Token{}, err
	}
	r, err := randomHex(20)
	if err != nil {
		return "", Token{}, err
	}
	secret := TokenPrefix + r
	t := Token{ID: uuid.NewString(), UserID: userID, Label: label, CreatedAt: s.clock(), Hash: hashSecret(secret)}
	byHash, err := record("TOKEN#"+t.Hash, "META", t)
	if err != nil {
		return "", Token{}, err
	}
	listed, err := record(userPK(userID), "TOKEN#"+t.ID, t)
	if err != nil {
		return "", Token{}, err
	}
	if err := s.kv.Transact(ctx, []kv.Op{
		{Kind: kv.OpPut, Item: byHash, Cond: kv.Condition{IfNotExists: true}},
		{Kind: kv.OpPut, Item: listed, Cond: kv.Condition{IfNotExists: true}},
	}); err != nil {
		return "", Token{}, fmt.Errorf("store token: %w", err)
	}
	return secret, t, nil
}

// Tokens lists a user's tokens (descriptions only).
func (s *Service) Tokens(ctx context.Context, userID string) ([]Token, error) {
	page, err := s.kv.Query(ctx, kv.Query{PK: userPK(userID), Prefix: "TOKEN#", Limit: 1000})
	if err != nil {
		return nil, err
	}
	out := make([]Token, 0, len(page.Items))
	for _, it := range page.Items {
		var t Token
		if _, err := s.get(ctx, it.PK, it.SK, &t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// RevokeToken deletes one of the user's tokens; it stops working at once.
func (s *Service) RevokeToken(ctx context.Context, userID, tokenID string) error {
	var t Token
	if _, err := s.get(ctx, userPK(userID), "TOKEN#"+tokenID, &t); err != nil {
		return fmt.Errorf("token %s: %w", tokenID, err)
	}
	return s.kv.Transact(ctx, []kv.Op{
		{Kind: kv.OpDelete, Item: kv.Item{PK: "TOKEN#" + t.Hash, SK: "META"}},
		{Kind: kv.OpDelete, Item: kv.Item{PK: userPK(userID), SK: "TOKEN#" + tokenID}},
	})
}

// Authenticate returns the user a personal API token belongs to:
// ErrUnauthenticated for an unknown or revoked token, ErrSuspended for a
// suspended user.
func (s *Service) Authenticate(ctx context.Context, secret string) (*User, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 128 {
		return nil, ErrUnauthenticated
	}
	var t Token
	if _, err := s.get(ctx, "TOKEN#"+hashSecret(secret), "META", &t); errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthenticated
	} else if err != nil {
		return nil, err
	}
	return s.active(ctx, t.UserID)
}

// active returns the user if they exist and are not suspended.
func (s *Service) active(ctx context.Context, id string) (*User, error) {
	u, err := s.User(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if u.Suspended {
		return nil, ErrSuspended
	}
	return u, nil
}
