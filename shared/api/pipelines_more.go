package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/store"
)

// The rest of CircleCI's Pipeline operations:
//
//	GET  /api/v2/pipeline[?org-slug=gh/acme][&mine=true]   pipelines of an organization's projects
//	     the caller can read, newest first (all of them without org-slug)
//	GET  /api/v2/project/{slug}/pipeline/mine               the caller's pipelines of a project
//	GET  /api/v2/pipeline/{id}/values                       the pipeline.* values its config saw
//	POST /api/v2/project/{provider}/{org}/{project}/pipeline/run
//	     {config:{branch|tag}, checkout:{branch|tag}, parameters, definition_id} → 201 {id, state, number, created_at}
//	     (definition_id: one of the project's pipeline definitions, whose config file runs)
//
// The literal /pipeline/mine route wins over /pipeline/{number} (ServeMux
// prefers the more specific pattern).
func (s *server) routePipelines(mux *http.ServeMux, project string) {
	s.route(mux, "GET /api/v2/pipeline", signedIn, s.api(s.listOrgPipelines))
	s.route(mux, "GET "+project+"/pipeline/mine", onProject(accounts.Read, BySlug), s.api(s.listMyPipelines))
	s.route(mux, "GET /api/v2/pipeline/{id}/values", onProject(accounts.Read, ByPipeline), s.api(s.getPipelineValues))
	s.route(mux, "POST "+project+"/pipeline/run", onProject(accounts.Write, BySlug), s.api(s.runPipeline))
}

// maxScanPages bounds the pages a filtered list reads for one answer; it
// answers fewer items and a next_page_token when it hits the bound.
const maxScanPages = 10

func (s *server) listMyPipelines(w http.ResponseWriter, r *http.Request) error {
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	login := me(r).Login
	token := r.URL.Query().Get("page-token")
	var items []store.Pipeline
	for range maxScanPages {
		ps, next, err := s.st.ListPipelines(r.Context(), slug, token, s.cfg.PageSize)
		if err != nil {
			return pageError(err, token)
		}
		for _, p := range ps {
			if p.Trigger.Actor == login {
				items = append(items, p)
			}
		}
		token = next
		if token == "" || len(items) >= s.cfg.PageSize {
			break
		}
	}
	writeList(w, items, token, pipelineView)
	return nil
}

// orgCursor is GET /pipeline's page token: the pipelines answered so far
// are those created after (CreatedAt, ID) in the newest-first order.
type orgCursor struct {
	createdAt string
	id        string
}

func (c orgCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.createdAt + " " + c.id))
}

func parseOrgCursor(tok string) (orgCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	at, id, ok := strings.Cut(string(raw), " ")
	if err != nil || !ok {
		return orgCursor{}, badRequest("page-token %q is not a token this list returned", tok)
	}
	return orgCursor{createdAt: at, id: id}, nil
}

// newer orders pipelines newest first, by creation time then id.
func newer(a, b store.Pipeline) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

func (s *server) listOrgPipelines(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	org := strings.Trim(q.Get("org-slug"), "/")
	if org != "" && strings.Count(org, "/") != 1 {
		return badRequest("org-slug %q: expected <vcs>/<org>, e.g. gh/acme", org)
	}
	mine := false
	if raw := q.Get("mine"); raw != "" {
		var err error
		if mine, err = strconv.ParseBool(raw); err != nil {
			return badRequest("query parameter mine=%q is not a boolean", raw)
		}
	}
	var after *orgCursor
	if tok := q.Get("page-token"); tok != "" {
		c, err := parseOrgCursor(tok)
		if err != nil {
			return err
		}
		after = &c
	}
	projects, err := s.visibleProjects(r.Context())
	if err != nil {
		return err
	}
	login := me(r).Login
	var all []store.Pipeline
	for _, p := range projects {
		if org != "" && !strings.HasPrefix(p.Slug, org+"/") {
			continue
		}
		ps, err := s.projectPipelinesAfter(r.Context(), p.Slug, after, s.cfg.PageSize+1, func(pl store.Pipeline) bool {
			return !mine || pl.Trigger.Actor == login
		})
		if err != nil {
			return err
		}
		all = append(all, ps...)
	}
	slices.SortFunc(all, newer)
	next := ""
	if len(all) > s.cfg.PageSize {
		all = all[:s.cfg.PageSize]
		last := all[len(all)-1]
		next = orgCursor{createdAt: last.CreatedAt.Format("2006-01-02T15:04:05.999999999Z07:00"), id: last.ID}.String()
	}
	writeList(w, all, next, pipelineView)
	return nil
}

