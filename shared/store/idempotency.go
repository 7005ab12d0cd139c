package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/orbit-ci/orbit/shared/kv"
)

// A trigger sent with an Idempotency-Key (an Orbit extension of CircleCI's
// API: CircleCI makes a new pipeline of every POST) makes at most one
// pipeline per project and key for IdempotencyTTL. The key is claimed
// before a number is allocated, so concurrent replays never leave a gap:
//
//	ClaimTrigger ──claimed──▶ CreatePipeline(ID: the claim's pipeline id)
//	             └─ exists ──▶ same request? ──no──▶ ErrIdempotencyMismatch
//	                             └─ yes ──▶ the pipeline (once created)
//
// A claim whose pipeline was never created (its process died in between)
// is taken over by a replay after IdempotencyClaimStale.
const (
	// IdempotencyTTL is how long a key names its pipeline.
	IdempotencyTTL = 24 * time.Hour
	// IdempotencyClaimStale is how long a claim without its pipeline holds.
	IdempotencyClaimStale = 30 * time.Second
)

// ErrIdempotencyMismatch is a key reused with another request.
var ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")

// TriggerClaim is a project's claim of an idempotency key.
type TriggerClaim struct {
	PipelineID string `json:"pipeline_id"`
	// Fingerprint identifies the request (a hash of what it asked for).
	Fingerprint string    `json:"fingerprint"`
	ClaimedAt   time.Time `json:"claimed_at"`
}

// ClaimTrigger claims key for the project's next pipeline. It returns the
// claim and whether this call made it (create the pipeline with
// claim.PipelineID); otherwise the claim is another request's, whose
// pipeline may not exist yet.
func (s *Store) ClaimTrigger(ctx context.Context, slug, key, fingerprint string) (TriggerClaim, bool, error) {
	pk, sk := "PROJECT#"+slug, "IDEMPOTENCY#"+key
	for range maxRetries {
		now := s.Now()
		claim := TriggerClaim{PipelineID: uuid.NewString(), Fingerprint: fingerprint, ClaimedAt: now}
		it, err := item(pk, sk, claim)
		if err != nil {
			return TriggerClaim{}, false, err
		}
		it.ExpiresAt = now.Add(IdempotencyTTL)
		err = s.create(ctx, it)
		if err == nil {
			return claim, true, nil
		}
		if !errors.Is(err, ErrExists) {
			return TriggerClaim{}, false, fmt.Errorf("claim idempotency key: %w", err)
		}
		var held TriggerClaim
		ver, err := s.get(ctx, pk, sk, &held)
		if errors.Is(err, ErrNotFound) {
			continue // expired meanwhile
		}
		if err != nil {
			return TriggerClaim{}, false, err
		}
		if held.Fingerprint != fingerprint {
			return TriggerClaim{}, false, ErrIdempotencyMismatch
		}
		if _, err := s.GetPipeline(ctx, held.PipelineID); err == nil || !errors.Is(err, ErrNotFound) ||
			now.Sub(held.ClaimedAt) < IdempotencyClaimStale {
			return held, false, nil
		}
		// The claimant died before creating the pipeline: take it over.
		held.ClaimedAt = now
		if it, err = item(pk, sk, held); err != nil {
			return TriggerClaim{}, false, err
		}
		it.ExpiresAt = now.Add(IdempotencyTTL)
		if _, err := s.kv.Put(ctx, it, kv.Condition{IfVersion: ver}); errors.Is(err, kv.ErrConflict) {
			continue
		} else if err != nil {
			return TriggerClaim{}, false, err
		}
		return held, true, nil
	}
	return TriggerClaim{}, false, fmt.Errorf("claim idempotency key %q of %s: %w", key, slug, kv.ErrConflict)
}
