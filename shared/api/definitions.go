package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/pipedef"
	"github.com/orbit-ci/orbit/shared/store"
)

// Pipeline definitions and triggers, CircleCI's Pipeline Definition and
// Trigger operations, on Orbit's projects (shared/pipedef). Reading needs
// read access to the project, changing admin access. A webhook trigger's
// URL (with its secret, as CircleCI shows it) starts pipelines when POSTed
// to: POST /webhooks/trigger/{trigger_id}?secret=… → 201 PipelineCreation.
//
//	GET|POST             /api/v2/projects/{project_id}/pipeline-definitions
//	GET|PATCH|DELETE     /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}
//	GET|POST             /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}/triggers
//	GET|PATCH|DELETE     /api/v2/projects/{project_id}/triggers/{trigger_id}
func (s *server) routeDefinitions(mux *http.ServeMux) {
	const defs = "/api/v2/projects/{project_id}/pipeline-definitions"
	const def = defs + "/{pipeline_definition_id}"
	const trig = "/api/v2/projects/{project_id}/triggers/{trigger_id}"
	read, admin := onProjectID(accounts.Read), onProjectID(accounts.Admin)
	s.route(mux, "GET "+defs, read, s.api(s.listDefinitions))
	s.route(mux, "POST "+defs, admin, s.api(s.createDefinition))
	s.route(mux, "GET "+def, read, s.api(s.getDefinition))
	s.route(mux, "PATCH "+def, admin, s.api(s.updateDefinition))
	s.route(mux, "DELETE "+def, admin, s.api(s.deleteDefinition))
	s.route(mux, "GET "+def+"/triggers", read, s.api(s.listTriggers))
	s.route(mux, "POST "+def+"/triggers", admin, s.api(s.createTrigger))
	s.route(mux, "GET "+trig, read, s.api(s.getTrigger))
	s.route(mux, "PATCH "+trig, admin, s.api(s.updateTrigger))
	s.route(mux, "DELETE "+trig, admin, s.api(s.deleteTrigger))
	s.route(mux, "POST "+pipedef.WebhookPath+"{trigger_id}", ownAuth, s.api(s.invokeTrigger))
}

