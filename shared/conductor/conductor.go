// Package conductor is Orbit's workflows-conductor: the task handlers of the
// pipeline, workflow and job state machines, the decisions that advance a
// workflow as its jobs finish, and the backend of the runner API through which
// build agents report. It runs as the `conductor` Lambda in AWS and in-process
// in the embedded shape; it sees the world only through the store and the
// small ports declared here.
//
//	trigger ─▶ pipeline record ─▶ StartExecution(pipeline)
//	  fetch_config ─▶ compile ─▶ create_workflows ─▶ StartExecution(workflow) each
//	  start_workflow ─▶ advance: StartExecution(job) for each runnable job
//	  dispatch ─▶ tasks + run-queue messages ─▶ (bridge, agent) ─▶ runner API
//	  task finished ─▶ all tasks terminal ─▶ SendTaskSuccess/Failure(job token)
//	  finish_job ─▶ advance: next jobs, not_run, workflow status
//	                 └─ all terminal ─▶ SendTaskSuccess(workflow token) ─▶ finalize_workflow
//
// The workflow controls (controls.go, rerun.go) come from the API: approve
// an on_hold approval job, cancel a workflow or a job (tasks marked
// canceled, so the runner API answers 410 and the bridge deregisters their
// Nomad jobs; job executions completed with "canceled"), rerun a workflow as
// a new one in the same pipeline. A timed-out job (the job machine's
// States.Timeout) has its tasks stopped the same way.
//
// Every handler is idempotent (executions retry tasks and resume them after a
// crash) and every status change is a conditional write through the store.
package conductor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/orchestrator"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// Source reads project repositories (the vcs port).
type Source interface {
	ResolveRevision(ctx context.Context, repoURL, ref string) (string, error)
	FileAt(ctx context.Context, repoURL, revision, path string) ([]byte, error)
}

// CommitSource reads the commit at a revision (its message and author),
// which the pipeline pages show. It is called from fetch_config, off the
// trigger's request path, once per pipeline that has no commit yet (one from
// the API, the CLI, a schedule or a pull request; a push webhook brings its
// head commit), bounded by Config.CommitTimeout. It is best effort: an error
// (vcs.ErrRevisionNotFound, GitHub unreachable, …) leaves the pipeline
// without a commit and is logged as a warning, never failing or retrying
// the pipeline. Implementations are safe for concurrent use.
type CommitSource interface {
	Commit(ctx context.Context, repoURL, revision string) (vcs.Commit, error)
}

// CheckoutPreparer adapts a task's checkout to its repository host (the
// GitHub driver: SSH with the deploy key and pinned host keys, or HTTPS
// with a token); repositories it does not own are left as they are.
type CheckoutPreparer interface {
	PrepareCheckout(co *runner.Checkout)
}

// Sender puts messages on the run queue.
type Sender interface {
	Send(ctx context.Context, body []byte, opts queue.SendOptions) (string, error)
}

// Secrets opens the project and context secrets a task may use (the
// vault). A job naming a context it may not use is not run: ContextsDenied
// says why (an error is a failure to find out, which is retried).
type Secrets interface {
	ContextsDenied(ctx context.Context, projectSlug string, contexts []string) (reason string, err error)
	// AddTaskSecrets adds the variables (after the built-in ones), masks,
	// checkout key and SSH keys to the spec, or says why the contexts may
	// not be used (a context deleted or restricted since the job started).
	AddTaskSecrets(ctx context.Context, spec *runner.TaskSpec, contexts []string) (denied string, err error)
}

// URLOrbSource gives the compile of a project's config its URL orb
// fetcher (orbimport.URLOrbSource: the organization's allow-list).
type URLOrbSource interface {
	URLOrbs(ctx context.Context, projectSlug string) (config.URLOrbFetcher, error)
}

// Machines are the ARNs (or local names) of the three state machines.
type Machines struct {
	Pipeline, Workflow, Job string
}

