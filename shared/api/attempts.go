package api

import (
	"context"
	"errors"
	"time"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// attemptJSON is one dispatch of a job (an Orbit extension of CircleCI's
// job details): the first run, then each automatic retry after an
// infrastructure failure.
type attemptJSON struct {
	// Attempt counts from 1.
	Attempt int `json:"attempt"`
	// Status is the attempt's outcome from its tasks (status.OfTasks).
	Status       status.Job        `json:"status"`
	Message      string            `json:"message,omitempty"`
	ParallelRuns []parallelRunJSON `json:"parallel_runs"`
	StartedAt    *time.Time        `json:"started_at"`
	StoppedAt    *time.Time        `json:"stopped_at"`
}

// jobAttempts lists the job's attempts, oldest first; a job never
// dispatched has none.
func (s *server) jobAttempts(ctx context.Context, j store.Job) ([]attemptJSON, error) {
	out := make([]attemptJSON, 0, j.Attempt)
	n := max(j.Parallelism, 1)
	for a := 1; a <= j.Attempt; a++ {
		at := attemptJSON{Attempt: a, ParallelRuns: make([]parallelRunJSON, 0, n)}
		statuses := make([]status.Job, n)
		for i := range n {
			statuses[i] = status.JobQueued
			t, err := s.st.GetTask(ctx, store.TaskID(j.ID, a, i))
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return nil, err
			default:
				statuses[i] = t.Status
				if t.Message != "" && at.Message == "" {
					at.Message = t.Message
				}
				at.StartedAt = earliest(at.StartedAt, t.StartedAt)
				at.StoppedAt = latest(at.StoppedAt, t.StoppedAt)
			}
			at.ParallelRuns = append(at.ParallelRuns, parallelRunJSON{Index: i, Status: statuses[i]})
		}
		at.Status = status.OfTasks(statuses)
		if !at.Status.Terminal() {
			at.StoppedAt = nil
		}
		out = append(out, at)
	}
	return out, nil
}

func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

func latest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.After(*a)) {
		return b
	}
	return a
}
