package conductor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/runqueue"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// ErrInfrastructureFail is the error name with which a job's Dispatch state
// fails when a task's machine was lost; the job machine retries it.
const ErrInfrastructureFail = "InfrastructureFail"

// jobResult is what the conductor sends with the job's task token.
type jobResult struct {
	Status  status.Job `json:"status"`
	Message string     `json:"message,omitempty"`
}

// dispatch starts an attempt of a job: it numbers the job, creates its tasks
// and puts one run-queue message per task, keeping the execution's task
// token on the job. Called again for the same attempt (a retry or a resume
// after a crash) it only refreshes the token and re-sends the messages of
// tasks that have not started, which the bridge deduplicates. A job that
// is already terminal (canceled before it could run) completes the
// execution at once with its status.
func (c *Conductor) dispatch(ctx context.Context, wid, name, token string) error {
	j, err := c.st.TransitionJob(ctx, wid, name, func(j *store.Job) (status.Job, error) {
		if j.Status.Terminal() {
			return j.Status, store.ErrStale
		}
		j.TaskToken = token
		if j.Attempt != 0 && !allSet(j.Tasks) {
			return j.Status, nil // the same attempt again: only the token changes
		}
		switch j.Status {
		case status.JobBlocked, status.JobQueued, status.JobRunning:
		default:
			return j.Status, fmt.Errorf("job %s is %s: cannot dispatch", j.Name, j.Status)
		}
		j.Attempt++
		j.Tasks = make([]status.Job, j.Parallelism)
		now := c.st.Now()
		j.QueuedAt = &now // also when a queued job is queued again
		return status.JobQueued, nil
	})
	if errors.Is(err, store.ErrStale) {
		return c.complete(ctx, j, token, jobResult{Status: j.Status, Message: j.Message})
	}
	if err != nil {
		return err
	}
	if j.Number == 0 {
		if j, err = c.st.AssignJobNumber(ctx, j); err != nil {
			return err
		}
	}
	var inv config.JobInvocation
	if err := json.Unmarshal(j.Spec, &inv); err != nil {
		return fmt.Errorf("decode job %s: %w", j.Name, err)
	}
	var pending []store.Task
	for i := range j.Parallelism {
		t, err := c.st.CreateTask(ctx, store.Task{
			ID: store.TaskID(j.ID, j.Attempt, i), JobID: j.ID, JobName: j.Name, WorkflowID: wid,
			PipelineID: j.PipelineID, ProjectSlug: j.ProjectSlug, Index: i, Attempt: j.Attempt,
			Status: status.JobQueued,
		})
		if err != nil {
			return err
		}
		if t.Status == status.JobQueued {
			pending = append(pending, t)
		}
	}
	// The job may have been canceled while this attempt was set up, before
	// its tasks existed for the canceler to stop: stop them here rather than
	// enqueue work nobody waits for. (A cancel after this read finds the
	// tasks and stops them itself.)
	cur, err := c.st.GetJob(ctx, j.ID)
	if err != nil {
		return err
	}
	if cur.Status.Terminal() {
		return c.stopTasks(ctx, cur, cur.Status, cur.Message)
	}
	expires := c.st.Now().Add(c.cfg.JobTimeout + tokenGrace)
	for _, t := range pending {
		i := t.Index
		msg := runqueue.Message{
			TaskID: t.ID, JobID: j.ID, WorkflowID: wid, PipelineID: j.PipelineID,
			ProjectSlug: j.ProjectSlug, JobNumber: j.Number, JobName: j.Name,
			Index: i, Total: j.Parallelism, Attempt: j.Attempt,
			Token: c.cfg.Tokens.Sign(t.ID, expires),
		}
		if inv.Job != nil {
			msg.Executor = inv.Job.Executor.Type
			msg.ResourceClass = inv.Job.Executor.ResourceClass
			msg.DockerLayerCaching = inv.Job.Executor.DockerLayerCaching
			if len(inv.Job.Executor.Images) > 0 {
				msg.Image = inv.Job.Executor.Images[0].Image
			} else {
				msg.Image = inv.Job.Executor.MachineImage
			}
		}
		body, err := msg.Encode()
		if err != nil {
			return err
		}
		if _, err := c.cfg.RunQueue.Send(ctx, body, sendNow); err != nil {
			return fmt.Errorf("enqueue task %s: %w", t.ID, err)
		}
	}
	c.log.InfoContext(ctx, "job dispatched", "pipeline_id", j.PipelineID, "workflow_id", wid, "job_id", j.ID,
		"job", j.Name, "job_number", j.Number, "attempt", j.Attempt, "tasks", j.Parallelism)
	return nil
}

func allSet(tasks []status.Job) bool {
	for _, t := range tasks {
		if t == "" {
			return false
		}
	}
	return len(tasks) > 0
}

// release completes the job's waiting Dispatch state with the job's outcome:
// an infrastructure failure fails it (so the machine retries), anything else
// succeeds it with the status.
func (c *Conductor) release(ctx context.Context, j store.Job, r jobResult) error {
	if j.TaskToken == "" {
		return nil
	}
	var err error
	if r.Status == status.JobInfrastructureFail {
		err = c.cfg.Orchestrator.SendTaskFailure(ctx, j.TaskToken, ErrInfrastructureFail, r.Message)
	} else {
		out, _ := json.Marshal(r)
		err = c.cfg.Orchestrator.SendTaskSuccess(ctx, j.TaskToken, out)
	}
	if err != nil {
		c.log.WarnContext(ctx, "release job", "workflow_id", j.WorkflowID, "job_id", j.ID, "error", err)
	}
	return nil
}

