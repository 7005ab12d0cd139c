package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// pipelineJSON is CircleCI's Pipeline.
type pipelineJSON struct {
	ID          string              `json:"id"`
	Errors      []pipelineErrorJSON `json:"errors"`
	ProjectSlug string              `json:"project_slug"`
	UpdatedAt   time.Time           `json:"updated_at"`
	Number      int64               `json:"number"`
	State       status.Pipeline     `json:"state"`
	CreatedAt   time.Time           `json:"created_at"`
	Trigger     triggerJSON         `json:"trigger"`
	VCS         pipelineVCSJSON     `json:"vcs"`
}

type pipelineErrorJSON struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type triggerJSON struct {
	Type       string    `json:"type"`
	ReceivedAt time.Time `json:"received_at"`
	Actor      actorJSON `json:"actor"`
}

type actorJSON struct {
	Login     string  `json:"login"`
	AvatarURL *string `json:"avatar_url"`
}

type pipelineVCSJSON struct {
	ProviderName        string  `json:"provider_name"`
	OriginRepositoryURL string  `json:"origin_repository_url"`
	TargetRepositoryURL string  `json:"target_repository_url"`
	Revision            *string `json:"revision"`
	Branch              string  `json:"branch,omitempty"`
	Tag                 string  `json:"tag,omitempty"`
	// Commit is the revision's commit; omitted while (or when) it is not
	// known.
	Commit pipelineCommitJSON `json:"commit,omitzero"`
}

// pipelineCommitJSON is CircleCI's Pipeline vcs.commit: the message's
// subject and body (the author is not in CircleCI's schema; the UI shows
// it).
type pipelineCommitJSON struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// pipelineCreationJSON is CircleCI's PipelineCreation.
type pipelineCreationJSON struct {
	ID        string          `json:"id"`
	State     status.Pipeline `json:"state"`
	Number    int64           `json:"number"`
	CreatedAt time.Time       `json:"created_at"`
}

// pipelineConfigJSON is CircleCI's PipelineConfig.
type pipelineConfigJSON struct {
	Source string `json:"source"`
	// Compiled is Orbit's compiled plan as indented JSON (CircleCI shows
	// processed YAML); "" until the config compiled.
	Compiled string `json:"compiled"`
}

func pipelineView(p store.Pipeline) pipelineJSON {
	errs := make([]pipelineErrorJSON, 0, len(p.Errors))
	for _, e := range p.Errors {
		errs = append(errs, pipelineErrorJSON{Type: e.Type, Message: e.Message})
	}
	vcs, _, _ := splitSlug(p.ProjectSlug)
	v := pipelineVCSJSON{
		ProviderName:        providerName(vcs),
		OriginRepositoryURL: p.VCS.OriginRepositoryURL,
		TargetRepositoryURL: p.VCS.OriginRepositoryURL,
		Branch:              p.VCS.Branch,
		Tag:                 p.VCS.Tag,
	}
	if p.VCS.Revision != "" {
		rev := p.VCS.Revision
		v.Revision = &rev
	}
	v.Commit = pipelineCommitJSON{Subject: p.VCS.Commit.Subject, Body: p.VCS.Commit.Body}
	login := p.Trigger.Actor
	if login == "" {
		login = "unknown"
	}
	return pipelineJSON{
		ID:          p.ID,
		Errors:      errs,
		ProjectSlug: p.ProjectSlug,
		UpdatedAt:   p.UpdatedAt,
		Number:      p.Number,
		State:       p.State,
		CreatedAt:   p.CreatedAt,
		Trigger: triggerJSON{
			Type:       triggerType(p.Trigger.Type),
			ReceivedAt: p.Trigger.ReceivedAt,
			Actor:      actorJSON{Login: login},
		},
		VCS: v,
	}
}

// triggerType maps Orbit's trigger types to CircleCI's enum.
func triggerType(t string) string {
	switch t {
	case "schedule":
		return "scheduled_pipeline"
	case "git-hook":
		return "webhook"
	case "":
		return "api"
	}
	return t
}

// triggerRequest is the body of POST /api/v2/project/{slug}/pipeline.
type triggerRequest struct {
	Branch     string         `json:"branch"`
	Tag        string         `json:"tag"`
	Parameters map[string]any `json:"parameters"`
}

