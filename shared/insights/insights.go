// Package insights keeps the figures of CircleCI's Insights (the seed's
// Insights page and the insights API) as aggregates that are maintained
// while jobs and workflows finish, so that no request scans the jobs:
//
//	store.Transition* ─▶ Observer (observe.go) ─▶ terminal workflow / job
//	   ─▶ one Run appended to its day's bucket (bucket.go), idempotently
//	   ─▶ the job's test results (blob, read once) ─▶ test runs + flaky state (tests.go)
//	request ─▶ Reader (query.go) ─▶ range query over the window's day buckets
//	   ─▶ figures (figures.go: counts, rates, duration statistics, MTTR, trends)
//
// Key layout (the store's single table; names escaped with esc):
//
//	INSIGHTS#<slug>          NAMES                          workflows and their branches seen
//	INSIGHTS#<slug>#WF       <day>#<workflow>#<branch>#<n>  bucket: workflow runs of a day
//	INSIGHTS#<slug>#JOB#<w>  <day>#<job>#<branch>#<n>       bucket: job runs of a day in workflow w
//	INSIGHTS#<slug>#TESTS#<w> <created>#<workflow id>#<job>#<attempt>#<n>  test results of one job run
//	INSIGHTS#<slug>#REV      <revision>#<w>#<job>           per-revision pass/fail state of each test
//	INSIGHTS#<slug>#FLAKY    <w>#<job>#<test hash>          a flaky test and how often it flaked
//
// A day is the UTC date of the run's own timestamp (a workflow's
// created_at, a job's started_at, else its created_at), never of the
// clock, so an event heard twice lands in the same bucket. A bucket holds
// at most maxRuns runs (<n> counts shards from 000): figures are exact, no
// sketch, at the price of reading every run of the window, a few dozen
// kv items for a busy project's 90 days.
//
// Every item but NAMES expires Retention after its day (bucket.go).
//
// Idempotency: a run is identified by its workflow id, or its job id and
// attempt; appending a run a bucket (any shard of its day and group)
// already holds changes nothing, and every write is conditional on the
// version read (kv.Condition.IfVersion / IfNotExists), so concurrent
// writers and duplicated status changes never count a run twice.
package insights

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
)

// Records reads what a finished run's figures need (*store.Store).
type Records interface {
	GetPipeline(ctx context.Context, id string) (store.Pipeline, error)
	GetWorkflow(ctx context.Context, id string) (store.Workflow, error)
	ListJobs(ctx context.Context, workflowID string) ([]store.Job, error)
}

// Tests reads the test results one attempt of a job stored
// (*taskfiles.Service).
type Tests interface {
	Tests(ctx context.Context, slug string, jobNumber int64, attempt int) ([]junit.Test, error)
}

// Config configures Insights.
type Config struct {
	// KV keeps the aggregates (the store's kv). Required.
	KV kv.Store
	// Records reads pipelines and a workflow's jobs. Required.
	Records Records
	// Tests reads jobs' test results; nil leaves test metrics and flaky
	// tests empty.
	Tests Tests
	// Now is the clock of the reporting windows; nil is time.Now.
	Now func() time.Time
	// Logger receives the errors of the observer (which must not fail the
	// writer it observes); nil discards.
	Logger *slog.Logger
	// CacheRuns bounds how many decoded runs the process keeps between
	// requests (bucket.go's decoded); 0 means 500,000 (about 100 MB at
	// most), negative keeps none.
	CacheRuns int
}

// Insights maintains the aggregates (Observer) and answers from them.
type Insights struct {
	kv      kv.Store
	records Records
	tests   Tests
	now     func() time.Time
	log     *slog.Logger
	cache   *decoded
	// shardRuns is maxRuns; tests make shards small.
	shardRuns int
}

// New returns Insights on cfg.KV.
func New(cfg Config) (*Insights, error) {
	switch {
	case cfg.KV == nil:
		return nil, errors.New("insights: Config.KV is required")
	case cfg.Records == nil:
		return nil, errors.New("insights: Config.Records is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheRuns == 0 {
		cfg.CacheRuns = 500_000
	}
	return &Insights{kv: cfg.KV, records: cfg.Records, tests: cfg.Tests, now: cfg.Now, log: cfg.Logger,
		cache: &decoded{limit: max(cfg.CacheRuns, 0)}, shardRuns: maxRuns}, nil
}

// Run is one finished run of a workflow or of a job, as its bucket keeps it.
type Run struct {
	// ID is the workflow's id, or the job's.
	ID string `json:"id"`
	// Attempt is the job's attempt (0 for a workflow run).
	Attempt int `json:"a,omitempty"`
	// Workflow is the workflow's name; Job the job's (empty for a workflow run).
	Workflow string `json:"w"`
	Job      string `json:"j,omitempty"`
	// WorkflowID is a job run's workflow.
	WorkflowID string `json:"wid,omitempty"`
	Branch     string `json:"b,omitempty"`
	// Status is the terminal status (CircleCI's names).
	Status string `json:"s"`
	// At places the run in time (a workflow's created_at, a job's
	// started_at, else its created_at); StoppedAt is when it ended.
	At        time.Time `json:"t"`
	StoppedAt time.Time `json:"e"`
	// Duration in seconds: a workflow's stopped_at − created_at, a job's
	// stopped_at − started_at (0 for a job that never started).
	Duration float64 `json:"d"`
	// Queue is a job's queue time in seconds: started_at − queued_at.
	Queue float64 `json:"q,omitempty"`
	// Credits are the run's credits-equivalent (credits.go).
	Credits float64 `json:"c"`
	// Parallelism is a job's; 0 for a workflow.
	Parallelism int `json:"p,omitempty"`
	// PipelineNumber is the run's pipeline's number.
	PipelineNumber int64 `json:"n"`
	// Started says a job started (it has a duration and queue time).
	Started bool `json:"st,omitempty"`
	// Approval: a workflow run with an approval job.
	Approval bool `json:"ap,omitempty"`
}

// key is what makes a run unique: a duplicated event has the same key.
func (r Run) key() string {
	if r.Job == "" {
		return r.ID
	}
	return r.ID + "#" + itoa(r.Attempt)
}

// day is the UTC date of t.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// esc makes a name safe between the '#'s of a key.
func esc(s string) string { return strings.NewReplacer("%", "%25", "#", "%23").Replace(s) }

func unesc(s string) string { return strings.NewReplacer("%23", "#", "%25", "%").Replace(s) }

func pk(slug string, parts ...string) string {
	return "INSIGHTS#" + slug + strings.Join(append([]string{""}, parts...), "#")
}
