package conductor

import (
	"context"
	"encoding/json"
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
// tasks that have not started, which the bridge deduplicates.
func (c *Conductor) dispatch(ctx context.Context, wid, name, token string) error {
	j, err := c.st.UpdateJob(ctx, wid, name, func(j *store.Job) error {
		if j.Status.Terminal() {
			return nil
		}
		newAttempt := j.Attempt == 0 || allSet(j.Tasks)
		if newAttempt {
			switch j.Status {
			case status.JobBlocked, status.JobQueued, status.JobRunning:
			default:
				return fmt.Errorf("job %s is %s: cannot dispatch", j.Name, j.Status)
			}
			j.Attempt++
			j.Tasks = make([]status.Job, j.Parallelism)
			j.Status = status.JobQueued
			now := c.st.Now()
			j.QueuedAt = &now
		}
		j.TaskToken = token
		return nil
	})
	if err != nil {
		return err
	}
	if j.Status.Terminal() {
		// Canceled (or otherwise finished) before it could run.
		return c.release(ctx, j, jobResult{Status: j.Status})
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
	expires := c.st.Now().Add(c.cfg.JobTimeout + tokenGrace)
	for i := range j.Parallelism {
		t, err := c.st.CreateTask(ctx, store.Task{
			ID: store.TaskID(j.ID, j.Attempt, i), JobID: j.ID, JobName: j.Name, WorkflowID: wid,
			PipelineID: j.PipelineID, ProjectSlug: j.ProjectSlug, Index: i, Attempt: j.Attempt,
			Status: status.JobQueued,
		})
		if err != nil {
			return err
		}
		if t.Status != status.JobQueued {
			continue
		}
		msg := runqueue.Message{
			TaskID: t.ID, JobID: j.ID, WorkflowID: wid, PipelineID: j.PipelineID,
			ProjectSlug: j.ProjectSlug, JobNumber: j.Number, JobName: j.Name,
			Index: i, Total: j.Parallelism, Attempt: j.Attempt,
			Token: c.cfg.Tokens.Sign(t.ID, expires),
		}
		if inv.Job != nil {
			msg.Executor = inv.Job.Executor.Type
			msg.ResourceClass = inv.Job.Executor.ResourceClass
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

// finishJob records a job's outcome (from the released token, or from the
// error its Dispatch state caught) and advances the workflow.
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
			to, msg = status.JobTimedOut, "job exceeded its time limit"
		default:
			msg = in.Error.Error + ": " + in.Error.Cause
		}
	}
	j, err := c.st.UpdateJob(ctx, wid, name, func(j *store.Job) error {
		if j.Status.Terminal() {
			return store.ErrStale
		}
		j.Status, j.Message, j.TaskToken = to, msg, ""
		now := c.st.Now()
		j.StoppedAt = &now
		return nil
	})
	if err := ignoreStale(err); err != nil {
		return err
	}
	c.log.InfoContext(ctx, "job finished", "pipeline_id", j.PipelineID, "workflow_id", wid, "job_id", j.ID, "job", name, "status", to)
	return c.advance(ctx, wid)
}