type defRepoJSON struct {
	FullName   string `json:"full_name,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

type defSourceJSON struct {
	Provider string       `json:"provider,omitempty"`
	Repo     *defRepoJSON `json:"repo,omitempty"`
	FilePath string       `json:"file_path,omitempty"`
}

// definitionJSON is CircleCI's pipelineDefinition.
type definitionJSON struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	Description    string        `json:"description"`
	CreatedAt      time.Time     `json:"created_at"`
	ConfigSource   defSourceJSON `json:"config_source"`
	CheckoutSource defSourceJSON `json:"checkout_source"`
}

// sourceProvider is how CircleCI names where a project's code lives.
func sourceProvider(slug string) string {
	if vcs, _, _ := splitSlug(slug); vcs == "gh" || vcs == "github" {
		return pipedef.ProviderGitHubOAuth
	}
	return "circleci"
}

func definitionView(d pipedef.Definition) definitionJSON {
	_, org, repo := splitSlug(d.ProjectSlug)
	r := &defRepoJSON{FullName: org + "/" + repo, ExternalID: d.ProjectSlug}
	p := sourceProvider(d.ProjectSlug)
	return definitionJSON{ID: d.ID, Name: d.Name, Description: d.Description, CreatedAt: d.CreatedAt,
		ConfigSource: defSourceJSON{Provider: p, Repo: r, FilePath: d.ConfigPath}, CheckoutSource: defSourceJSON{Provider: p, Repo: r}}
}

// pathProject is the project of a /projects/{project_id} route (its rule
// checked the caller).
func (s *server) pathProject(r *http.Request) (store.Project, error) {
	return s.projectByID(r.Context(), r.PathValue("project_id"))
}

// ownRepo refuses a source naming another repository than the project's:
// Orbit builds a project from its own repository.
func ownRepo(p store.Project, field string, src *defSourceJSON) error {
	if src == nil || src.Repo == nil || src.Repo.ExternalID == "" {
		return nil
	}
	_, org, repo := splitSlug(p.Slug)
	if id := src.Repo.ExternalID; id != p.Slug && id != org+"/"+repo && id != projectID(p.Slug) {
		return badRequest("%s.repo.external_id %q: Orbit builds project %s from its own repository (%s)", field, id, p.Slug, p.Slug)
	}
	return nil
}

type definitionBody struct {
	Name           *string        `json:"name"`
	Description    *string        `json:"description"`
	ConfigSource   *defSourceJSON `json:"config_source"`
	CheckoutSource *defSourceJSON `json:"checkout_source"`
}

func (b definitionBody) spec(p store.Project) (pipedef.DefinitionSpec, error) {
	if err := ownRepo(p, "config_source", b.ConfigSource); err != nil {
		return pipedef.DefinitionSpec{}, err
	}
	if err := ownRepo(p, "checkout_source", b.CheckoutSource); err != nil {
		return pipedef.DefinitionSpec{}, err
	}
	sp := pipedef.DefinitionSpec{Name: b.Name, Description: b.Description}
	if b.ConfigSource != nil && b.ConfigSource.FilePath != "" {
		sp.ConfigPath = &b.ConfigSource.FilePath
	}
	return sp, nil
}

func (s *server) listDefinitions(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pathProject(r)
	if err != nil {
		return err
	}
	ds, err := s.cfg.Integrations.Definitions.ListDefinitions(r.Context(), p.Slug)
	if err != nil {
		return err
	}
	items := make([]definitionJSON, 0, len(ds))
	for _, d := range ds {
		items = append(items, definitionView(d))
	}
	writeJSON(w, http.StatusOK, itemsJSON[definitionJSON]{Items: items})
	return nil
}

func (s *server) createDefinition(w http.ResponseWriter, r *http.Request) error {
	return s.changeDefinition(w, r, func(p store.Project, sp pipedef.DefinitionSpec) (pipedef.Definition, error) {
		return s.cfg.Integrations.Definitions.CreateDefinition(r.Context(), p.Slug, sp)
	})
}

func (s *server) updateDefinition(w http.ResponseWriter, r *http.Request) error {
	return s.changeDefinition(w, r, func(p store.Project, sp pipedef.DefinitionSpec) (pipedef.Definition, error) {
		return s.cfg.Integrations.Definitions.UpdateDefinition(r.Context(), p.Slug, r.PathValue("pipeline_definition_id"), sp)
	})
}

func (s *server) changeDefinition(w http.ResponseWriter, r *http.Request, do func(store.Project, pipedef.DefinitionSpec) (pipedef.Definition, error)) error {
	p, err := s.pathProject(r)
	if err != nil {
		return err
	}
	var body definitionBody
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	sp, err := body.spec(p)
	if err != nil {
		return err
	}
	d, err := do(p, sp)
	if err != nil {
		return pipedefErr(err)
	}
	writeJSON(w, http.StatusOK, definitionView(d))
	return nil
}

func (s *server) getDefinition(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pathProject(r)
	if err != nil {
		return err
	}
	d, err := s.cfg.Integrations.Definitions.GetDefinition(r.Context(), p.Slug, r.PathValue("pipeline_definition_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, definitionView(d))
	return nil
}

func (s *server) deleteDefinition(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pathProject(r)
	if err != nil {
		return err
	}
	if err := s.cfg.Integrations.Definitions.DeleteDefinition(r.Context(), p.Slug, r.PathValue("pipeline_definition_id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Pipeline definition deleted."})
	return nil
}

// pipedefErr makes the service's refusals 400s.
func pipedefErr(err error) error {
	if errors.Is(err, pipedef.ErrInvalid) {
		return badRequest("%s", strings.TrimPrefix(err.Error(), pipedef.ErrInvalid.Error()+": "))
	}
	return err
}