// CircleCI's limits on pipeline parameters.
const (
	maxParameters     = 100
	maxParameterKey   = 128
	maxParameterValue = 512
)

// checkParameters enforces CircleCI's rules (integer, string or boolean
// values; size limits) and turns JSON numbers into int64.
func checkParameters(ps map[string]any) error {
	if len(ps) > maxParameters {
		return badRequest("parameters: %d given, at most %d allowed", len(ps), maxParameters)
	}
	for k, v := range ps {
		if len(k) > maxParameterKey {
			return badRequest("parameters: name %.20q… is longer than %d characters", k, maxParameterKey)
		}
		switch x := v.(type) {
		case bool:
		case string:
			if len(x) > maxParameterValue {
				return badRequest("parameters.%s: value is longer than %d characters", k, maxParameterValue)
			}
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				return badRequest("parameters.%s: %s is not an integer", k, x)
			}
			ps[k] = n
		default:
			return badRequest("parameters.%s: must be an integer, a string or a boolean", k)
		}
	}
	return nil
}

// maxIdempotencyKey is the longest Idempotency-Key a trigger takes.
const maxIdempotencyKey = 255

func (s *server) triggerPipeline(w http.ResponseWriter, r *http.Request) error {
	var req triggerRequest
	if err := decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	if err := checkParameters(req.Parameters); err != nil {
		return err
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		return badRequest("Idempotency-Key is %d characters; the limit is %d", len(key), maxIdempotencyKey)
	}
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	p, err := s.cfg.Trigger.Trigger(r.Context(), conductor.TriggerRequest{
		ProjectSlug: slug,
		Branch:      req.Branch,
		Tag:         req.Tag,
		Parameters:  req.Parameters,
		TriggerType: triggerSource(r),
		Actor:       me(r).Login, // the pipeline's trigger.actor, its mails and audit events
		// Orbit extension: replays with the same key answer the same
		// pipeline (README, "Idempotent triggers").
		IdempotencyKey: key,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pipelineCreationJSON{ID: p.ID, State: p.State, Number: p.Number, CreatedAt: p.CreatedAt})
	return nil
}

func (s *server) listPipelines(w http.ResponseWriter, r *http.Request) error {
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	token := r.URL.Query().Get("page-token")
	ps, next, err := s.st.ListPipelines(r.Context(), slug, token, s.cfg.PageSize)
	if err != nil {
		return pageError(err, token)
	}
	writeList(w, ps, next, pipelineView)
	return nil
}

// pageError is a list's error: a page-token the list did not hand out is
// the caller's mistake (400).
func pageError(err error, token string) error {
	if errors.Is(err, kv.ErrInvalid) && token != "" {
		return badRequest("page-token %q is not a token this list returned", token)
	}
	return err
}

// pathNumber parses a positive number path parameter.
func pathNumber(r *http.Request, name, what string) (int64, error) {
	raw := r.PathValue(name)
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		return 0, badRequest("%s number %q is not a positive integer", what, raw)
	}
	return n, nil
}

func (s *server) getPipelineByNumber(w http.ResponseWriter, r *http.Request) error {
	n, err := pathNumber(r, "number", "pipeline")
	if err != nil {
		return err
	}
	p, err := s.st.GetPipelineByNumber(r.Context(), slugOf(r), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pipelineView(p))
	return nil
}

func (s *server) getPipeline(w http.ResponseWriter, r *http.Request) error {
	p, err := s.st.GetPipeline(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pipelineView(p))
	return nil
}

func (s *server) getPipelineConfig(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.st.GetPipeline(r.Context(), id); err != nil {
		return err
	}
	cfg, err := s.st.GetPipelineConfig(r.Context(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	out := pipelineConfigJSON{Source: cfg.Source}
	if len(cfg.Plan) > 0 {
		var buf bytes.Buffer
		if err := json.Indent(&buf, cfg.Plan, "", "  "); err != nil {
			return fmt.Errorf("indent plan of pipeline %s: %w", id, err)
		}
		out.Compiled = buf.String()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// triggerSource is how the pipeline was triggered: "api", or "git-hook" when
// the post-commit hook installed by `orbit project add --hook` calls with
// ?source=git-hook. Other values are ignored.
func triggerSource(r *http.Request) string {
	if r.URL.Query().Get("source") == "git-hook" {
		return "git-hook"
	}
	return "api"
}
