package conductor

import (
	"context"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/store"
)

var _ runner.WaitingBackend = (*Conductor)(nil)

// TaskWaiting records why a queued task waits (the bridge's report: Nomad
// unreachable, no client of its resource class, node drained) on its job,
// where the API shows it while the job is queued. A terminal task answers
// runner.ErrTaskTerminal; a running one's report is dropped (it no longer
// waits, and a late report must not bring the reason back).
func (c *Conductor) TaskWaiting(ctx context.Context, taskID string, w runner.TaskWaiting) error {
	t, err := c.st.GetTask(ctx, taskID)
	if err != nil {
		return err
	}
	if t.Status.Terminal() {
		return runner.ErrTaskTerminal
	}
	if t.StartedAt != nil && w.Reason != "" {
		return nil
	}
	return c.st.SetJobWaiting(ctx, t.JobID, store.JobWaiting{Reason: w.Reason, Since: w.Since, TaskIndex: t.Index})
}
