package store

import (
	"context"

	"github.com/orbit-ci/orbit/shared/status"
)

// Observer hears of status changes after they are written: the audit log
// and notifications watch workflows and jobs here, since the Transition
// methods are the only writers of a status. It is called synchronously, in
// the writer's goroutine, once per change that was written (a decide that
// ran again after a conflict is heard once); a duplicated event that
// changed nothing is not heard. An Observer must be quick and must not
// fail the writer: it records what it needs and returns.
type Observer interface {
	// WorkflowChanged: w went from status from to w.Status; from is ""
	// when CreateWorkflow stored w (a retried create is heard again).
	WorkflowChanged(ctx context.Context, from status.Workflow, w Workflow)
	// JobChanged: j went from status from to j.Status.
	JobChanged(ctx context.Context, from status.Job, j Job)
}

// Observe adds o to the observers of s. Call it while wiring, before s is
// used.
func (s *Store) Observe(o Observer) { s.observers = append(s.observers, o) }
