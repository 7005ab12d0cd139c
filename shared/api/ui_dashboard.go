package api

import (
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/status"
)

// --- the home page ---

type indexPage struct {
	uiBase
	Projects []indexProject
	// Settings links each project's settings page (served with a vault).
	Settings bool
}

type indexProject struct {
	Slug, RepoURL, DefaultBranch string
	Pipelines                    []indexPipeline
}

type indexPipeline struct {
	ID, State, Branch, Tag, Revision string
	Number                           int64
	CreatedAt                        time.Time
	Workflows                        []nameStatus
}

type nameStatus struct{ Name, Status string }

func (s *server) uiIndex(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	ps, err := s.visibleProjects(ctx)
	if err != nil {
		return "", nil, err
	}
	page := &indexPage{uiBase: uiBase{Title: "Projects", Nav: "dashboard"}, Settings: s.cfg.Vault != nil}
	active := false
	for _, p := range ps {
		ip := indexProject{Slug: p.Slug, RepoURL: p.RepoURL, DefaultBranch: p.DefaultBranch}
		pls, _, err := s.st.ListPipelines(ctx, p.Slug, "", recentPipelines)
		if err != nil {
			return "", nil, err
		}
		for _, pl := range pls {
			wfs, err := s.st.ListWorkflows(ctx, pl.ID)
			if err != nil {
				return "", nil, err
			}
			row := indexPipeline{ID: pl.ID, Number: pl.Number, State: string(pl.State), Branch: pl.VCS.Branch,
				Tag: pl.VCS.Tag, Revision: pl.VCS.Revision, CreatedAt: pl.CreatedAt}
			active = active || pipelineActive(pl.State)
			for _, wf := range wfs {
				row.Workflows = append(row.Workflows, nameStatus{Name: wf.Name, Status: string(wf.Status)})
				active = active || !wf.Status.Terminal()
			}
			ip.Pipelines = append(ip.Pipelines, row)
		}
		page.Projects = append(page.Projects, ip)
	}
	if active {
		page.Refresh = refreshSeconds
	}
	return "index", page, nil
}

func pipelineActive(s status.Pipeline) bool {
	return s != status.PipelineCreated && s != status.PipelineErrored
}
