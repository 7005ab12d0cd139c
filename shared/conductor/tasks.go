package conductor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// tokenGrace keeps a task's runner token valid a while past the job timeout,
// so an agent can still report after a slow end.
const tokenGrace = time.Hour

var sendNow = queue.SendOptions{}

// The conductor is the runner API's backend.
var _ runner.Backend = (*Conductor)(nil)

// TaskSpec builds the spec a build agent runs: the job's steps and the
// environment CircleCI documents.
func (c *Conductor) TaskSpec(ctx context.Context, taskID string) (runner.TaskSpec, error) {
	t, j, inv, err := c.taskJob(ctx, taskID)
	if err != nil {
		return runner.TaskSpec{}, err
	}
	if t.Status.Terminal() {
		return runner.TaskSpec{}, runner.ErrTaskTerminal
	}
	p, err := c.st.GetPipeline(ctx, t.PipelineID)
	if err != nil {
		return runner.TaskSpec{}, err
	}
	spec := runner.TaskSpec{
		TaskID: t.ID, JobID: j.ID, JobName: j.Name, JobNumber: j.Number, WorkflowID: t.WorkflowID,
		PipelineID: t.PipelineID, Index: t.Index, Total: j.Parallelism,
		Checkout: runner.Checkout{RepoURL: p.VCS.OriginRepositoryURL, Revision: p.VCS.Revision, Branch: p.VCS.Branch, Tag: p.VCS.Tag},
	}
	job := inv.Job
	if job == nil {
		return runner.TaskSpec{}, fmt.Errorf("job %s has no steps to run", j.Name)
	}
	spec.ProjectSlug = t.ProjectSlug
	executorSpec(&spec, job.Executor)
	spec.WorkingDirectory, spec.Shell = job.WorkingDirectory, job.Shell
	spec.Environment = builtinEnv(p, j, t, job)
	c.addContinuationKey(p, &spec)
	// A fork's pull request runs someone else's code: it gets none of the
	// project's secrets, as on CircleCI by default.
	if c.cfg.Secrets != nil && !p.Trigger.Fork {
		denied, err := c.cfg.Secrets.AddTaskSecrets(ctx, &spec, inv.Contexts)
		if err != nil {
			return runner.TaskSpec{}, fmt.Errorf("secrets of job %s: %w", j.Name, err)
		}
		if denied != "" {
			// A context deleted or restricted since the job started: the
			// job fails with the reason rather than run without its secrets.
			if _, err := c.stopJob(ctx, j.WorkflowID, j.Name, status.JobFailed, denied); err != nil {
				return runner.TaskSpec{}, err
			}
			return runner.TaskSpec{}, fmt.Errorf("%w: %s", runner.ErrTaskTerminal, denied)
		}
	}
	if c.cfg.Checkout != nil {
		c.cfg.Checkout.PrepareCheckout(&spec.Checkout)
	}
	spec.Environment = append(spec.Environment, job.Environment...)
	resolveAuth(&spec)
	// A plan's step is the runner API's step: it goes to the agent as compiled.
	spec.Steps = job.Steps
	if j.SSH != nil {
		spec = runner.WithSSH(spec, runner.SSHAccess{AuthorizedKeys: j.SSH.AuthorizedKeys,
			IdleSeconds: int(c.cfg.SSHIdle.Seconds()), MaxSeconds: int(c.cfg.SSHMax.Seconds())})
	}
	return spec, nil
}

