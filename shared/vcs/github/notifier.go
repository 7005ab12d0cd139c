package github

import (
	"context"
	"log/slog"
	"net/url"
	"strings"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// StatusPoster posts commit statuses with bounded retries (*Driver).
type StatusPoster interface {
	SetStatusRetry(ctx context.Context, rc RetryConfig, log *slog.Logger, owner, repo, sha, state, context, targetURL, description string) bool
}

// Pipelines reads a job's pipeline (*store.Store).
type Pipelines interface {
	GetPipeline(ctx context.Context, id string) (store.Pipeline, error)
}

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	Poster    StatusPoster
	Pipelines Pipelines
	// BaseURL is Orbit's external URL; a status links to the job's page
	// under it.
	BaseURL string
	// Retry bounds each post.
	Retry RetryConfig
	// Queue is how many transitions wait to be posted; 0 means 1024. A
	// transition arriving on a full queue is dropped and logged: a GitHub
	// outage never blocks a status write.
	Queue int
	// Logger; nil discards.
	Logger *slog.Logger
}

// Notifier posts one commit status per job of a GitHub project, context
// "ci/circleci: <job name>", as the job moves (pending → success / failure
// / error). It observes the store's job transitions (store.Observer) and posts
// from its own goroutine (Run), so the pipeline never waits on GitHub.
//
//	TransitionJob ─▶ OnJob (non-blocking send) ─▶ queue ─▶ Run ─▶ SetStatusRetry
type Notifier struct {
	cfg NotifierConfig
	q   chan store.Job
}

// NewNotifier returns a notifier; register it with store.Observe and run
// n.Run.
func NewNotifier(cfg NotifierConfig) *Notifier {
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, q: make(chan store.Job, cfg.Queue)}
}

// StatusFor maps a job status to a commit status state and description;
// ok is false for statuses GitHub is not told of (blocked, not_run,
// on_hold, approval jobs are never posted).
func StatusFor(s status.Job) (state, description string, ok bool) {
	switch s {
	case status.JobQueued:
		return StatePending, "Queued", true
	case status.JobRunning:
		return StatePending, "Running", true
	case status.JobSuccess:
		return StateSuccess, "Your tests passed on Orbit!", true
	case status.JobFailed:
		return StateFailure, "Your tests failed on Orbit", true
	case status.JobTimedOut:
		return StateFailure, "Your job timed out on Orbit", true
	case status.JobCanceled:
		return StateError, "Your job was canceled", true
	case status.JobInfrastructureFail:
		return StateError, "Your job hit an infrastructure failure on Orbit", true
	}
	return "", "", false
}

var _ store.Observer = (*Notifier)(nil)

// WorkflowChanged is no news for commit statuses (one per job).
func (n *Notifier) WorkflowChanged(context.Context, status.Workflow, store.Workflow) {}

// JobChanged queues the job's new status for posting (store.Observer).
func (n *Notifier) JobChanged(ctx context.Context, _ status.Job, j store.Job) { n.OnJob(ctx, j) }

// OnJob queues a job's new status for posting. It never blocks.
func (n *Notifier) OnJob(ctx context.Context, j store.Job) {
	if !strings.HasPrefix(j.ProjectSlug, "gh/") || j.Type == "approval" {
		return
	}
	if _, _, ok := StatusFor(j.Status); !ok {
		return
	}
	select {
	case n.q <- j:
	default:
		n.cfg.Logger.WarnContext(ctx, "commit status dropped: queue full", "job_id", j.ID, "pipeline_id", j.PipelineID, "status", j.Status)
	}
}

// Run posts queued statuses until ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case j := <-n.q:
			n.post(ctx, j)
		}
	}
}

func (n *Notifier) post(ctx context.Context, j store.Job) {
	log := n.cfg.Logger.With("job_id", j.ID, "workflow_id", j.WorkflowID, "pipeline_id", j.PipelineID)
	p, err := n.cfg.Pipelines.GetPipeline(ctx, j.PipelineID)
	if err != nil || p.VCS.Revision == "" {
		log.WarnContext(ctx, "commit status not posted: pipeline revision unknown", "error", err)
		return
	}
	owner, repo, _ := strings.Cut(strings.TrimPrefix(j.ProjectSlug, "gh/"), "/")
	state, desc, _ := StatusFor(j.Status)
	n.cfg.Poster.SetStatusRetry(ctx, n.cfg.Retry, log, owner, repo, p.VCS.Revision, state,
		"ci/circleci: "+j.Name, JobURL(n.cfg.BaseURL, j), desc)
}

// JobURL is the page of job j in Orbit's UI.
func JobURL(base string, j store.Job) string {
	return strings.TrimRight(base, "/") + "/ui/pipeline/" + url.PathEscape(j.PipelineID) + "#job-" + url.PathEscape(j.ID)
}
