package conductor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// requirementState says what a job's requirements allow now.
type requirementState int

const (
	reqWait requirementState = iota
	reqMet
	reqNeverMet
)

// requirements decides whether a blocked job can run: each required job must
// be terminal with one of the accepted statuses (status.Satisfies: default
// success; "terminal" accepts any terminal status). Once a required job is
// terminal with a status the requirement does not accept, the job can never
// run (not_run).
func requirements(j store.Job, byName map[string]status.Job) requirementState {
	state := reqMet
	for _, r := range j.Requires {
		got, ok := byName[r.Name]
		if !ok {
			return reqNeverMet
		}
		if !got.Terminal() {
			state = reqWait
			continue
		}
		if !status.Satisfies(got, r.Statuses) {
			return reqNeverMet
		}
	}
	return state
}

// advance moves a workflow forward: blocked jobs whose requirements are met
// start (approval jobs go on hold, no-op jobs succeed at once), those whose
// requirements can no longer be met become not_run, and the workflow's
// status follows its jobs. In a canceled workflow blocked jobs are canceled
// instead. When every job is terminal the workflow's waiting execution is
// released. Safe to call any number of times, concurrently.
func (c *Conductor) advance(ctx context.Context, wid string) error {
	for changed := true; changed; {
		changed = false
		w, err := c.st.GetWorkflow(ctx, wid)
		if err != nil {
			return err
		}
		jobs, err := c.st.ListJobs(ctx, wid)
		if err != nil {
			return err
		}
		byName := make(map[string]status.Job, len(jobs))
		for _, j := range jobs {
			byName[j.Name] = j.Status
		}
		for _, j := range jobs {
			if j.Status != status.JobBlocked {
				continue
			}
			if w.Status == status.WorkflowCanceled {
				changed = c.setJob(ctx, j, status.JobCanceled, "") || changed
				continue
			}
			switch requirements(j, byName) {
			case reqNeverMet:
				changed = c.setJob(ctx, j, status.JobNotRun, "") || changed
			case reqMet:
				switch j.Type {
				case config.JobTypeApproval:
					changed = c.setJob(ctx, j, status.JobOnHold, "") || changed
				case config.JobTypeNoOp:
					changed = c.setJob(ctx, j, status.JobSuccess, "") || changed
				default:
					msg, err := c.contextsDenied(ctx, j)
					if err != nil {
						return err
					}
					if msg != "" {
						changed = c.setJob(ctx, j, status.JobUnauthorized, msg) || changed
						continue
					}
					if err := c.startJob(ctx, j); err != nil {
						return err
					}
				}
			}
		}
	}
	return c.updateWorkflowStatus(ctx, wid)
}

// contextsDenied says why a job may not use the contexts its workflow names
// for it ("" when it may).
func (c *Conductor) contextsDenied(ctx context.Context, j store.Job) (string, error) {
	var inv config.JobInvocation
	if err := json.Unmarshal(j.Spec, &inv); err != nil {
		return "", fmt.Errorf("decode job %s: %w", j.Name, err)
	}
	if len(inv.Contexts) == 0 {
		return "", nil
	}
	if c.cfg.Secrets == nil {
		return "this installation keeps no contexts, so the job cannot use " + strings.Join(inv.Contexts, ", "), nil
	}
	return c.cfg.Secrets.ContextsDenied(ctx, j.ProjectSlug, inv.Contexts)
}

// setJob moves a job that has no execution running (blocked or on hold) to
// a status, if that is a legal transition from where it is now; it reports
// whether it changed anything.
func (c *Conductor) setJob(ctx context.Context, j store.Job, to status.Job, msg string) bool {
	_, err := c.st.TransitionJob(ctx, j.WorkflowID, j.Name, func(cur *store.Job) (status.Job, error) {
		if cur.Status.Active() || !cur.Status.CanTransition(to) {
			return cur.Status, store.ErrStale
		}
		if msg != "" {
			cur.Message = msg
		}
		return to, nil
	})
	if err != nil {
		if ignoreStale(err) != nil {
			c.log.ErrorContext(ctx, "job status change failed", "workflow_id", j.WorkflowID, "job_id", j.ID, "to", to, "error", err)
		}
		return false
	}
	c.log.InfoContext(ctx, "job status", "pipeline_id", j.PipelineID, "workflow_id", j.WorkflowID, "job_id", j.ID, "job", j.Name, "status", to)
	return true
}

