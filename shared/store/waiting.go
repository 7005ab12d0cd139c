package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// JobWaiting is why a queued job has not started yet, as the bridge last
// reported it for one of its tasks (JOB#<id> / WAITING): "Nomad unreachable
// since 10:02:13", "no client with resource class large: …", "node
// drained". It is kept apart from the job record so that reporting it never
// races the job's status writes; readers show it only while the job is
// queued.
type JobWaiting struct {
	Reason string `json:"reason"`
	// Since is when the cause began.
	Since time.Time `json:"since"`
	// TaskIndex is the parallel task the report was about.
	TaskIndex int `json:"task_index"`
	// ReportedAt is when the bridge last reported it.
	ReportedAt time.Time `json:"reported_at"`
}

// SetJobWaiting records why job jobID waits; an empty Reason removes the
// record. The latest report wins.
func (s *Store) SetJobWaiting(ctx context.Context, jobID string, w JobWaiting) error {
	if w.Reason == "" {
		err := s.kv.Delete(ctx, "JOB#"+jobID, "WAITING", kv.Condition{})
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("clear waiting reason of job %s: %w", jobID, err)
		}
		return nil
	}
	w.ReportedAt = s.Now()
	it, err := item("JOB#"+jobID, "WAITING", w)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, it, kv.Condition{}); err != nil {
		return fmt.Errorf("record waiting reason of job %s: %w", jobID, err)
	}
	return nil
}

// GetJobWaiting returns why job jobID waits, or ErrNotFound.
func (s *Store) GetJobWaiting(ctx context.Context, jobID string) (JobWaiting, error) {
	var w JobWaiting
	if _, err := s.get(ctx, "JOB#"+jobID, "WAITING", &w); err != nil {
		return JobWaiting{}, fmt.Errorf("waiting reason of job %s: %w", jobID, err)
	}
	return w, nil
}
