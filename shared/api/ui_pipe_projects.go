package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/store"
)

// --- the projects list (/ui/projects) and a project's page
// (/ui/project/{vcs}/{org}/{repo}): its pipelines, branches, the trigger
// form with the config's pipeline parameters, follow and unfollow. ---

// projectBranchScan is how many recent pipelines the branch list comes from.
const projectBranchScan = 100

type projectsPage struct {
	uiBase
	Projects []projectsRow
	// GitHub: GitHub repositories can be followed.
	GitHub bool
}

type projectsRow struct {
	Slug, RepoURL, DefaultBranch string
	Stopped, Admin               bool
}

type projectPage struct {
	uiBase
	Project  store.Project
	Branches []string
	Params   []pipeParam
	List     pipeList
	Branch   string
	// Write may trigger; Admin may unfollow.
	Write, Admin, GitHub bool
	// Extra numbers the trigger form's free name/value rows.
	Extra []int
}

// pipeParam is a pipeline parameter the project's config declares.
type pipeParam struct {
	Name, Type, Description, Default string
	Enum                             []string
}

func (s *server) uiProjects(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	ps, err := s.visibleProjects(ctx)
	if err != nil {
		return "", nil, err
	}
	page := &projectsPage{uiBase: uiBase{Title: "Projects", Nav: "projects"}, GitHub: s.cfg.GitHub != nil}
	for _, p := range ps {
		admin, err := s.can(ctx, p.Slug, accounts.Admin)
		if err != nil {
			return "", nil, err
		}
		page.Projects = append(page.Projects, projectsRow{Slug: p.Slug, RepoURL: p.RepoURL, DefaultBranch: p.DefaultBranch,
			Stopped: !p.StoppedAt.IsZero(), Admin: admin})
	}
	return "projects", page, nil
}

func (s *server) uiProject(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	p, err := s.st.GetProject(ctx, slugOf(r))
	if err != nil {
		return "", nil, err
	}
	page := &projectPage{uiBase: uiBase{Title: p.Slug, Nav: "projects"}, Project: p, Branch: r.URL.Query().Get("branch"),
		GitHub: s.cfg.GitHub != nil && p.VCS == "github", Extra: []int{1, 2, 3}}
	if page.Write, err = s.can(ctx, p.Slug, accounts.Write); err != nil {
		return "", nil, err
	}
	if page.Admin, err = s.can(ctx, p.Slug, accounts.Admin); err != nil {
		return "", nil, err
	}
	recent, _, err := s.st.ListPipelines(ctx, p.Slug, "", projectBranchScan)
	if err != nil {
		return "", nil, err
	}
	page.Branches = []string{p.DefaultBranch}
	for _, pl := range recent {
		if pl.VCS.Branch != "" && !slices.Contains(page.Branches, pl.VCS.Branch) {
			page.Branches = append(page.Branches, pl.VCS.Branch)
		}
	}
	if page.Params, err = s.declaredParams(ctx, recent); err != nil {
		return "", nil, err
	}
	page.List, err = s.listPipes(ctx, []string{p.Slug}, pipeFilter{Branch: page.Branch}, r.URL.Query().Get("page"), pageLink(r.URL))
	if err != nil {
		return "", nil, err
	}
	if page.List.Active {
		page.Refresh = refreshSeconds
	}
	return "project", page, nil
}

// paramsLookback is how many of the newest pipelines declaredParams tries
// for a config (the newest may not have read theirs yet).
const paramsLookback = 5

// declaredParams are the pipeline parameters declared by the config of the
// newest of recent (newest first) that has one, by name. A config that
// does not parse declares none: the form still takes name/value rows.
func (s *server) declaredParams(ctx context.Context, recent []store.Pipeline) ([]pipeParam, error) {
	var c store.PipelineConfig
	for _, p := range recent[:min(len(recent), paramsLookback)] {
		var err error
		c, err = s.st.GetPipelineConfig(ctx, p.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if c.Source != "" {
			break
		}
	}
	var doc struct {
		Parameters map[string]struct {
			Type        string   `yaml:"type"`
			Description string   `yaml:"description"`
			Default     any      `yaml:"default"`
			Enum        []string `yaml:"enum"`
		} `yaml:"parameters"`
	}
	if yaml.Unmarshal([]byte(c.Source), &doc) != nil {
		return nil, nil
	}
	var out []pipeParam
	for _, name := range sortedKeys(doc.Parameters) {
		d := doc.Parameters[name]
		p := pipeParam{Name: name, Type: d.Type, Description: d.Description, Enum: d.Enum}
		if d.Default != nil {
			p.Default = fmt.Sprint(d.Default)
		}
		out = append(out, p)
	}
	return out, nil
}
