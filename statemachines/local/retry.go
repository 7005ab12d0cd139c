package local

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// withRetry runs a Task, Parallel or Map state's attempts under its Retry
// and Catch fields.
//
// Retriers are tried in order and the first whose ErrorEquals matches
// decides: retry after IntervalSeconds × BackoffRate^(n−1) (capped by
// MaxDelaySeconds, randomised in [0, delay) by JitterStrategy FULL) while
// its own counter is below MaxAttempts, else fall through to Catch. The
// counters live in the state entry, so they reset when the state is entered
// again.
func (sr *stateRun) withRetry(ctx context.Context) (string, any, *statesError) {
	st := sr.st
	for {
		if !sr.waitUntil.IsZero() {
			// Back-off of a retry (possibly resumed after a restart).
			if err := sr.x.sleepUntil(ctx, sr.waitUntil); err != nil {
				return "", nil, err
			}
			sr.waitUntil = time.Time{}
		}
		out, err := sr.attempt(ctx)
		if err == nil {
			return st.Next, out, nil
		}
		if ctx.Err() != nil {
			return "", nil, errCancelled
		}
		sr.token, sr.invoked, sr.timeoutAt = "", false, time.Time{}
		if d, ok := sr.retryDelay(err); ok {
			sr.waitUntil = sr.x.e.clock.Now().Add(d)
			sr.save(ctx)
			continue
		}
		for _, c := range st.Catch {
			if !errorMatches(c.ErrorEquals, err.name) {
				continue
			}
			out, perr := c.ResultPath.applyResult(sr.input, map[string]any{"Error": err.name, "Cause": err.cause})
			if perr != nil {
				return "", nil, perr
			}
			return c.Next, out, nil
		}
		return "", nil, err
	}
}

// retryDelay consumes one attempt of the first retrier matching err.
func (sr *stateRun) retryDelay(err *statesError) (time.Duration, bool) {
	for i, r := range sr.st.Retry {
		if !errorMatches(r.ErrorEquals, err.name) {
			continue
		}
		if sr.retries[i] >= r.MaxAttempts {
			return 0, false
		}
		sr.retries[i]++
		return backoff(r, sr.retries[i]), true
	}
	return 0, false
}

// backoff is the delay before retry n (1-based) of retrier r.
func backoff(r *retrier, n int) time.Duration {
	d := r.IntervalSeconds * math.Pow(r.BackoffRate, float64(n-1))
	if r.MaxDelaySeconds > 0 && d > r.MaxDelaySeconds {
		d = r.MaxDelaySeconds
	}
	d = math.Min(d, 99999999) // Step Functions' longest timeout; keeps Duration finite
	if r.FullJitter {
		d *= rand.Float64()
	}
	return time.Duration(d * float64(time.Second))
}