// builtinEnv is CircleCI's built-in environment for a task.
func builtinEnv(p store.Pipeline, j store.Job, t store.Task, job *config.Job) []runner.EnvVar {
	org, repo := "", ""
	if parts := strings.Split(p.ProjectSlug, "/"); len(parts) == 3 {
		org, repo = parts[1], parts[2]
	}
	env := []runner.EnvVar{
		{Name: "CI", Value: "true"},
		{Name: "CIRCLECI", Value: "true"},
		{Name: "CIRCLE_BRANCH", Value: p.VCS.Branch},
		{Name: "CIRCLE_SHA1", Value: p.VCS.Revision},
		{Name: "CIRCLE_BUILD_NUM", Value: strconv.FormatInt(j.Number, 10)},
		{Name: "CIRCLE_JOB", Value: j.Name},
		{Name: "CIRCLE_WORKFLOW_ID", Value: j.WorkflowID},
		{Name: "CIRCLE_WORKFLOW_JOB_ID", Value: j.ID},
		{Name: "CIRCLE_PIPELINE_ID", Value: p.ID},
		{Name: "CIRCLE_WORKING_DIRECTORY", Value: job.WorkingDirectory},
		{Name: "CIRCLE_NODE_INDEX", Value: strconv.Itoa(t.Index)},
		{Name: "CIRCLE_NODE_TOTAL", Value: strconv.Itoa(j.Parallelism)},
		{Name: "CIRCLE_PROJECT_USERNAME", Value: org},
		{Name: "CIRCLE_PROJECT_REPONAME", Value: repo},
		{Name: "CIRCLE_REPOSITORY_URL", Value: p.VCS.OriginRepositoryURL},
		{Name: "CIRCLE_SHELL_ENV", Value: path.Join("/tmp", ".bash_env-"+t.ID)},
	}
	if p.VCS.Tag != "" {
		env = append(env, runner.EnvVar{Name: "CIRCLE_TAG", Value: p.VCS.Tag})
	}
	return env
}

// taskJob loads a task with its job and the job's compiled spec.
func (c *Conductor) taskJob(ctx context.Context, taskID string) (store.Task, store.Job, config.JobInvocation, error) {
	var inv config.JobInvocation
	t, err := c.st.GetTask(ctx, taskID)
	if err != nil {
		return t, store.Job{}, inv, err
	}
	j, err := c.st.GetJob(ctx, t.JobID)
	if err != nil {
		return t, j, inv, err
	}
	if err := json.Unmarshal(j.Spec, &inv); err != nil {
		return t, j, inv, fmt.Errorf("decode job %s: %w", j.Name, err)
	}
	return t, j, inv, nil
}

// errReplaced: a second allocation started a task that is already running.
var errReplaced = errors.New("task started by a second allocation")

// TaskStarted marks the task, and its job if it was queued, running.
func (c *Conductor) TaskStarted(ctx context.Context, taskID string, s runner.TaskStart) error {
	t, err := c.st.TransitionTask(ctx, taskID, func(t *store.Task) (status.Job, error) {
		if t.Status == status.JobRunning && t.Host != "" && s.Host != "" && t.Host != s.Host {
			return t.Status, errReplaced
		}
		if t.Status != status.JobQueued {
			return t.Status, store.ErrStale
		}
		t.Host = s.Host
		return status.JobRunning, nil
	})
	if errors.Is(err, errReplaced) {
		// Nomad started a replacement allocation of the task's job (it does
		// when an allocation is stopped): the first run was lost. Fail the
		// task as infrastructure so the job retries as a new attempt, and
		// stop the replacement (410), so a task never runs twice at once.
		msg := fmt.Sprintf("allocation stopped or lost: the task started again on %s after %s", s.Host, t.Host)
		if err := c.TaskFinished(ctx, taskID, runner.TaskResult{Status: string(status.JobInfrastructureFail), Message: msg}); err != nil {
			return err
		}
		return runner.ErrTaskTerminal
	}
	if err := ignoreStale(err); err != nil {
		return err
	}
	_, err = c.st.TransitionJob(ctx, t.WorkflowID, t.JobName, func(j *store.Job) (status.Job, error) {
		if j.Status != status.JobQueued || j.Attempt != t.Attempt {
			return j.Status, store.ErrStale
		}
		return status.JobRunning, nil
	})
	return ignoreStale(err)
}

// AppendOutput stores a chunk of a step's output.
func (c *Conductor) AppendOutput(ctx context.Context, taskID string, step, seq int, data []byte) error {
	return c.st.AppendOutput(ctx, taskID, step, seq, data)
}

