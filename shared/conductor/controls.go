package conductor

import (
	"context"
	"errors"
	"fmt"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// The workflow controls users drive through the API: approve a hold, cancel
// a workflow or a job, rerun a workflow. Each is a conditional write on the
// records followed by advance(), so it is idempotent and safe beside the
// state machines' own events:
//
//	approve:         approval job on_hold ─▶ success ─▶ advance (dependents run)
//	cancel workflow: workflow ─▶ canceled; each job: blocked | on_hold ─▶ canceled,
//	                 queued | running ─▶ canceled + its tasks canceled (runner API
//	                 410 ─▶ the bridge deregisters the Nomad job) + its execution
//	                 completed with "canceled"; workflow execution released
//	cancel job:      the same for one job, then advance: dependents not_run
//	                 (unless their requires accept canceled), workflow canceled
//	rerun:           a new workflow in the same pipeline (rerun.go)

// ErrNotAllowed: the control does not apply to the workflow or job as it is
// now (approving a job that is not on hold, rerunning a running workflow,
// cancelling a finished job). The API answers 400 with the message.
var ErrNotAllowed = errors.New("not allowed")

// Approve approves the approval job jobID (CircleCI's approval_request_id)
// of workflow wid: the job succeeds and the jobs that require it run.
// Approving a job that is already approved is ErrNotAllowed ("already
// approved"): CircleCI's API answers 202 only for the approval itself (its
// OpenAPI document has no other success), and an error tells a second
// approver that someone was first.
func (c *Conductor) Approve(ctx context.Context, wid, jobID string) error {
	j, err := c.workflowJob(ctx, wid, jobID)
	if err != nil {
		return err
	}
	if j.Type != config.JobTypeApproval {
		return fmt.Errorf("%w: job %s is not an approval job", ErrNotAllowed, j.Name)
	}
	j, err = c.st.TransitionJob(ctx, wid, j.Name, func(cur *store.Job) (status.Job, error) {
		if cur.Status != status.JobOnHold {
			return cur.Status, store.ErrStale
		}
		return status.JobSuccess, nil
	})
	switch {
	case errors.Is(err, store.ErrStale) && j.Status == status.JobSuccess:
		return fmt.Errorf("%w: approval job %s is already approved", ErrNotAllowed, j.Name)
	case errors.Is(err, store.ErrStale):
		return fmt.Errorf("%w: approval job %s is %s, not on_hold", ErrNotAllowed, j.Name, j.Status)
	case err != nil:
		return err
	}
	c.log.InfoContext(ctx, "job approved", "pipeline_id", j.PipelineID, "workflow_id", wid, "job_id", j.ID, "job", j.Name)
	return c.advance(ctx, wid)
}

// CancelWorkflow cancels a workflow that has not finished: it becomes
// canceled at once, its jobs that have not finished become canceled, the
// work of running ones is stopped. Cancelling a canceled workflow again
// finishes what a first, interrupted call left (and is otherwise a no-op);
// a workflow that finished otherwise is ErrNotAllowed.
func (c *Conductor) CancelWorkflow(ctx context.Context, wid string) error {
	w, err := c.st.TransitionWorkflow(ctx, wid, func(w *store.Workflow) (status.Workflow, error) {
		if !w.Status.CanTransition(status.WorkflowCanceled) {
			return w.Status, store.ErrStale
		}
		return status.WorkflowCanceled, nil
	})
	switch {
	case errors.Is(err, store.ErrStale) && w.Status == status.WorkflowCanceled:
	case errors.Is(err, store.ErrStale):
		return fmt.Errorf("%w: workflow %s is already %s", ErrNotAllowed, w.Name, w.Status)
	case err != nil:
		return err
	default:
		c.log.InfoContext(ctx, "workflow canceled", "pipeline_id", w.PipelineID, "workflow_id", wid, "workflow", w.Name)
	}
	jobs, err := c.st.ListJobs(ctx, wid)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Status.Terminal() {
			continue
		}
		if _, err := c.stopJob(ctx, wid, j.Name, status.JobCanceled, ""); err != nil {
			return err
		}
	}
	c.releaseWorkflow(ctx, w)
	return nil
}

// CancelJob cancels one job that has not finished (by its id): it becomes
// canceled, its work stops, and the workflow advances (jobs that require it
// become not_run unless they accept canceled; the workflow ends canceled).
// Cancelling a canceled job is a no-op; a job that finished otherwise is
// ErrNotAllowed.
func (c *Conductor) CancelJob(ctx context.Context, jobID string) error {
	j, err := c.st.GetJob(ctx, jobID)
	if err != nil {
		return err
	}
	changed, err := c.stopJob(ctx, j.WorkflowID, j.Name, status.JobCanceled, "")
	if err != nil {
		return err
	}
	if !changed {
		if j, err = c.st.GetJob(ctx, jobID); err != nil {
			return err
		}
		if j.Status != status.JobCanceled {
			return fmt.Errorf("%w: job %s is already %s", ErrNotAllowed, j.Name, j.Status)
		}
	}
	return c.advance(ctx, j.WorkflowID)
}

// workflowJob returns the job with the id if it belongs to the workflow.
func (c *Conductor) workflowJob(ctx context.Context, wid, jobID string) (store.Job, error) {
	if _, err := c.st.GetWorkflow(ctx, wid); err != nil {
		return store.Job{}, err
	}
	j, err := c.st.GetJob(ctx, jobID)
	if err != nil {
		return store.Job{}, err
	}
	if j.WorkflowID != wid {
		return store.Job{}, fmt.Errorf("job %s of workflow %s: %w", jobID, wid, store.ErrNotFound)
	}
	return j, nil
}
