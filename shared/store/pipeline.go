package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// Pipeline is one run of a project's configuration at one revision.
type Pipeline struct {
	ID          string          `json:"id"`
	ProjectSlug string          `json:"project_slug"`
	Number      int64           `json:"number"`
	State       status.Pipeline `json:"state"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	Trigger     Trigger         `json:"trigger"`
	VCS         PipelineVCS     `json:"vcs"`
	// Parameters are the pipeline parameters given at trigger time.
	Parameters map[string]any `json:"parameters,omitempty"`
	// ConfigPath is the config file the pipeline builds from (its pipeline
	// definition's); empty means the conductor's default.
	ConfigPath string `json:"config_path,omitempty"`
	// Errors are the reasons an errored pipeline did not run, each with the
	// config line where there is one (CircleCI's "errors" array).
	Errors []PipelineError `json:"errors"`
	// Setup is set on a pipeline whose config is a setup config (`setup:
	// true`): its jobs get CIRCLE_CONTINUATION_KEY and one of them
	// continues the pipeline with the config to run (conductor.Continue).
	Setup bool `json:"setup,omitempty"`
	// ContinuedAt is when the pipeline was continued; a continuation key
	// is used once, so a continued pipeline refuses another.
	ContinuedAt *time.Time `json:"continued_at,omitempty"`
}

// Trigger says what started a pipeline.
type Trigger struct {
	// Type is "api", "webhook", "schedule" or "git-hook".
	Type       string    `json:"type"`
	ReceivedAt time.Time `json:"received_at"`
	Actor      string    `json:"actor,omitempty"`
	// ScheduledWorkflow is, for a "schedule" trigger, the scheduled
	// workflow (one with `triggers`) the pipeline runs, alone; empty for
	// other triggers.
	ScheduledWorkflow string `json:"scheduled_workflow,omitempty"`
	// Fork: a pull request from a fork; its jobs get no secrets.
	Fork bool `json:"fork,omitempty"`
}

// PipelineVCS is the pipeline's source revision.
type PipelineVCS struct {
	OriginRepositoryURL string `json:"origin_repository_url"`
	Branch              string `json:"branch,omitempty"`
	Tag                 string `json:"tag,omitempty"`
	Revision            string `json:"revision,omitempty"`
	// Commit is the revision's commit (subject, body, author), from the
	// push webhook or read from the repository while the config is
	// fetched; zero when not known.
	Commit vcs.Commit `json:"commit,omitzero"`
}

// PipelineError is one reason a pipeline errored.
type PipelineError struct {
	// Type is "config", "config-fetch" or "plan" (CircleCI's error types).
	Type    string `json:"type"`
	Message string `json:"message"`
}

// PipelineConfig is the pipeline's configuration source and compiled plan.
type PipelineConfig struct {
	Source string `json:"source"`
	// Plan is the compiled plan (config.Plan as JSON), set once compiled.
	Plan json.RawMessage `json:"plan,omitempty"`
	// ContinuedSource is the config a setup workflow continued the
	// pipeline with (its workflows are in Plan, after the setup's).
	ContinuedSource string `json:"continued_source,omitempty"`
}

func pipelineIndex(p *Pipeline, it *kv.Item) {
	it.GSI1PK = "PROJECT#" + p.ProjectSlug + "#PIPELINES"
	it.GSI1SK = fmt.Sprintf("%012d", p.Number)
}

