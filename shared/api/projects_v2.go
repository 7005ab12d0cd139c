package api

import (
	"net/http"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
)

// DELETE /api/v2/project/{slug}: CircleCI's deleteProjectBySlug. Orbit
// stops following the project and removes its variables, keys and
// schedules (store.DeleteProject); its pipelines stay as history until
// retention removes them (docs/API.md).
func (s *server) routeProjectsV2(mux *http.ServeMux, project string) {
	s.route(mux, "DELETE "+project, onProject(accounts.Admin, BySlug),
		s.api(s.audited(audit.ProjectUnfollow, projectTarget, s.deleteProject)))
}

func (s *server) deleteProject(w http.ResponseWriter, r *http.Request) error {
	if err := s.st.DeleteProject(r.Context(), slugOf(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Project deleted."})
	return nil
}
