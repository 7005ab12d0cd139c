package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
)

// CircleCI's User operations beyond /me:
//
//	GET /api/v2/me/collaborations   the organizations the caller can see a project of, or is a member of
//	GET /api/v2/user/{id}           a user by id: {id, login, name, avatar_url}
//
// Orbit has no organization records: an organization is the owner of its
// projects (gh/acme of gh/acme/api), with the id orgID gives it, the one
// the context routes use.
func (s *server) routeUsersV2(mux *http.ServeMux) {
	s.route(mux, "GET /api/v2/me/collaborations", signedIn, s.api(s.listCollaborations))
	s.route(mux, "GET /api/v2/user/{id}", signedIn, s.api(s.getUser))
}

// collaborationJSON is CircleCI's Collaboration.
type collaborationJSON struct {
	ID        string `json:"id"`
	VCSType   string `json:"vcs-type"`
	Name      string `json:"name"`
	AvatarURL string `json:"avatar_url"`
	Slug      string `json:"slug"`
}

func (s *server) listCollaborations(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.visibleProjects(r.Context())
	if err != nil {
		return err
	}
	out := []collaborationJSON{}
	for _, p := range ps {
		owner := vault.Owner(p.Slug)
		if slices.ContainsFunc(out, func(c collaborationJSON) bool { return c.Slug == owner }) {
			continue
		}
		vcs, name, _ := strings.Cut(owner, "/")
		out = append(out, collaborationJSON{ID: orgID(owner), VCSType: projectType(vcs), Name: name, Slug: owner})
	}
	// Organizations created through the API (organizations.go) whose
	// member the caller is, projects or not.
	orgs, err := s.st.ListOrganizations(r.Context())
	if err != nil {
		return err
	}
	for _, o := range orgs {
		vcs, name, _ := strings.Cut(o.Slug, "/")
		if slices.ContainsFunc(out, func(c collaborationJSON) bool { return c.Slug == o.Slug }) {
			continue
		}
		if ok, err := s.cfg.Permissions.Member(r.Context(), me(r), vcs, name); err != nil || !ok {
			continue // a membership GitHub cannot confirm now is not listed
		}
		out = append(out, collaborationJSON{ID: orgID(o.Slug), VCSType: projectType(vcs), Name: name, Slug: o.Slug})
	}
	slices.SortFunc(out, func(a, b collaborationJSON) int { return strings.Compare(a.Slug, b.Slug) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.cfg.Accounts.User(r.Context(), r.PathValue("id"))
	if errors.Is(err, accounts.ErrNotFound) {
		return fmt.Errorf("user %s: %w", r.PathValue("id"), store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, publicUser(u))
	return nil
}

// publicUser is what any signed-in user may learn of another (CircleCI's
// User): no e-mail, no provider, no role.
func publicUser(u *accounts.User) userView {
	name := u.Name
	if name == "" {
		name = u.Login
	}
	return userView{ID: u.ID, Login: u.Login, Name: name}
}
