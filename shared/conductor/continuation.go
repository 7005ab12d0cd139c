package conductor

// Dynamic config (CircleCI's setup workflows):
//
//	config with `setup: true` ─▶ compile ─▶ create_workflows (pipeline.Setup)
//	  setup job: env CIRCLE_CONTINUATION_KEY (masked in its output)
//	    └─ POST /api/v2/pipeline/continue {continuation-key, configuration, parameters}
//	         ─▶ Continue: key checked (HMAC, per pipeline, expires with the
//	            job timeout), config compiled as a continuation (no setup
//	            config again), pipeline.ContinuedAt set once (single use),
//	            the new config's workflows created in the same pipeline.
//
// The key is a signed token ("continue/<pipeline-id>.<expiry>.<mac>") under
// a key derived from the runner tokens' key for this purpose only, so it
// opens nothing else; nothing is stored to check it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/store"
)

// ContinuationEnv is the variable that gives a setup pipeline's jobs their
// continuation key, as on CircleCI.
const ContinuationEnv = "CIRCLE_CONTINUATION_KEY"

// continuationPrefix marks a continuation key's subject.
const continuationPrefix = "continue/"

// ContinueRequest is POST /api/v2/pipeline/continue's body.
type ContinueRequest struct {
	// Key is the pipeline's CIRCLE_CONTINUATION_KEY.
	Key string
	// Configuration is the config to continue with (YAML).
	Configuration string
	// Parameters are its pipeline parameters.
	Parameters map[string]any
}

// ErrBadContinuation: the key is not a valid, unexpired continuation key,
// or its pipeline is not a setup pipeline (the API answers 400).
var ErrBadContinuation = fmt.Errorf("%w: invalid continuation key", ErrBadTrigger)

// ErrContinued: the pipeline was continued already; a key is used once
// (the API answers 409).
var ErrContinued = fmt.Errorf("%w: this pipeline has been continued already; a continuation key is used once", store.ErrExists)

// continuationTokens signs continuation keys.
func (c *Conductor) continuationTokens() *runner.Tokens {
	return c.cfg.Tokens.Derive("continuation")
}

// continuationKey is the key a setup pipeline's jobs get; it stays valid as
// long as a job of the pipeline may run.
func (c *Conductor) continuationKey(p store.Pipeline) string {
	return c.continuationTokens().Sign(continuationPrefix+p.ID, c.st.Now().Add(c.cfg.JobTimeout+tokenGrace))
}

// addContinuationKey gives a setup pipeline's task its continuation key,
// masked in the output, until the pipeline is continued.
func (c *Conductor) addContinuationKey(p store.Pipeline, spec *runner.TaskSpec) {
	if !p.Setup || p.ContinuedAt != nil {
		return
	}
	key := c.continuationKey(p)
	spec.Environment = append(spec.Environment, runner.EnvVar{Name: ContinuationEnv, Value: key})
	spec.Secrets = append(spec.Secrets, key)
}

// Continue continues a setup pipeline with req's configuration: its
// workflows start in the same pipeline. A config that does not compile is
// ErrBadTrigger with every error (file line and key), and the pipeline
// stays continuable; a used key is ErrContinued.
func (c *Conductor) Continue(ctx context.Context, req ContinueRequest) (store.Pipeline, error) {
	subject, err := c.continuationTokens().Verify(req.Key)
	if err != nil || !strings.HasPrefix(subject, continuationPrefix) {
		return store.Pipeline{}, ErrBadContinuation
	}
	id := strings.TrimPrefix(subject, continuationPrefix)
	p, err := c.st.GetPipeline(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Pipeline{}, ErrBadContinuation
	}
	if err != nil {
		return store.Pipeline{}, err
	}
	if !p.Setup {
		return store.Pipeline{}, ErrBadContinuation
	}
	if p.ContinuedAt != nil {
		return store.Pipeline{}, ErrContinued
	}
	if strings.TrimSpace(req.Configuration) == "" {
		return store.Pipeline{}, fmt.Errorf("%w: configuration is required", ErrBadTrigger)
	}
	if len(req.Configuration) > MaxConfigBytes {
		return store.Pipeline{}, fmt.Errorf("%w: the configuration is %s; the limit is %s", ErrBadTrigger,
			store.Size(len(req.Configuration)), store.Size(MaxConfigBytes))
	}
	urlOrbs, err := c.urlOrbs(ctx, p.ProjectSlug)
	if err != nil {
		return store.Pipeline{}, err
	}
	plan, err := config.Compile([]byte(req.Configuration), config.Options{
		URLOrbs:            urlOrbs,
		Filename:           "continuation config",
		Branch:             p.VCS.Branch,
		Tag:                p.VCS.Tag,
		Revision:           p.VCS.Revision,
		PipelineParameters: req.Parameters,
		PipelineValues: config.PipelineValues{ID: p.ID, Number: p.Number, ProjectGitURL: p.VCS.OriginRepositoryURL,
			ProjectSlug: p.ProjectSlug, TriggerSource: triggerSource(p.Trigger.Type)},
		Continuation: true,
	})
	if err != nil {
		return store.Pipeline{}, fmt.Errorf("%w: %v", ErrBadTrigger, err)
	}
	// Claim the key before creating anything: a second call, even a
	// concurrent one, finds the pipeline continued.
	now := c.st.Now()
	p, err = c.st.UpdatePipeline(ctx, id, func(p *store.Pipeline) error {
		if p.ContinuedAt != nil {
			return ErrContinued
		}
		p.ContinuedAt = &now
		return nil
	})
	if err != nil {
		return store.Pipeline{}, err
	}
	if err := c.recordWarnings(ctx, id, plan.Warnings); err != nil {
		return p, err
	}
	if err := c.keepContinuedPlan(ctx, id, req.Configuration, plan); err != nil {
		return p, err
	}
	for _, wf := range plan.Workflows {
		wid := uuid.NewSHA1(idNamespace, []byte(p.ID+"/continued/"+wf.Name)).String()
		if err := c.createWorkflow(ctx, p, wid, wf, nil, "", nil); err != nil {
			return p, err
		}
	}
	c.log.InfoContext(ctx, "pipeline continued", "pipeline_id", p.ID, "workflows", len(plan.Workflows))
	return p, nil
}

// keepContinuedPlan adds the continued config's workflows to the
// pipeline's stored plan (so they can be rerun like the setup workflow)
// and keeps its source beside the setup config's.
func (c *Conductor) keepContinuedPlan(ctx context.Context, id, source string, continued *config.Plan) error {
	cfg, err := c.st.GetPipelineConfig(ctx, id)
	if err != nil {
		return err
	}
	var plan config.Plan
	if err := json.Unmarshal(cfg.Plan, &plan); err != nil {
		return fmt.Errorf("decode plan of pipeline %s: %w", id, err)
	}
	plan.Workflows = append(plan.Workflows, continued.Workflows...)
	raw, err := json.Marshal(plan)
	if err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	cfg.Plan, cfg.ContinuedSource = raw, source
	return c.st.PutPipelineConfig(ctx, id, cfg)
}

// urlOrbs is the URL orb fetcher for a project's compile; nil (URL orbs
// refused) without Config.URLOrbs.
func (c *Conductor) urlOrbs(ctx context.Context, projectSlug string) (config.URLOrbFetcher, error) {
	if c.cfg.URLOrbs == nil {
		return nil, nil
	}
	return c.cfg.URLOrbs.URLOrbs(ctx, projectSlug)
}
