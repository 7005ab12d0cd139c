package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
)

// CircleCI's operations that create and delete organizations and projects:
//
//	POST   /api/v2/organization                      {name, vcs_type} → 201 {id, name, slug, vcs_type}
//	DELETE /api/v2/organization/{org-slug-or-id}     → 202 {message}: its projects, contexts, groups,
//	                                                 URL-orb allow-list and record go
//	POST   /api/v2/organization/{org-slug-or-id}/project  {name} → 200 project
//	POST   /api/v2/project/{provider}/{org}/{project}     → 201 project_settings (the deprecated form)
//
// An organization is gh/<name> (a GitHub organization: creating its record
// needs membership, as CircleCI checks access to the VCS organization) or
// local/<name>, Orbit's own organizations, which is what CircleCI's
// standalone organizations ("vcs_type": "circleci") are here. Creating a
// project follows a GitHub repository with the caller's GitHub token (the
// follow flow of follow.go, admin on the repository); a local project
// needs a path on the server (POST /api/v2/project), so for local
// organizations these answer 405 as CircleCI does for a standalone
// organization's project. Bitbucket is not integrated: 403, as CircleCI
// answers a feature that is off. {org-slug-or-id} is the organization's
// id or its slug (the slash may be %2F-escaped).
func (s *server) routeOrganizations(mux *http.ServeMux, project string) {
	s.route(mux, "POST /api/v2/organization", signedIn, s.api(s.createOrganization))
	for _, org := range []string{"/api/v2/organization/{org}", "/api/v2/organization/{vcs}/{name}"} {
		s.route(mux, "DELETE "+org, signedIn, s.api(s.deleteOrganization))
		s.route(mux, "POST "+org+"/project", signedIn,
			s.api(s.audited(audit.ProjectAdd, createdProjectTarget, s.audited(audit.ProjectFollow, createdProjectTarget, s.createOrgProject))))
	}
	s.route(mux, "POST "+project, onProject(accounts.Admin, BySlug),
		s.api(s.audited(audit.ProjectAdd, projectTarget, s.audited(audit.ProjectFollow, projectTarget, s.createProjectBySlug))))
}

// organizationJSON is CircleCI's answer to createOrganization.
type organizationJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Slug    string `json:"slug"`
	VCSType string `json:"vcs_type"`
}

// orgVCS maps createOrganization's vcs_type to Orbit's slug prefix.
var orgVCS = map[string]string{"github": "gh", "bitbucket": "bb", "circleci": "local"}

// orgVCSType is an organization's vcs_type as CircleCI names it.
func orgVCSType(vcs string) string {
	for t, v := range orgVCS {
		if v == vcs {
			return t
		}
	}
	return "github" // gh's long form, "github", is read as gh
}

type organizationBody struct {
	Name    string `json:"name"`
	VCSType string `json:"vcs_type"`
}

func (s *server) createOrganization(w http.ResponseWriter, r *http.Request) error {
	var body organizationBody
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	vcs, ok := orgVCS[body.VCSType]
	switch {
	case body.Name == "":
		return badRequest(`"name" is required: the organization's name`)
	case sanitizeSlugPart(body.Name) != body.Name:
		return badRequest("name %q: an organization name is letters, digits, '.', '_' and '-'", body.Name)
	case !ok:
		return badRequest(`vcs_type %q: one of "github", "bitbucket", "circleci" (an organization of Orbit's own)`, body.VCSType)
	}
	if err := s.vcsIntegrated(vcs); err != nil {
		return err
	}
	slug := vcs + "/" + body.Name
	u := me(r)
	member, err := s.cfg.Permissions.Member(r.Context(), u, vcs, body.Name)
	if err != nil {
		return err
	}
	if !member {
		return &forbiddenError{fmt.Sprintf("you are not a member of the %s organization %s", providerName(vcs), body.Name)}
	}
	o, err := s.st.CreateOrganization(r.Context(), store.Organization{Slug: slug, Name: body.Name, CreatedBy: u.ID})
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "organization created", "request_id", RequestID(r.Context()), "organization", o.Slug, "user", u.Login)
	writeJSON(w, http.StatusCreated, organizationJSON{ID: orgID(o.Slug), Name: o.Name, Slug: o.Slug, VCSType: body.VCSType})
	return nil
}

// vcsIntegrated refuses organizations and projects of a provider this
// server does not integrate (403, a feature that is off).
func (s *server) vcsIntegrated(vcs string) error {
	switch {
	case vcs == "bb":
		return &forbiddenError{"Bitbucket is not integrated with Orbit: its organizations are GitHub's (gh) and its own (local)"}
	case vcs == "gh" && s.cfg.GitHub == nil:
		return &forbiddenError{"GitHub is not configured on this Orbit server (the github settings of its configuration)"}
	}
	return nil
}

// pathOrg is the organization slug of an {org-slug-or-id} path: the slug
// ({vcs}/{name}, or {org} with an escaped slash) or the id of an
// organization Orbit knows (an unknown id is 404).
func (s *server) pathOrg(r *http.Request) (string, error) {
	if vcs := r.PathValue("vcs"); vcs != "" {
		return vcs + "/" + r.PathValue("name"), nil
	}
	org := r.PathValue("org")
	if vcs, name, ok := strings.Cut(org, "/"); ok {
		return canonicalOwner(vcs) + "/" + name, nil
	}
	return s.orgByID(r.Context(), org)
}

