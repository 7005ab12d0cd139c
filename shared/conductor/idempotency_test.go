package conductor

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/store"
)

// Replays of a trigger with one Idempotency-Key, concurrent or late, make
// one pipeline; other keys make their own, numbered without gaps; a key
// reused with another request is refused.
func TestTriggerIdempotencyKey(t *testing.T) {
	h := newHarness(t, fakeSource{})
	ctx := context.Background()
	const keys, replays = 5, 8
	var (
		mu    sync.Mutex
		byKey = map[string]map[string]int64{}
		wg    sync.WaitGroup
	)
	for k := range keys {
		key := fmt.Sprintf("key-%d", k)
		ids := map[string]int64{} // byKey is written here while goroutines run: they use ids
		byKey[key] = ids
		for range replays {
			wg.Go(func() {
				p, err := h.c.Trigger(ctx, TriggerRequest{ProjectSlug: "local/acme/app", Branch: "main", IdempotencyKey: key})
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				ids[p.ID] = p.Number
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	var numbers []int64
	for key, got := range byKey {
		require.Len(t, got, 1, "every replay of %s answers one pipeline", key)
		for _, n := range got {
			numbers = append(numbers, n)
		}
	}
	slices.Sort(numbers)
	assert.Equal(t, []int64{1, 2, 3, 4, 5}, numbers, "one number per key, no gaps")
	assert.Len(t, h.orch.startedOf("pipeline"), keys, "one execution per pipeline")

	// A late replay answers the same pipeline.
	again, err := h.c.Trigger(ctx, TriggerRequest{ProjectSlug: "local/acme/app", Branch: "main", IdempotencyKey: "key-0"})
	require.NoError(t, err)
	for id := range byKey["key-0"] {
		assert.Equal(t, id, again.ID)
	}

	// The same key with another request is a conflict.
	_, err = h.c.Trigger(ctx, TriggerRequest{ProjectSlug: "local/acme/app", Branch: "release", IdempotencyKey: "key-0"})
	assert.ErrorIs(t, err, ErrIdempotencyConflict)

	// Without a key every trigger is a new pipeline, as on CircleCI.
	a, err := h.c.Trigger(ctx, TriggerRequest{ProjectSlug: "local/acme/app", Branch: "main"})
	require.NoError(t, err)
	b, err := h.c.Trigger(ctx, TriggerRequest{ProjectSlug: "local/acme/app", Branch: "main"})
	require.NoError(t, err)
	assert.NotEqual(t, a.ID, b.ID)
}

// A claim whose pipeline was never made (its process died in between)
// holds replays off for a while, then a replay takes it over.
func TestTriggerIdempotencyStaleClaim(t *testing.T) {
	// The store's clock starts at the real time: the key's record expires
	// (IdempotencyTTL) by the kv driver's own clock, so a fixed date would
	// make this test fail a day after that date.
	now := time.Now().UTC()
	var clockMu sync.Mutex
	h := newHarnessClock(t, fakeSource{}, func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now })
	ctx := context.Background()
	wait := replayWait
	replayWait = 100 * time.Millisecond
	t.Cleanup(func() { replayWait = wait })
	req := TriggerRequest{ProjectSlug: "local/acme/app", Branch: "main", TriggerType: "api", IdempotencyKey: "crashed"}
	claim, claimed, err := h.st.ClaimTrigger(ctx, req.ProjectSlug, req.IdempotencyKey, fingerprint(req))
	require.NoError(t, err)
	require.True(t, claimed)

	_, err = h.c.Trigger(ctx, req)
	assert.ErrorIs(t, err, ErrIdempotencyConflict, "the first request may still be making it")
	assert.ErrorContains(t, err, "still being made")

	clockMu.Lock()
	now = now.Add(store.IdempotencyClaimStale + time.Second)
	clockMu.Unlock()
	p, err := h.c.Trigger(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, claim.PipelineID, p.ID, "the replay makes the claimed pipeline")
	assert.Equal(t, int64(1), p.Number)
}