// complete ends a job execution whose job is already terminal (it was
// canceled, or its outcome recorded, before this Dispatch ran): the state
// succeeds with the recorded status, never fails, so nothing is retried.
func (c *Conductor) complete(ctx context.Context, j store.Job, token string, r jobResult) error {
	out, _ := json.Marshal(r)
	if err := c.cfg.Orchestrator.SendTaskSuccess(ctx, token, out); err != nil {
		c.log.WarnContext(ctx, "complete job execution", "workflow_id", j.WorkflowID, "job_id", j.ID, "error", err)
	}
	return nil
}

// finishJob records a job's outcome (from the released token, or from the
// error its Dispatch state caught), stops what still runs of its last
// attempt (a timed-out job's tasks) and advances the workflow.
func (c *Conductor) finishJob(ctx context.Context, wid, name string, input json.RawMessage) error {
	var in struct {
		Result *jobResult  `json:"result"`
		Error  *StateError `json:"error"`
	}
	if err := json.Unmarshal(input, &in); err != nil {
		return fmt.Errorf("decode finish input: %w", err)
	}
	to, msg := status.JobFailed, ""
	switch {
	case in.Result != nil:
		to, msg = in.Result.Status, in.Result.Message
	case in.Error != nil:
		msg = in.Error.Cause
		switch in.Error.Error {
		case ErrInfrastructureFail, "States.HeartbeatTimeout":
			to = status.JobInfrastructureFail
		case "States.Timeout":
			to, msg = status.JobTimedOut, fmt.Sprintf("job exceeded its time limit (%s)", c.cfg.JobTimeout)
		default:
			msg = in.Error.Error + ": " + in.Error.Cause
		}
	}
	if !to.Terminal() {
		return fmt.Errorf("job %s finished with status %q, which is not terminal", name, to)
	}
	j, err := c.st.TransitionJob(ctx, wid, name, func(j *store.Job) (status.Job, error) {
		// The execution's outcome is final for a job that has one; an
		// approval job has none, and a terminal job is past it.
		if j.Status.Terminal() || j.Status == status.JobOnHold {
			return j.Status, store.ErrStale
		}
		j.Message, j.TaskToken = msg, ""
		return to, nil
	})
	switch {
	case errors.Is(err, store.ErrStale):
		// Canceled or finished before: a late outcome changes nothing.
	case err != nil:
		return err
	default:
		c.log.InfoContext(ctx, "job finished", "pipeline_id", j.PipelineID, "workflow_id", wid, "job_id", j.ID,
			"job", name, "status", to, "attempt", j.Attempt)
		if err := c.stopTasks(ctx, j, to, msg); err != nil {
			return err
		}
	}
	return c.advance(ctx, wid)
}

// stopJob ends a job that has not finished with a terminal status (a user
// canceled it, or its workflow): a job without an execution running
// (blocked, on hold) just takes the status; a queued or running one also
// has its tasks marked, so the runner API answers 410 for them and the
// bridge deregisters their Nomad jobs (which stops the build agents), and
// its execution is completed with the status. It reports whether it changed
// the job; a job already terminal is left as it is.
func (c *Conductor) stopJob(ctx context.Context, wid, name string, to status.Job, msg string) (bool, error) {
	var token string
	j, err := c.st.TransitionJob(ctx, wid, name, func(j *store.Job) (status.Job, error) {
		if !j.Status.CanTransition(to) {
			return j.Status, store.ErrStale // already there, or past it
		}
		token = j.TaskToken
		j.Message, j.TaskToken = msg, ""
		return to, nil
	})
	if errors.Is(err, store.ErrStale) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.log.InfoContext(ctx, "job stopped", "pipeline_id", j.PipelineID, "workflow_id", wid, "job_id", j.ID,
		"job", name, "status", to, "attempt", j.Attempt)
	if err := c.stopTasks(ctx, j, to, msg); err != nil {
		return true, err
	}
	if token != "" {
		j.TaskToken = token
		if err := c.release(ctx, j, jobResult{Status: to, Message: msg}); err != nil {
			return true, err
		}
	}
	return true, nil
}

// stopTasks marks every task of the job's current attempt that is not
// terminal yet with the job's final status. From then on the runner API
// answers 410 Gone for the task (spec and heartbeat), which is how the
// bridge learns to deregister its Nomad job; later reports from its agent
// are no-ops.
func (c *Conductor) stopTasks(ctx context.Context, j store.Job, to status.Job, msg string) error {
	if j.Attempt == 0 {
		return nil
	}
	for i := range j.Parallelism {
		id := store.TaskID(j.ID, j.Attempt, i)
		_, err := c.st.TransitionTask(ctx, id, func(t *store.Task) (status.Job, error) {
			if t.Status.Terminal() {
				return t.Status, store.ErrStale
			}
			t.Message = msg
			return to, nil
		})
		switch {
		case errors.Is(err, store.ErrStale), errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("stop task %s: %w", id, err)
		default:
			c.log.InfoContext(ctx, "task stopped", "pipeline_id", j.PipelineID, "workflow_id", j.WorkflowID,
				"job_id", j.ID, "task_index", i, "attempt", j.Attempt, "status", to)
		}
	}
	return nil
}