// canonicalOwner is the short provider name of an escaped slug's provider
// (canonicalProvider rewrites only real path segments).
func canonicalOwner(vcs string) string {
	if short, ok := longProviders[vcs]; ok {
		return short
	}
	return vcs
}

func (s *server) deleteOrganization(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.pathOrg(r)
	if err != nil {
		return err
	}
	if err := s.requireOn(r.Context(), owner, accounts.Admin); err != nil {
		return err
	}
	ctx := audit.WithRequest(r.Context(), requestOf(r))
	s.unfollowOnGitHub(ctx, r, owner)
	del, err := s.st.DeleteOrganization(ctx, owner)
	// What went is audited as the seed's actions, even when a later part
	// failed: the seed has no organization actions.
	for _, slug := range del.Projects {
		s.cfg.Audit.Must(ctx, audit.Event{Action: audit.ProjectUnfollow, Target: audit.ProjectEntity(slug),
			Scope: audit.AccountEntity(slug), Payload: map[string]any{"project": map[string]any{"slug": slug}}, Success: true})
	}
	for _, c := range del.Contexts {
		e := audit.Entity{ID: c.ID, Type: "context", Name: c.Name}
		s.cfg.Audit.Must(ctx, audit.Event{Action: audit.ContextDelete, Target: e, Scope: e,
			Payload: map[string]any{"context": map[string]any{"id": c.ID, "name": c.Name}}, Success: true})
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "organization deleted", "request_id", RequestID(ctx), "organization", owner,
		"projects", len(del.Projects), "contexts", len(del.Contexts))
	writeJSON(w, http.StatusAccepted, message{Message: fmt.Sprintf("Organization %s deleted: %d projects and %d contexts.",
		owner, len(del.Projects), len(del.Contexts))})
	return nil
}

// unfollowOnGitHub removes the webhooks and deploy keys of a GitHub
// organization's followed projects before they are deleted, so a project
// can be followed again; a failure (the caller's token may not administer
// every repository) is logged and the deletion goes on.
func (s *server) unfollowOnGitHub(ctx context.Context, r *http.Request, owner string) {
	vcs, org, _ := strings.Cut(owner, "/")
	if vcs != "gh" || s.cfg.GitHub == nil {
		return
	}
	ps, err := s.st.ListProjects(ctx)
	if err != nil {
		return // DeleteOrganization lists them again and reports the error
	}
	for _, p := range ps {
		if ids.Owner(p.Slug) == owner {
			_, _, repo := splitSlug(p.Slug)
			if err := s.cfg.GitHub.Unfollow(ctx, me(r), org, repo); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.WarnContext(ctx, "organization deletion: project not unfollowed on GitHub", "request_id", RequestID(ctx),
					"project", p.Slug, "error", err)
			}
		}
	}
}

// createProject follows the project "<vcs>/<org>/<repo>" for the caller,
// who must have admin on it (the route's rule or the handler checked).
func (s *server) createProject(w http.ResponseWriter, r *http.Request, slug string) (store.Project, bool, error) {
	vcs, org, repo := splitSlug(slug)
	if err := s.vcsIntegrated(vcs); err != nil {
		return store.Project{}, false, err
	}
	if vcs != "gh" {
		writeJSON(w, http.StatusMethodNotAllowed, message{Message: "Create projects using the API is currently supported for classic Github OAuth and Bitbucket projects only. " +
			`Orbit follows a repository of its own organizations by its path on the server: POST /api/v2/project {"path": "…"}.`})
		return store.Project{}, false, nil
	}
	p, err := s.cfg.GitHub.Follow(r.Context(), me(r), org, repo)
	if err != nil {
		return store.Project{}, false, err
	}
	s.log.InfoContext(r.Context(), "project created", "request_id", RequestID(r.Context()), "project", p.Slug)
	return p, true, nil
}

type orgProjectBody struct {
	Name string `json:"name"`
}

func (s *server) createOrgProject(w http.ResponseWriter, r *http.Request) error {
	var body orgProjectBody
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Name == "" || sanitizeSlugPart(body.Name) != body.Name {
		return badRequest(`"name" %q: the project's (repository's) name, letters, digits, '.', '_' and '-'`, body.Name)
	}
	owner, err := s.pathOrg(r)
	if err != nil {
		return err
	}
	slug := owner + "/" + body.Name
	if err := s.requireOn(r.Context(), slug, accounts.Admin); err != nil {
		return err
	}
	p, ok, err := s.createProject(w, r, slug)
	if ok {
		writeJSON(w, http.StatusOK, projectView(p))
	}
	return err
}

func (s *server) createProjectBySlug(w http.ResponseWriter, r *http.Request) error {
	p, ok, err := s.createProject(w, r, slugOf(r))
	if ok {
		adv, _ := projectSettings(p)
		writeJSON(w, http.StatusCreated, projectSettingsJSON{Advanced: adv})
	}
	return err
}

// createdProjectTarget: the project of the answer's slug (a project
// created in an organization named by the path).
func createdProjectTarget(r *http.Request, answer map[string]any) (audit.Entity, audit.Entity, map[string]any) {
	slug, _ := answer["slug"].(string)
	if slug == "" {
		slug = "unknown"
	}
	return audit.ProjectEntity(slug), audit.AccountEntity(slug), map[string]any{"project": map[string]any{"slug": slug}}
}
