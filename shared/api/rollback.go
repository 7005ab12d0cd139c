package api

import (
	"net/http"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/conductor"
)

// RollbackDefinition is the name of the pipeline definition a project's
// rollbacks run (CircleCI's "rollback pipeline").
const RollbackDefinition = "rollback"

// Rollback, CircleCI's rollbackProject: it starts the project's rollback
// pipeline, the pipeline definition named RollbackDefinition, on the
// project's default branch with the request's parameters as pipeline
// parameters. It needs write access (it triggers).
//
//	POST /api/v2/projects/{project_id}/rollback   {environment_name, component_name, current_version, target_version,
//	     namespace?, reason?, parameters?} → 202 {id: <pipeline id>, rollback_type: "PIPELINE"}
func (s *server) routeRollback(mux *http.ServeMux) {
	s.route(mux, "POST /api/v2/projects/{project_id}/rollback", onProjectID(accounts.Write), s.api(s.rollback))
}

func (s *server) rollback(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pathProject(r)
	if err != nil {
		return err
	}
	var body struct {
		ComponentName   string         `json:"component_name"`
		CurrentVersion  string         `json:"current_version"`
		EnvironmentName string         `json:"environment_name"`
		TargetVersion   string         `json:"target_version"`
		Namespace       string         `json:"namespace"`
		Reason          string         `json:"reason"`
		Parameters      map[string]any `json:"parameters"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	for name, v := range map[string]string{"environment_name": body.EnvironmentName, "component_name": body.ComponentName,
		"current_version": body.CurrentVersion, "target_version": body.TargetVersion} {
		if v == "" {
			return badRequest("%s is required", name)
		}
	}
	defs, err := s.cfg.Integrations.Definitions.ListDefinitions(r.Context(), p.Slug)
	if err != nil {
		return err
	}
	path := ""
	for _, d := range defs {
		if d.Name == RollbackDefinition {
			path = d.ConfigPath
		}
	}
	if path == "" {
		return badRequest("project %s has no rollback pipeline: create a pipeline definition named %q whose config file runs the rollback",
			p.Slug, RollbackDefinition)
	}
	u := me(r)
	pl, err := s.cfg.Trigger.Trigger(r.Context(), conductor.TriggerRequest{ProjectSlug: p.Slug, Parameters: body.Parameters,
		TriggerType: "api", Actor: u.Login, ConfigPath: path})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, rollbackJSON{ID: pl.ID, RollbackType: "PIPELINE"})
	return nil
}

// rollbackJSON is CircleCI's answer to a rollback: the pipeline that runs
// it.
type rollbackJSON struct {
	ID           string `json:"id"`
	RollbackType string `json:"rollback_type"`
}
