// Package webhooks takes GitHub's webhook deliveries (POST /webhooks/github)
// and turns them into pipeline triggers, within GitHub's 10 s budget: the
// handler verifies, deduplicates, records the pipeline and starts its
// execution (the conductor's Trigger), and answers; the config is fetched
// and compiled later by the pipeline machine, never inline.
//
//	POST ─▶ read ≤ 25 MiB ─▶ Parse (repository) ─▶ registry: project + secret
//	     ─▶ X-Hub-Signature-256 (constant time) ─▶ ignore? (ping, [ci skip], …) 200
//	     ─▶ claim X-GitHub-Delivery and the signature in kv (TTL) ─▶ seen: 200 / 409
//	     ─▶ Trigger(webhook) ─▶ 201 {"id","number"}
package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs/github"
)

// Triggerer starts pipelines (*conductor.Conductor).
type Triggerer interface {
	Trigger(ctx context.Context, req conductor.TriggerRequest) (store.Pipeline, error)
}

// Secrets finds a followed repository's project and webhook secret
// (*github.Registry); store.ErrNotFound when not followed.
type Secrets interface {
	WebhookSecret(ctx context.Context, owner, repo string) (slug string, secret []byte, err error)
}

// Claims records deliveries already taken (the kv port).
type Claims interface {
	Put(ctx context.Context, item kv.Item, cond kv.Condition) (kv.Item, error)
	Delete(ctx context.Context, pk, sk string, cond kv.Condition) error
}

// GitHubConfig configures the handler.
type GitHubConfig struct {
	Trigger Triggerer
	Secrets Secrets
	Claims  Claims
	// DedupeTTL is how long a delivery id and signature are remembered; 0
	// means 72 h (GitHub redelivers for up to 3 days).
	DedupeTTL time.Duration
	// Now is the clock of the claims; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// maxPayload is GitHub's cap on a delivery (25 MB).
const maxPayload = 25 << 20

// GitHub returns the handler of POST /webhooks/github.
func GitHub(cfg GitHubConfig) http.Handler {
	if cfg.DedupeTTL <= 0 {
		cfg.DedupeTTL = 72 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &handler{cfg}
}

type handler struct{ cfg GitHubConfig }

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func message(w http.ResponseWriter, code int, format string, args ...any) {
	reply(w, code, map[string]string{"message": fmt.Sprintf(format, args...)})
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	event, id := r.Header.Get("X-GitHub-Event"), r.Header.Get("X-GitHub-Delivery")
	log := h.cfg.Logger.With("github_event", event, "github_delivery", id)
	if event == "" || id == "" {
		message(w, http.StatusBadRequest, "X-GitHub-Event and X-GitHub-Delivery headers are required")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil || len(body) > maxPayload {
		message(w, http.StatusBadRequest, "the payload could not be read or exceeds 25 MiB")
		return
	}
	d, err := github.Parse(event, body)
	if err != nil {
		message(w, http.StatusBadRequest, "%v", err)
		return
	}
	if d.Owner == "" {
		// An event Orbit does not build, about no repository: nothing to verify against.
		message(w, http.StatusAccepted, "ignored: %s", d.Ignore)
		return
	}
	slug, secret, err := h.cfg.Secrets.WebhookSecret(ctx, d.Owner, d.Repo)
	if errors.Is(err, store.ErrNotFound) {
		message(w, http.StatusNotFound, "repository %s/%s is not followed by Orbit", d.Owner, d.Repo)
		return
	}
	if err != nil {
		log.ErrorContext(ctx, "webhook secret", "error", err)
		message(w, http.StatusInternalServerError, "internal error")
		return
	}
	if err := github.VerifySignature(body, r.Header.Get("X-Hub-Signature-256"), secret); err != nil {
		log.WarnContext(ctx, "webhook refused", "repo", d.Owner+"/"+d.Repo, "error", err)
		message(w, http.StatusUnauthorized, "%v", err)
		return
	}
	if d.Ignore != "" {
		log.InfoContext(ctx, "webhook ignored", "project", slug, "reason", d.Ignore)
		message(w, http.StatusOK, "ignored: %s", d.Ignore)
		return
	}
	fresh, code, err := h.claim(ctx, id, r.Header.Get("X-Hub-Signature-256"))
	if err != nil {
		log.ErrorContext(ctx, "claim delivery", "error", err)
		message(w, http.StatusInternalServerError, "internal error")
		return
	}
	if !fresh {
		log.InfoContext(ctx, "webhook duplicate", "project", slug)
		message(w, code, "delivery already processed")
		return
	}
	p, err := h.cfg.Trigger.Trigger(ctx, conductor.TriggerRequest{
		ProjectSlug: slug, Branch: d.Branch, Tag: d.Tag, Revision: d.Revision,
		TriggerType: "webhook", Actor: d.Actor, Fork: d.Fork, Commit: d.Commit, IdempotencyKey: "github-delivery-" + id,
	})
	if err != nil {
		h.release(ctx, id, r.Header.Get("X-Hub-Signature-256"))
		log.ErrorContext(ctx, "webhook trigger", "project", slug, "error", err)
		message(w, http.StatusInternalServerError, "the pipeline could not be created; redeliver to try again")
		return
	}
	log.InfoContext(ctx, "webhook triggered", "project", slug, "pipeline_id", p.ID, "number", p.Number)
	reply(w, http.StatusCreated, map[string]any{"id": p.ID, "number": p.Number, "state": "created"})
}

func claimKeys(id, signature string) (byID, bySig kv.Item) {
	sum := sha256.Sum256([]byte(signature))
	return kv.Item{PK: "GHDELIVERY#" + id, SK: "-"}, kv.Item{PK: "GHSIGNATURE#" + hex.EncodeToString(sum[:]), SK: "-"}
}

// claim takes the delivery id, then its signature. A redelivery (same id)
// is a duplicate answered 200, as GitHub expects; the same signed payload
// under another id is a replay, answered 409.
func (h *handler) claim(ctx context.Context, id, signature string) (fresh bool, code int, err error) {
	byID, bySig := claimKeys(id, signature)
	exp := h.cfg.Now().Add(h.cfg.DedupeTTL)
	byID.ExpiresAt, bySig.ExpiresAt = exp, exp
	if _, err := h.cfg.Claims.Put(ctx, byID, kv.Condition{IfNotExists: true}); errors.Is(err, kv.ErrConflict) {
		return false, http.StatusOK, nil
	} else if err != nil {
		return false, 0, err
	}
	if _, err := h.cfg.Claims.Put(ctx, bySig, kv.Condition{IfNotExists: true}); errors.Is(err, kv.ErrConflict) {
		return false, http.StatusConflict, nil
	} else if err != nil {
		_ = h.cfg.Claims.Delete(ctx, byID.PK, byID.SK, kv.Condition{})
		return false, 0, err
	}
	return true, 0, nil
}

// release forgets a claim whose trigger failed, so a redelivery retries.
func (h *handler) release(ctx context.Context, id, signature string) {
	byID, bySig := claimKeys(id, signature)
	_ = h.cfg.Claims.Delete(ctx, bySig.PK, bySig.SK, kv.Condition{})
	_ = h.cfg.Claims.Delete(ctx, byID.PK, byID.SK, kv.Condition{})
}
