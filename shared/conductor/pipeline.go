package conductor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/orchestrator"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// ErrBadTrigger: the trigger request is invalid (the API answers 400).
var ErrBadTrigger = errors.New("invalid trigger")

// MaxConfigBytes is the largest configuration file a pipeline reads (256
// KiB; docs in README.md "Limits"). A larger file errors the pipeline at
// once with its size, before anything is stored or compiled: it cannot
// succeed on a retry.
const MaxConfigBytes = 256 * 1024

// TriggerRequest asks for a new pipeline.
type TriggerRequest struct {
	ProjectSlug string
	// Branch or Tag (not both); empty both means the project's default branch.
	Branch, Tag string
	// Revision pins a commit; empty means the head of Branch or Tag.
	Revision   string
	Parameters map[string]any
	// TriggerType is "api", "webhook", "schedule" or "git-hook".
	TriggerType string
	Actor       string
	// Fork: the pipeline builds a pull request from a fork, whose jobs get
	// no secrets (project variables, contexts, OIDC tokens).
	Fork bool
	// ScheduledWorkflow, for a "schedule" trigger, names the scheduled
	// workflow to run: the pipeline runs it alone (push workflows do not
	// run on a schedule, scheduled ones run on nothing else).
	ScheduledWorkflow string
	// ConfigPath is the config file to build from (a pipeline
	// definition's); empty means Config.ConfigPath.
	ConfigPath string
	// Commit is the revision's commit when the trigger carries it (a push
	// webhook's head_commit); zero means fetch_config reads it
	// (Config.Commits).
	Commit vcs.Commit
	// IdempotencyKey, when set, makes replays of the same request (the
	// API's Idempotency-Key header) answer the pipeline the first one made
	// instead of making another (store.ClaimTrigger).
	IdempotencyKey string
}

// ErrIdempotencyConflict is a replay of a trigger still being made, or a
// key reused with another request (store.ErrIdempotencyMismatch).
var ErrIdempotencyConflict = errors.New("idempotency key conflict")

// Trigger creates a pipeline and starts its execution. Problems with the
// repository or config do not fail the trigger: the pipeline is created and
// then errors, as on CircleCI. An unknown project is store.ErrNotFound.
func (c *Conductor) Trigger(ctx context.Context, req TriggerRequest) (store.Pipeline, error) {
	if req.Branch != "" && req.Tag != "" {
		return store.Pipeline{}, fmt.Errorf("%w: give branch or tag, not both", ErrBadTrigger)
	}
	proj, err := c.st.GetProject(ctx, req.ProjectSlug)
	if err != nil {
		return store.Pipeline{}, err
	}
	if !proj.StoppedAt.IsZero() {
		return store.Pipeline{}, fmt.Errorf("%w: %s stopped building on %s; an admin of the project follows it again to resume",
			ErrNotAllowed, proj.Slug, proj.StoppedAt.Format(time.RFC3339))
	}
	if req.Branch == "" && req.Tag == "" {
		req.Branch = proj.DefaultBranch
	}
	if req.TriggerType == "" {
		req.TriggerType = "api"
	}
	if (req.TriggerType == "schedule") != (req.ScheduledWorkflow != "") {
		return store.Pipeline{}, fmt.Errorf("%w: a schedule trigger names its scheduled workflow, and only it does", ErrBadTrigger)
	}
	var id string
	if req.IdempotencyKey != "" {
		claim, claimed, err := c.st.ClaimTrigger(ctx, proj.Slug, req.IdempotencyKey, fingerprint(req))
		if errors.Is(err, store.ErrIdempotencyMismatch) {
			return store.Pipeline{}, fmt.Errorf("%w: Idempotency-Key %q was used with a different request", ErrIdempotencyConflict, req.IdempotencyKey)
		}
		if err != nil {
			return store.Pipeline{}, err
		}
		if !claimed {
			return c.replayed(ctx, claim.PipelineID)
		}
		id = claim.PipelineID
	}
	p, err := c.st.CreatePipeline(ctx, store.Pipeline{
		ID:          id,
		ProjectSlug: proj.Slug,
		Trigger:     store.Trigger{Type: req.TriggerType, Actor: req.Actor, ScheduledWorkflow: req.ScheduledWorkflow, Fork: req.Fork},
		VCS: store.PipelineVCS{
			OriginRepositoryURL: proj.RepoURL,
			Branch:              req.Branch,
			Tag:                 req.Tag,
			Revision:            req.Revision,
			Commit:              req.Commit,
		},
		Parameters: req.Parameters,
		ConfigPath: req.ConfigPath,
	})
	if err != nil {
		return store.Pipeline{}, err
	}
	input, _ := json.Marshal(map[string]string{"pipeline_id": p.ID})
	if _, err := c.cfg.Orchestrator.StartExecution(ctx, c.cfg.Machines.Pipeline, p.ID, input); err != nil {
		return p, fmt.Errorf("start pipeline %s: %w", p.ID, err)
	}
	c.log.InfoContext(ctx, "pipeline triggered", "pipeline_id", p.ID, "project", p.ProjectSlug,
		"number", p.Number, "branch", req.Branch, "tag", req.Tag, "trigger", req.TriggerType,
		"scheduled_workflow", req.ScheduledWorkflow)
	return p, nil
}