// CreatePipeline allocates the project's next pipeline number and stores a
// new pipeline in state pending.
func (s *Store) CreatePipeline(ctx context.Context, p Pipeline) (Pipeline, error) {
	n, err := s.next(ctx, p.ProjectSlug, false)
	if err != nil {
		return Pipeline{}, err
	}
	now := s.Now()
	if p.ID == "" { // set by a trigger's idempotency claim
		p.ID = uuid.NewString()
	}
	p.Number = n
	p.State = status.PipelinePending
	p.CreatedAt, p.UpdatedAt = now, now
	if p.Trigger.ReceivedAt.IsZero() {
		p.Trigger.ReceivedAt = now
	}
	if p.Errors == nil {
		p.Errors = []PipelineError{}
	}
	it, err := item("PIPELINE#"+p.ID, "META", p)
	if err != nil {
		return Pipeline{}, err
	}
	pipelineIndex(&p, &it)
	if err := s.create(ctx, it); err != nil {
		return Pipeline{}, fmt.Errorf("create pipeline: %w", err)
	}
	return p, nil
}

// GetPipeline returns the pipeline with the id.
func (s *Store) GetPipeline(ctx context.Context, id string) (Pipeline, error) {
	var p Pipeline
	if _, err := s.get(ctx, "PIPELINE#"+id, "META", &p); err != nil {
		return Pipeline{}, fmt.Errorf("pipeline %s: %w", id, err)
	}
	return p, nil
}

// GetPipelineByNumber returns a project's pipeline by number.
func (s *Store) GetPipelineByNumber(ctx context.Context, slug string, number int64) (Pipeline, error) {
	key := fmt.Sprintf("%012d", number)
	ps, err := queryAll[Pipeline](ctx, s, kv.Query{Index: kv.GSI1, PK: "PROJECT#" + slug + "#PIPELINES", From: key, To: key})
	if err != nil {
		return Pipeline{}, err
	}
	if len(ps) == 0 {
		return Pipeline{}, fmt.Errorf("pipeline %s/%d: %w", slug, number, ErrNotFound)
	}
	return ps[0], nil
}

// ListPipelines returns a page of a project's pipelines, newest first.
func (s *Store) ListPipelines(ctx context.Context, slug, cursor string, limit int) ([]Pipeline, string, error) {
	out, next, err := queryPage[Pipeline](ctx, s, kv.Query{Index: kv.GSI1, PK: "PROJECT#" + slug + "#PIPELINES", Descending: true, Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, "", fmt.Errorf("list pipelines of %s: %w", slug, err)
	}
	return out, next, nil
}

// UpdatePipeline changes a pipeline with a conditional write; its state
// changes only through TransitionPipeline (fn changing it is ErrStatusWrite).
func (s *Store) UpdatePipeline(ctx context.Context, id string, fn func(*Pipeline) error) (Pipeline, error) {
	fn = keepStatus(func(p *Pipeline) *status.Pipeline { return &p.State }, fn)
	p, err := update(ctx, s, "PIPELINE#"+id, "META", pipelineIndex, func(p *Pipeline) error {
		if err := fn(p); err != nil {
			return err
		}
		p.UpdatedAt = s.Now()
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("update pipeline %s: %w", id, err)
	}
	return p, nil
}

// PutPipelineConfig stores a pipeline's config source and plan. A record
// too large to store is a *TooLargeError, checked before anything is
// written: it is permanent, so callers must not retry it.
func (s *Store) PutPipelineConfig(ctx context.Context, id string, c PipelineConfig) error {
	it, err := item("PIPELINE#"+id, "CONFIG", c)
	if err != nil {
		return err
	}
	if len(it.Data) > kv.MaxDataBytes {
		return &TooLargeError{What: "the configuration of pipeline " + id, Size: len(it.Data), Limit: kv.MaxDataBytes}
	}
	if _, err := s.kv.Put(ctx, it, kv.Condition{}); err != nil {
		return fmt.Errorf("store config of pipeline %s: %w", id, err)
	}
	return nil
}

// GetPipelineConfig returns a pipeline's config source and plan.
func (s *Store) GetPipelineConfig(ctx context.Context, id string) (PipelineConfig, error) {
	var c PipelineConfig
	if _, err := s.get(ctx, "PIPELINE#"+id, "CONFIG", &c); err != nil {
		return PipelineConfig{}, fmt.Errorf("config of pipeline %s: %w", id, err)
	}
	return c, nil
}
