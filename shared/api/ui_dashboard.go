package api

import (
	"net/http"

	"github.com/orbit-ci/orbit/shared/status"
)

// --- the dashboard (GET /) ---

// dashboardStatuses are the dashboard's status filter choices (pipeline
// and workflow statuses as CircleCI names them).
var dashboardStatuses = []string{"running", "on_hold", "failing", "failed", "success", "canceled", "errored", "not_run"}

type dashboardPage struct {
	uiBase
	Filter   pipeFilter
	Projects []string
	Statuses []string
	List     pipeList
	// NoProjects: nothing is followed (or visible) yet.
	NoProjects bool
}

type nameStatus struct{ Name, Status string }

func (s *server) uiDashboard(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	ps, err := s.visibleProjects(ctx)
	if err != nil {
		return "", nil, err
	}
	f := pipeFilterOf(r)
	page := &dashboardPage{uiBase: uiBase{Title: "Dashboard", Nav: "dashboard"}, Filter: f, Statuses: dashboardStatuses,
		NoProjects: len(ps) == 0}
	var slugs []string
	for _, p := range ps {
		page.Projects = append(page.Projects, p.Slug)
		if f.Project == "" || f.Project == p.Slug {
			slugs = append(slugs, p.Slug)
		}
	}
	page.List, err = s.listPipes(ctx, slugs, f, r.URL.Query().Get("page"), pageLink(r.URL))
	if err != nil {
		return "", nil, err
	}
	page.List.ShowProject = true
	if page.List.Active {
		page.Refresh = refreshSeconds
	}
	return "index", page, nil
}

func pipelineActive(s status.Pipeline) bool {
	return s != status.PipelineCreated && s != status.PipelineErrored
}