// StepUpdate records a step's status; a terminal status is final.
func (c *Conductor) StepUpdate(ctx context.Context, taskID string, n int, r runner.StepReport) error {
	_, _, inv, err := c.taskJob(ctx, taskID)
	if err != nil {
		return err
	}
	if inv.Job == nil || n < 0 || n >= len(inv.Job.Steps) {
		return fmt.Errorf("%w: step %d does not exist", runner.ErrBadRequest, n)
	}
	cs := inv.Job.Steps[n]
	_, err = c.st.PutStep(ctx, taskID, n, func(s *store.Step) error {
		if s.Status != "" && s.Status != status.StepRunning {
			return store.ErrStale
		}
		s.Name, s.Type = cs.Name, cs.Type
		s.Status, s.ExitCode, s.Message = status.Step(r.Status), r.ExitCode, r.Message
		s.StartedAt = r.StartedAt
		if !r.StoppedAt.IsZero() {
			t := r.StoppedAt
			s.StoppedAt = &t
		}
		return nil
	})
	return ignoreStale(err)
}

// TaskHeartbeat keeps the job's orchestrator heartbeat fresh. A terminal
// task (finished, or stopped by a cancel or a timeout) answers
// runner.ErrTaskTerminal, the 410 on which the bridge deregisters the
// task's Nomad job.
func (c *Conductor) TaskHeartbeat(ctx context.Context, taskID string) error {
	t, err := c.st.GetTask(ctx, taskID)
	if err != nil {
		return err
	}
	if t.Status.Terminal() {
		return runner.ErrTaskTerminal
	}
	j, err := c.st.GetJob(ctx, t.JobID)
	if err != nil {
		return err
	}
	if j.TaskToken == "" {
		return nil
	}
	return c.cfg.Orchestrator.SendTaskHeartbeat(ctx, j.TaskToken)
}

// TaskFinished records a task's outcome (the first terminal report wins)
// and, once every task of the attempt is terminal, releases the job.
func (c *Conductor) TaskFinished(ctx context.Context, taskID string, r runner.TaskResult) error {
	to := status.Job(r.Status)
	if !to.Terminal() {
		return fmt.Errorf("%w: %q is not a terminal status", runner.ErrBadRequest, r.Status)
	}
	t, err := c.st.TransitionTask(ctx, taskID, func(t *store.Task) (status.Job, error) {
		if t.Status.Terminal() {
			return t.Status, store.ErrStale
		}
		t.Message = r.Message
		return to, nil
	})
	if errors.Is(err, store.ErrStale) {
		return nil
	}
	if err != nil {
		return err
	}
	c.log.InfoContext(ctx, "task finished", "pipeline_id", t.PipelineID, "workflow_id", t.WorkflowID,
		"job_id", t.JobID, "task_index", t.Index, "status", to)
	j, err := c.st.UpdateJob(ctx, t.WorkflowID, t.JobName, func(j *store.Job) error {
		if j.Attempt != t.Attempt || t.Index >= len(j.Tasks) || j.Tasks[t.Index] != "" {
			return store.ErrStale
		}
		j.Tasks[t.Index] = to
		return nil
	})
	if errors.Is(err, store.ErrStale) {
		return nil
	}
	if err != nil {
		return err
	}
	if !allSet(j.Tasks) {
		return nil
	}
	return c.release(ctx, j, jobResult{Status: outcome(j.Tasks), Message: r.Message})
}

// outcome is a job's status from its tasks': any infrastructure failure
// first (it is retried), then timeouts, failures, cancellations.
func outcome(tasks []status.Job) status.Job {
	for _, want := range []status.Job{status.JobInfrastructureFail, status.JobTimedOut, status.JobFailed, status.JobCanceled} {
		for _, t := range tasks {
			if t == want {
				return want
			}
		}
	}
	return status.JobSuccess
}