// projectPipelinesAfter lists up to limit of a project's pipelines that
// keep accepts and that come after the cursor, newest first.
func (s *server) projectPipelinesAfter(ctx context.Context, slug string, after *orgCursor, limit int, keep func(store.Pipeline) bool) ([]store.Pipeline, error) {
	var out []store.Pipeline
	token := ""
	for {
		ps, next, err := s.st.ListPipelines(ctx, slug, token, s.cfg.PageSize)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if after != nil {
				at := p.CreatedAt.Format("2006-01-02T15:04:05.999999999Z07:00")
				if at > after.createdAt || at == after.createdAt && p.ID >= after.id {
					continue
				}
			}
			if keep(p) {
				out = append(out, p)
			}
		}
		if next == "" || len(out) >= limit {
			return out, nil
		}
		token = next
	}
}

func (s *server) getPipelineValues(w http.ResponseWriter, r *http.Request) error {
	p, err := s.st.GetPipeline(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	vcs, _, _ := splitSlug(p.ProjectSlug)
	values := map[string]any{
		"pipeline.id":              p.ID,
		"pipeline.number":          p.Number,
		"pipeline.project.git_url": p.VCS.OriginRepositoryURL,
		"pipeline.project.type":    projectType(vcs),
		"pipeline.trigger_source":  triggerType(p.Trigger.Type),
	}
	for k, v := range map[string]string{"pipeline.git.branch": p.VCS.Branch, "pipeline.git.tag": p.VCS.Tag,
		"pipeline.git.revision": p.VCS.Revision, "pipeline.schedule.name": p.Trigger.ScheduledWorkflow} {
		if v != "" {
			values[k] = v
		}
	}
	writeJSON(w, http.StatusOK, values)
	return nil
}

// refJSON is a branch or a tag, in a pipeline/run request.
type refJSON struct {
	Branch string `json:"branch"`
	Tag    string `json:"tag"`
}

// runRequest is CircleCI's pipelineRequest.
type runRequest struct {
	DefinitionID string         `json:"definition_id"`
	Config       *refJSON       `json:"config"`
	Checkout     *refJSON       `json:"checkout"`
	Parameters   map[string]any `json:"parameters"`
}

func (s *server) runPipeline(w http.ResponseWriter, r *http.Request) error {
	var req runRequest
	if err := decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	if req.DefinitionID != "" {
		if _, err := uuid.Parse(req.DefinitionID); err != nil {
			return badRequest("definition_id %q is not a UUID", req.DefinitionID)
		}
	}
	ref := refJSON{}
	switch {
	case req.Config != nil && req.Checkout != nil && *req.Config != *req.Checkout:
		return badRequest("config %+v and checkout %+v differ: Orbit builds the config and the code of one ref", *req.Config, *req.Checkout)
	case req.Config != nil:
		ref = *req.Config
	case req.Checkout != nil:
		ref = *req.Checkout
	}
	if err := checkParameters(req.Parameters); err != nil {
		return err
	}
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	configPath, err := s.definitionConfig(r, slug, req.DefinitionID)
	if err != nil {
		return err
	}
	p, err := s.cfg.Trigger.Trigger(r.Context(), conductor.TriggerRequest{
		ProjectSlug: slug, Branch: ref.Branch, Tag: ref.Tag, Parameters: req.Parameters, ConfigPath: configPath,
		TriggerType: "api", Actor: me(r).Login, IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pipelineCreationJSON{ID: p.ID, State: p.State, Number: p.Number, CreatedAt: p.CreatedAt})
	return nil
}

// definitionConfig is the config file of the project's pipeline definition
// id ("" without an id, or without pipeline definitions: the project's
// .circleci/config.yml); an id that is not one of the project's is 404.
func (s *server) definitionConfig(r *http.Request, slug, id string) (string, error) {
	if id == "" || s.cfg.Integrations.Definitions == nil {
		return "", nil
	}
	d, err := s.cfg.Integrations.Definitions.GetDefinition(r.Context(), slug, id)
	if err != nil {
		return "", err
	}
	return d.ConfigPath, nil
}
