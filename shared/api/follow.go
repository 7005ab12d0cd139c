package api

import (
	"context"
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/store"
)

// Following GitHub repositories (served when Config.GitHub is set):
//
//	POST   /api/v2/project/gh/{org}/{repo}/follow   follow: a webhook and a deploy key on GitHub → 201 project
//	DELETE /api/v2/project/gh/{org}/{repo}/follow   unfollow: both removed → {message}
//
//	POST   /api/v2/project/{slug}/stop-building     the seed's "Stop building": every trigger is refused
//	POST   /api/v2/project/{slug}/start-building    builds again (audited as project.follow)
//
// All need admin on the repository (GitHub's: creating hooks and keys
// needs it) and use the caller's own GitHub token. "github" is accepted for
// "gh", as CircleCI does.

// GitHubFollower follows repositories with a user's GitHub token; compose
// implements it with the GitHub driver and its registry.
type GitHubFollower interface {
	Follow(ctx context.Context, u *accounts.User, owner, repo string) (store.Project, error)
	Unfollow(ctx context.Context, u *accounts.User, owner, repo string) error
}

func (s *server) routeFollow(mux *http.ServeMux, project string) {
	admin := onProject(accounts.Admin, BySlug)
	s.route(mux, "POST "+project+"/stop-building", admin, s.api(s.audited(audit.ProjectStopBuilding, projectTarget, s.setBuilding(false))))
	s.route(mux, "POST "+project+"/start-building", admin, s.api(s.audited(audit.ProjectFollow, projectTarget, s.setBuilding(true))))
	if s.cfg.GitHub == nil {
		return
	}
	s.route(mux, "POST "+project+"/follow", admin, s.api(s.audited(audit.ProjectFollow, projectTarget, s.followGitHub)))
	s.route(mux, "DELETE "+project+"/follow", admin, s.api(s.audited(audit.ProjectUnfollow, projectTarget, s.unfollowGitHub)))
}

func githubSlug(r *http.Request) (owner, repo string, err error) {
	if v := r.PathValue("vcs"); v != "gh" && v != "github" {
		return "", "", badRequest("only GitHub projects (gh/<org>/<repo>) are followed this way; local repositories: POST /api/v2/project")
	}
	return r.PathValue("org"), r.PathValue("repo"), nil
}

func (s *server) followGitHub(w http.ResponseWriter, r *http.Request) error {
	owner, repo, err := githubSlug(r)
	if err != nil {
		return err
	}
	p, err := s.cfg.GitHub.Follow(r.Context(), me(r), owner, repo)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, projectView(p))
	return nil
}

func (s *server) unfollowGitHub(w http.ResponseWriter, r *http.Request) error {
	owner, repo, err := githubSlug(r)
	if err != nil {
		return err
	}
	if err := s.cfg.GitHub.Unfollow(r.Context(), me(r), owner, repo); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Unfollowed."})
	return nil
}

// setBuilding stops or resumes a project's builds.
func (s *server) setBuilding(on bool) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		slug := r.PathValue("vcs") + "/" + r.PathValue("org") + "/" + r.PathValue("repo")
		p, err := s.st.UpdateProject(r.Context(), slug, func(p *store.Project) error {
			if on {
				p.StoppedAt = time.Time{}
			} else if p.StoppedAt.IsZero() {
				p.StoppedAt = s.st.Now()
			}
			return nil
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, projectView(p))
		return nil
	}
}
