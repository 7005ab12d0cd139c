// Package oidc makes Orbit an OpenID Connect issuer for its jobs, as
// CircleCI is: each task of a job gets ID tokens in CIRCLE_OIDC_TOKEN and
// CIRCLE_OIDC_TOKEN_V2 (masked in its output), which a cloud provider
// (AWS IAM's OIDC identity provider, GCP workload identity, Vault's JWT
// auth) verifies against Orbit's published keys and trades for
// credentials, so no long-lived cloud secret sits in a context.
//
//	first token ─▶ RS256 key generated, sealed by the secrets port,
//	               stored in the kv (OIDC#KEY / CURRENT; a concurrent
//	               first use keeps the one written first)
//	task spec built ─▶ AddTaskSecrets: claims of the job ─▶ signed JWTs
//	GET /.well-known/openid-configuration, /.well-known/jwks.json (public)
//
// Claims, as CircleCI documents them: iss (Config.Issuer), sub
// "org/<org id>/project/<project id>/user/<user id>" (the V2 token adds
// "/vcs-origin/<origin>/vcs-ref/<ref>"), aud (the organization id, or the
// custom audience), iat, nbf, exp (1 hour, or the custom ttl), and
// oidc.circleci.com/{org-id, project-id, context-ids, vcs-origin, vcs-ref,
// pipeline-id, workflow-id, job-id}. Custom claims (claims.go) of the
// project override the organization's.
package oidc

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
)

// Records is what the issuer reads of the store (*store.Store).
type Records interface {
	GetPipeline(ctx context.Context, id string) (store.Pipeline, error)
	ContextByName(ctx context.Context, owner, name string) (store.Context, error)
}

// Sealer seals the signing key (the secrets port's *secrets.Sealer).
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, aad map[string]string) ([]byte, error)
	Open(ctx context.Context, sealed []byte, aad map[string]string) ([]byte, error)
}

// UserIDs finds the id of the user who triggered a pipeline from their
// login (the pipeline's actor); nil, or an error, derives an id from the
// login instead.
type UserIDs func(ctx context.Context, login string) (string, error)

// Config configures an Issuer.
type Config struct {
	// KV keeps the sealed key and the custom claims. Required.
	KV kv.Store
	// Sealer seals the signing key. Required.
	Sealer Sealer
	// Records are read for a job's pipeline and contexts. Required.
	Records Records
	// Issuer is the tokens' iss: Orbit's URL as the verifiers reach it,
	// which serves /.well-known/openid-configuration. Required.
	Issuer string
	// Users resolves the triggering user's id.
	Users UserIDs
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Issuer signs job tokens and keeps the custom claims. Safe for
// concurrent use.
type Issuer struct {
	cfg Config

	mu  sync.Mutex
	key *signingKey // cached once loaded or made
}

// New returns an Issuer.
func New(cfg Config) (*Issuer, error) {
	if cfg.KV == nil || cfg.Sealer == nil || cfg.Records == nil || cfg.Issuer == "" {
		return nil, errors.New("oidc: Config.KV, Sealer, Records and Issuer are required")
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Issuer{cfg: cfg}, nil
}

func (i *Issuer) now() time.Time { return i.cfg.Now().UTC() }

// Discovery is the OpenID Provider metadata served at
// /.well-known/openid-configuration.
func (i *Issuer) Discovery() map[string]any {
	return map[string]any{
		"issuer":                                i.cfg.Issuer,
		"jwks_uri":                              i.cfg.Issuer + JWKSPath,
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"claims_supported": []string{"aud", "exp", "iat", "iss", "nbf", "sub", ClaimPrefix + "org-id", ClaimPrefix + "project-id",
			ClaimPrefix + "context-ids", ClaimPrefix + "vcs-origin", ClaimPrefix + "vcs-ref", ClaimPrefix + "pipeline-id",
			ClaimPrefix + "workflow-id", ClaimPrefix + "job-id"},
	}
}

// Paths the API serves the metadata at.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/.well-known/jwks.json"
)

// ClaimPrefix prefixes CircleCI's own claims.
const ClaimPrefix = "oidc.circleci.com/"
