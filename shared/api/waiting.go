package api

import (
	"context"
	"errors"
	"time"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// waitingJSON is an Orbit extension of the v2 job details: why a queued job
// has not started, as the bridge reports it ("Nomad unreachable since
// 10:02:13 UTC", "no client with resource class large: …", "node drained:
// …"). Present only while the job is queued and the bridge knows a reason.
// The same line is the job's message of type "warning".
type waitingJSON struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	// TaskIndex is the parallel task the reason is about.
	TaskIndex int `json:"task_index"`
}

// jobWaiting is why job j waits, nil when it does not (or nobody knows).
// A failed read is logged, not fatal: the reason is a hint.
func (s *server) jobWaiting(ctx context.Context, j store.Job) *waitingJSON {
	if j.Status != status.JobQueued {
		return nil
	}
	w, err := s.st.GetJobWaiting(ctx, j.ID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.WarnContext(ctx, "read why a job waits", "job_id", j.ID, "error", err)
		}
		return nil
	}
	return &waitingJSON{Reason: w.Reason, Since: w.Since, TaskIndex: w.TaskIndex}
}