// jobInput is the job machine's input.
type jobInput struct {
	WorkflowID     string `json:"workflow_id"`
	JobName        string `json:"job_name"`
	JobID          string `json:"job_id"`
	TimeoutSeconds int64  `json:"timeout_seconds"`
}

func (c *Conductor) startJob(ctx context.Context, j store.Job) error {
	input, _ := json.Marshal(jobInput{WorkflowID: j.WorkflowID, JobName: j.Name, JobID: j.ID,
		TimeoutSeconds: int64(c.cfg.JobTimeout.Seconds())})
	if _, err := c.cfg.Orchestrator.StartExecution(ctx, c.cfg.Machines.Job, j.ID, input); err != nil {
		return fmt.Errorf("start job %s: %w", j.Name, err)
	}
	return nil
}

// updateWorkflowStatus recomputes the workflow's status from its jobs, under
// the workflow's own conditional write (so concurrent callers serialize and
// the last writer saw the latest jobs), and releases the waiting execution
// once the workflow is terminal. A terminal status is never recomputed, and
// a change the workflow transition table refuses (failing back to running)
// is not written.
func (c *Conductor) updateWorkflowStatus(ctx context.Context, wid string) error {
	w, err := c.st.TransitionWorkflow(ctx, wid, func(w *store.Workflow) (status.Workflow, error) {
		if w.Status.Terminal() {
			return w.Status, store.ErrStale
		}
		jobs, err := c.st.ListJobs(ctx, wid)
		if err != nil {
			return w.Status, err
		}
		statuses := make([]status.Job, len(jobs))
		for i, j := range jobs {
			statuses[i] = j.Status
		}
		to := status.WorkflowOf(statuses)
		if !w.Status.CanTransition(to) {
			return w.Status, store.ErrStale // unchanged, or a change the rules refuse
		}
		return to, nil
	})
	if err := ignoreStale(err); err != nil {
		return err
	}
	c.releaseWorkflow(ctx, w)
	return nil
}

// releaseWorkflow completes a terminal workflow's WaitForCompletion state.
func (c *Conductor) releaseWorkflow(ctx context.Context, w store.Workflow) {
	if !w.Status.Terminal() || w.TaskToken == "" {
		return
	}
	out, _ := json.Marshal(map[string]string{"status": string(w.Status)})
	if err := c.cfg.Orchestrator.SendTaskSuccess(ctx, w.TaskToken, out); err != nil {
		// A second release after a concurrent one finds the token used.
		c.log.DebugContext(ctx, "release workflow", "workflow_id", w.ID, "error", err)
	}
}

func (c *Conductor) waitWorkflow(ctx context.Context, wid, token string) error {
	if _, err := c.st.UpdateWorkflow(ctx, wid, func(w *store.Workflow) error {
		w.TaskToken = token
		return nil
	}); err != nil {
		return err
	}
	// The jobs may all have finished before the token was stored.
	return c.updateWorkflowStatus(ctx, wid)
}

func (c *Conductor) finalizeWorkflow(ctx context.Context, wid string, input json.RawMessage) error {
	var in struct {
		Error *StateError `json:"error"`
	}
	_ = json.Unmarshal(input, &in)
	if in.Error == nil {
		if err := c.updateWorkflowStatus(ctx, wid); err != nil {
			return err
		}
	}
	w, err := c.st.TransitionWorkflow(ctx, wid, func(w *store.Workflow) (status.Workflow, error) {
		w.TaskToken = ""
		if w.StoppedAt == nil {
			now := c.st.Now()
			w.StoppedAt = &now
		}
		if in.Error != nil && !w.Status.Terminal() {
			return status.WorkflowError, nil
		}
		return w.Status, nil
	})
	if err != nil {
		return err
	}
	c.log.InfoContext(ctx, "workflow finished", "pipeline_id", w.PipelineID, "workflow_id", wid, "workflow", w.Name, "status", w.Status)
	return nil
}