// replayWait bounds how long a replay waits for the first request's
// pipeline.
var replayWait = 5 * time.Second

// replayed answers a replay of an idempotent trigger with the pipeline the
// first request made, once it exists, and starts its execution again
// (idempotent by name), in case the first request died before it did.
func (c *Conductor) replayed(ctx context.Context, id string) (store.Pipeline, error) {
	// A wait on another request, so wall time (the store's clock may be a
	// test's, standing still).
	giveUp := time.NewTimer(replayWait)
	defer giveUp.Stop()
	for {
		p, err := c.st.GetPipeline(ctx, id)
		if err == nil {
			input, _ := json.Marshal(map[string]string{"pipeline_id": p.ID})
			_, err := c.cfg.Orchestrator.StartExecution(ctx, c.cfg.Machines.Pipeline, p.ID, input)
			if err != nil && !errors.Is(err, orchestrator.ErrExecutionAlreadyExists) {
				return p, fmt.Errorf("start pipeline %s: %w", p.ID, err)
			}
			return p, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.Pipeline{}, err
		}
		select {
		case <-ctx.Done():
			return store.Pipeline{}, ctx.Err()
		case <-giveUp.C:
			return store.Pipeline{}, fmt.Errorf("%w: the first request with this Idempotency-Key is still being made; retry", ErrIdempotencyConflict)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// fingerprint identifies what a trigger asks for, so a key reused for
// another request is refused.
func fingerprint(req TriggerRequest) string {
	b, _ := json.Marshal([]any{req.ProjectSlug, req.Branch, req.Tag, req.Revision, req.Parameters, req.TriggerType})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// errored records that a pipeline cannot run, with its reasons.
func (c *Conductor) errored(ctx context.Context, id string, errs ...store.PipelineError) error {
	return c.erroredWithCommit(ctx, id, vcs.Commit{}, errs...)
}

// erroredWithCommit is errored that also records the pipeline's commit
// (when not zero), read before the config could not be.
func (c *Conductor) erroredWithCommit(ctx context.Context, id string, commit vcs.Commit, errs ...store.PipelineError) error {
	_, err := c.st.TransitionPipeline(ctx, id, func(p *store.Pipeline) (status.Pipeline, error) {
		if p.State != status.PipelinePending {
			return p.State, store.ErrStale
		}
		if !commit.IsZero() {
			p.VCS.Commit = commit
		}
		p.Errors = append(p.Errors, errs...)
		return status.PipelineErrored, nil
	})
	if err == nil {
		c.log.WarnContext(ctx, "pipeline errored", "pipeline_id", id, "errors", errs)
	}
	return ignoreStale(err)
}

func (c *Conductor) fetchConfig(ctx context.Context, id string) (bool, error) {
	p, err := c.st.GetPipeline(ctx, id)
	if err != nil {
		return false, err
	}
	if p.State != status.PipelinePending {
		return false, nil
	}
	if _, err := c.st.GetPipelineConfig(ctx, id); err == nil {
		return true, nil // fetched before a retry
	}
	rev := p.VCS.Revision
	if rev == "" {
		ref := p.VCS.Branch
		if p.VCS.Tag != "" {
			ref = p.VCS.Tag
		}
		rev, err = c.cfg.Source.ResolveRevision(ctx, p.VCS.OriginRepositoryURL, ref)
		if err != nil {
			if isVCSMiss(err) {
				return false, c.errored(ctx, id, store.PipelineError{Type: "config-fetch", Message: err.Error()})
			}
			return false, err
		}
	}
	// The commit is read beside the config (two requests to GitHub at
	// once), so it costs the pipeline no time unless its host is slower.
	commitc := make(chan vcs.Commit, 1)
	go func() { commitc <- c.commitOf(ctx, p, rev) }()
	src, err := c.cfg.Source.FileAt(ctx, p.VCS.OriginRepositoryURL, rev, c.configPath(p))
	commit := <-commitc
	if err != nil {
		if isVCSMiss(err) {
			return false, c.erroredWithCommit(ctx, id, commit, store.PipelineError{Type: "config-fetch",
				Message: fmt.Sprintf("cannot read %s at %s: %v", c.configPath(p), shortSHA(rev), err)})
		}
		return false, err
	}
	if len(src) > MaxConfigBytes {
		return false, c.erroredWithCommit(ctx, id, commit, store.PipelineError{Type: "config",
			Message: fmt.Sprintf("%s is %s; the limit is %s", c.configPath(p), store.Size(len(src)), store.Size(MaxConfigBytes))})
	}
	if err := c.st.PutPipelineConfig(ctx, id, store.PipelineConfig{Source: string(src)}); err != nil {
		return false, c.tooLarge(ctx, id, err)
	}
	_, err = c.st.UpdatePipeline(ctx, id, func(p *store.Pipeline) error {
		p.VCS.Revision = rev
		if !commit.IsZero() {
			p.VCS.Commit = commit
		}
		return nil
	})
	return err == nil, err
}

// commitOf reads the commit at rev of a pipeline that has none
// (CommitSource), within Config.CommitTimeout. A failure is a warning: the
// pipeline goes on without its commit. Zero when there is nothing to record.
func (c *Conductor) commitOf(ctx context.Context, p store.Pipeline, rev string) vcs.Commit {
	if c.cfg.Commits == nil || !p.VCS.Commit.IsZero() {
		return vcs.Commit{}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CommitTimeout)
	defer cancel()
	commit, err := c.cfg.Commits.Commit(ctx, p.VCS.OriginRepositoryURL, rev)
	if err != nil {
		c.log.WarnContext(ctx, "pipeline commit not read; the pipeline shows none", "pipeline_id", p.ID,
			"project", p.ProjectSlug, "revision", shortSHA(rev), "error", err)
		return vcs.Commit{}
	}
	return commit
}

func isVCSMiss(err error) bool {
	return errors.Is(err, vcs.ErrRepoNotFound) || errors.Is(err, vcs.ErrRevisionNotFound) || errors.Is(err, vcs.ErrFileNotFound)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func (c *Conductor) compile(ctx context.Context, id string) (bool, error) {
	p, err := c.st.GetPipeline(ctx, id)
	if err != nil {
		return false, err
	}
	if p.State != status.PipelinePending {
		return false, nil
	}
	cfg, err := c.st.GetPipelineConfig(ctx, id)
	if err != nil {
		return false, err
	}
	if len(cfg.Plan) > 0 {
		return true, nil
	}
	urlOrbs, err := c.urlOrbs(ctx, p.ProjectSlug)
	if err != nil {
		return false, err
	}
	plan, err := config.Compile([]byte(cfg.Source), config.Options{
		URLOrbs:            urlOrbs,
		Filename:           c.configPath(p),
		Branch:             p.VCS.Branch,
		Tag:                p.VCS.Tag,
		Revision:           p.VCS.Revision,
		PipelineParameters: p.Parameters,
		PipelineValues: config.PipelineValues{
			ID:            p.ID,
			Number:        p.Number,
			ProjectGitURL: p.VCS.OriginRepositoryURL,
			ProjectSlug:   p.ProjectSlug,
			TriggerSource: triggerSource(p.Trigger.Type),
		},
		ScheduledWorkflow: p.Trigger.ScheduledWorkflow,
	})
	if err != nil {
		var list config.ErrorList
		if errors.As(err, &list) {
			errs := make([]store.PipelineError, 0, len(list))
			for _, e := range list {
				errs = append(errs, store.PipelineError{Type: "config", Message: e.Error()})
			}
			return false, c.errored(ctx, id, errs...)
		}
		return false, c.errored(ctx, id, store.PipelineError{Type: "config", Message: err.Error()})
	}
	if err := c.recordWarnings(ctx, id, plan.Warnings); err != nil {
		return false, err
	}
	raw, err := json.Marshal(plan)
	if err != nil {
		return false, fmt.Errorf("encode plan: %w", err)
	}
	cfg.Plan = raw
	if err := c.st.PutPipelineConfig(ctx, id, cfg); err != nil {
		return false, c.tooLarge(ctx, id, err)
	}
	return true, nil
}

// recordWarnings adds the config's warnings (what CircleCI tolerates) to
// the pipeline's errors list, where the API and the UI show config errors.
// They are of CircleCI's type "config", their message says "warning", and
// they change no status: the pipeline runs. Recording them before the plan
// is stored makes a retried compile add each one once.
func (c *Conductor) recordWarnings(ctx context.Context, id string, warnings config.ErrorList) error {
	if len(warnings) == 0 {
		return nil
	}
	_, err := c.st.UpdatePipeline(ctx, id, func(p *store.Pipeline) error {
		added := false
		for _, w := range warnings {
			e := store.PipelineError{Type: "config", Message: w.Warning()}
			if !slices.Contains(p.Errors, e) {
				p.Errors = append(p.Errors, e)
				added = true
			}
		}
		if !added {
			return store.ErrStale
		}
		return nil
	})
	if err = ignoreStale(err); err != nil {
		return fmt.Errorf("record config warnings of pipeline %s: %w", id, err)
	}
	return nil
}

// tooLarge errors the pipeline when err says its configuration is too large
// to store (permanent: a retry would fail the same way) and returns other
// errors as they are, to be retried.
func (c *Conductor) tooLarge(ctx context.Context, id string, err error) error {
	var big *store.TooLargeError
	if !errors.As(err, &big) {
		return err
	}
	return c.errored(ctx, id, store.PipelineError{Type: "config",
		Message: fmt.Sprintf("the configuration (%s with its compiled form) is %s once stored; the limit is %s",
			c.cfg.ConfigPath, store.Size(big.Size), store.Size(big.Limit))})
}

// triggerSource is pipeline.trigger_source for a trigger type.
func triggerSource(t string) string {
	switch t {
	case "schedule":
		return "scheduled_pipeline"
	case "git-hook":
		return "webhook"
	}
	return t
}

// idNamespace derives workflow and job ids from their parents, so a retried
// create_workflows makes the same records.
var idNamespace = uuid.MustParse("6f0b1c52-6d1e-4c1e-9a57-0a7c1f2b9e10")

func (c *Conductor) createWorkflows(ctx context.Context, id string) error {
	p, err := c.st.GetPipeline(ctx, id)
	if err != nil {
		return err
	}
	cfg, err := c.st.GetPipelineConfig(ctx, id)
	if err != nil {
		return err
	}
	var plan config.Plan
	if err := json.Unmarshal(cfg.Plan, &plan); err != nil {
		return fmt.Errorf("decode plan of pipeline %s: %w", id, err)
	}
	if plan.Setup && !p.Setup {
		// Before any job can ask for its spec (and its continuation key).
		if p, err = c.st.UpdatePipeline(ctx, id, func(p *store.Pipeline) error { p.Setup = true; return nil }); err != nil {
			return err
		}
	}
	for _, wf := range plan.Workflows {
		if s := p.Trigger.ScheduledWorkflow; s != "" && wf.Name != s {
			// A scheduled pipeline runs its scheduled workflow alone; push
			// workflows never run on a schedule.
			continue
		}
		wid := uuid.NewSHA1(idNamespace, []byte(p.ID+"/"+wf.Name)).String()
		if err := c.createWorkflow(ctx, p, wid, wf, nil, "", nil); err != nil {
			return err
		}
	}
	_, err = c.st.TransitionPipeline(ctx, id, func(p *store.Pipeline) (status.Pipeline, error) {
		if p.State != status.PipelinePending {
			return p.State, store.ErrStale
		}
		return status.PipelineCreated, nil
	})
	return ignoreStale(err)
}

// createWorkflow stores a workflow with its jobs (all blocked, or keeping the
// given outcomes for a rerun of workflow rerunOf) and starts its execution.
// With ssh (a rerun with SSH), every build job that runs gets it.
func (c *Conductor) createWorkflow(ctx context.Context, p store.Pipeline, wid string, wf config.Workflow, keep map[string]store.Job, rerunOf string, ssh *store.SSHAccess) error {
	now := c.st.Now()
	w := store.Workflow{ID: wid, Name: wf.Name, PipelineID: p.ID, PipelineNumber: p.Number,
		ProjectSlug: p.ProjectSlug, Status: status.WorkflowRunning, CreatedAt: now, RerunOf: rerunOf}
	jobs := make([]store.Job, 0, len(wf.Jobs))
	for _, inv := range wf.Jobs {
		spec, err := json.Marshal(inv)
		if err != nil {
			return fmt.Errorf("encode job %s: %w", inv.Name, err)
		}
		j := store.Job{
			ID:          uuid.NewSHA1(idNamespace, []byte(wid+"/"+inv.Name)).String(),
			WorkflowID:  wid,
			PipelineID:  p.ID,
			ProjectSlug: p.ProjectSlug,
			Name:        inv.Name,
			Type:        "build",
			Status:      status.JobBlocked,
			Parallelism: 1,
			Spec:        spec,
			CreatedAt:   now,
		}
		switch inv.Type {
		case config.JobTypeApproval, config.JobTypeNoOp:
			j.Type = inv.Type
		}
		if inv.Job != nil && inv.Job.Parallelism > 1 {
			j.Parallelism = inv.Job.Parallelism
		}
		for _, r := range inv.Requires {
			req := store.Requirement{Name: r.Name}
			for _, s := range r.Statuses {
				req.Statuses = append(req.Statuses, status.Job(s))
			}
			j.Requires = append(j.Requires, req)
		}
		if _, kept := keep[inv.Name]; !kept && ssh != nil && j.Type == "build" {
			j.SSH = ssh
		}
		if prev, ok := keep[inv.Name]; ok {
			// A rerun keeps this job's result: it is terminal from the start
			// and never dispatched; its number still leads to the run that
			// produced the result, and ResultOf to where that run persisted
			// its workspace layers (attach_workspace downstream reads them).
			j.Status, j.Number, j.Message = prev.Status, prev.Number, prev.Message
			j.QueuedAt, j.StartedAt, j.StoppedAt = prev.QueuedAt, prev.StartedAt, prev.StoppedAt
			j.ResultOf = resultOf(prev)
		}
		jobs = append(jobs, j)
	}
	if err := c.st.CreateWorkflow(ctx, w, jobs); err != nil {
		return err
	}
	input, _ := json.Marshal(map[string]string{"workflow_id": wid})
	if _, err := c.cfg.Orchestrator.StartExecution(ctx, c.cfg.Machines.Workflow, wid, input); err != nil {
		return fmt.Errorf("start workflow %s: %w", wid, err)
	}
	c.log.InfoContext(ctx, "workflow created", "pipeline_id", p.ID, "workflow_id", wid, "workflow", wf.Name,
		"jobs", len(jobs), "kept", len(keep), "rerun_of", rerunOf)
	return nil
}

// resultOf is the run that produced a kept job's result: the job's own run,
// or, when a rerun had kept it already, the run that one recorded.
func resultOf(prev store.Job) *store.JobRun {
	if prev.ResultOf != nil {
		r := *prev.ResultOf
		return &r
	}
	return &store.JobRun{WorkflowID: prev.WorkflowID, Attempt: prev.Attempt}
}

func (c *Conductor) pipelineErrored(ctx context.Context, id string, e *StateError) error {
	msg := "pipeline setup failed"
	if e != nil {
		msg = fmt.Sprintf("%s: %s", e.Error, e.Cause)
	}
	return c.errored(ctx, id, store.PipelineError{Type: "plan", Message: msg})
}

// configPath is the config file a pipeline builds from: its definition's,
// else the conductor's.
func (c *Conductor) configPath(p store.Pipeline) string {
	if p.ConfigPath != "" {
		return p.ConfigPath
	}
	return c.cfg.ConfigPath
}