// Config configures a Conductor.
type Config struct {
	// Store keeps the records.
	Store *store.Store
	// Orchestrator runs the state machines (the orchestrator port: Step
	// Functions, or statemachines/local through localorch).
	Orchestrator orchestrator.Orchestrator
	// Machines names them.
	Machines Machines
	// Source reads config files from repositories.
	Source Source
	// Commits, when set, reads the commit of a pipeline that has none
	// (CommitSource); without it such pipelines show no commit.
	Commits CommitSource
	// CommitTimeout bounds a read of Commits; 0 means 2 s. A slower
	// repository host costs the pipeline at most this, and its commit.
	CommitTimeout time.Duration
	// Checkout, when set, adapts each task's checkout (CheckoutPreparer).
	Checkout CheckoutPreparer
	// SSHIdle and SSHMax bound how long a job rerun with SSH stays up after
	// its steps: SSHIdle after the last session ends, SSHMax at most
	// (0: the agent's defaults, CircleCI's 10 minutes and 2 hours).
	SSHIdle, SSHMax time.Duration
	// RunQueue receives one message per task.
	RunQueue Sender
	// Tokens signs the per-task runner tokens.
	Tokens *runner.Tokens
	// Secrets, when set, gives tasks their project's variables, contexts
	// and keys; without it jobs get only their configured environment and
	// a job that names a context is not run.
	Secrets Secrets
	// URLOrbs, when set, lets configs import orbs by URL (`orbs: x:
	// https://…`) that their organization's allow-list allows; without it
	// such configs are refused, saying so.
	URLOrbs URLOrbSource
	// JobTimeout bounds a job's run (CircleCI Server's default is 5 hours).
	JobTimeout time.Duration
	// ConfigPath is the config file in the repository.
	ConfigPath string
	// Logger receives structured logs.
	Logger *slog.Logger
}

// Conductor advances pipelines, workflows and jobs.
type Conductor struct {
	cfg Config
	st  *store.Store
	log *slog.Logger
}

// New returns a Conductor.
func New(cfg Config) (*Conductor, error) {
	if cfg.Store == nil || cfg.Orchestrator == nil || cfg.Source == nil || cfg.RunQueue == nil || cfg.Tokens == nil {
		return nil, errors.New("conductor: Store, Orchestrator, Source, RunQueue and Tokens are required")
	}
	if cfg.Machines.Pipeline == "" || cfg.Machines.Workflow == "" || cfg.Machines.Job == "" {
		return nil, errors.New("conductor: all three machines must be named")
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 5 * time.Hour
	}
	if cfg.ConfigPath == "" {
		cfg.ConfigPath = ".circleci/config.yml"
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Conductor{cfg: cfg, st: cfg.Store, log: cfg.Logger}, nil
}

// Request is the payload every state-machine task sends to the conductor.
type Request struct {
	// Action names the handler: fetch_config, compile, create_workflows,
	// pipeline_errored, start_workflow, wait_workflow, finalize_workflow,
	// dispatch, finish_job.
	Action     string `json:"action"`
	PipelineID string `json:"pipeline_id,omitempty"`
	WorkflowID string `json:"workflow_id,omitempty"`
	JobName    string `json:"job_name,omitempty"`
	// TaskToken is the execution's task token, for wait_workflow and dispatch.
	TaskToken string `json:"task_token,omitempty"`
	// Error is a caught error ({"Error", "Cause"}) for pipeline_errored.
	Error *StateError `json:"error,omitempty"`
	// Input is the whole state input, for finalize_workflow and finish_job.
	Input json.RawMessage `json:"input,omitempty"`
}

// StateError is an error as a state machine's Catch records it.
type StateError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Reply is what handlers answer.
type Reply struct {
	OK bool `json:"ok"`
}

// Handle serves one state-machine task. It is registered as the conductor
// Lambda (and as the local engine's handler of that name).
func (c *Conductor) Handle(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("conductor: decode request: %w", err)
	}
	var (
		ok  bool
		err error
	)
	switch req.Action {
	case "fetch_config":
		ok, err = c.fetchConfig(ctx, req.PipelineID)
	case "compile":
		ok, err = c.compile(ctx, req.PipelineID)
	case "create_workflows":
		ok, err = true, c.createWorkflows(ctx, req.PipelineID)
	case "pipeline_errored":
		ok, err = true, c.pipelineErrored(ctx, req.PipelineID, req.Error)
	case "start_workflow":
		ok, err = true, c.advance(ctx, req.WorkflowID)
	case "wait_workflow":
		ok, err = true, c.waitWorkflow(ctx, req.WorkflowID, req.TaskToken)
	case "finalize_workflow":
		ok, err = true, c.finalizeWorkflow(ctx, req.WorkflowID, req.Input)
	case "dispatch":
		ok, err = true, c.dispatch(ctx, req.WorkflowID, req.JobName, req.TaskToken)
	case "finish_job":
		ok, err = true, c.finishJob(ctx, req.WorkflowID, req.JobName, req.Input)
	default:
		return nil, fmt.Errorf("conductor: unknown action %q", req.Action)
	}
	if err != nil {
		c.log.ErrorContext(ctx, "conductor action failed", "action", req.Action,
			"pipeline_id", req.PipelineID, "workflow_id", req.WorkflowID, "job_name", req.JobName, "error", err)
		return nil, fmt.Errorf("conductor %s: %w", req.Action, err)
	}
	return json.Marshal(Reply{OK: ok})
}

// ignoreStale turns "the record was already past this" into success: the
// event was late or duplicated.
func ignoreStale(err error) error {
	if errors.Is(err, store.ErrStale) {
		return nil
	}
	return err
}
