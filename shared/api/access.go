package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/store"
)

// Every route declares who may call it when it is registered (route), and
// the handler refuses a request before the route's code runs:
//
//	no credentials, bad or revoked token, ended session   → 401 (pages: 303 to /login)
//	suspended user                                        → 401 (their tokens and sessions stop at once)
//	no read access to the project the route names         → 404 (CircleCI hides what exists)
//	read access, but the route needs write or admin        → 403
//	not an instance admin on an admin route               → 403
//
// A route's project comes from its path: the slug, or the pipeline,
// workflow, job or context its id names (projectOf). Routes that list
// (projects, contexts of an owner) are SignedIn and filter what they answer
// with s.can. Routes with their own authentication (the runner API's task
// tokens, signed blob URLs, webhook signatures) are Own; health checks and
// the sign-in pages are Public. Routes() lists every route with its rule,
// so a test calls each one as every kind of caller and a route without a
// rule cannot be registered.

// Who is the kind of caller a route admits.
type Who int

// Kinds of callers.
const (
	// Public: anyone (health checks, the sign-in pages, openapi.json).
	Public Who = iota + 1
	// Own: the route authenticates its callers itself (task tokens,
	// signatures).
	Own
	// SignedIn: any active user; the handler filters or checks further.
	SignedIn
	// Project: a user with at least Level on the route's project.
	Project
	// SiteAdmin: an instance admin.
	SiteAdmin
)

func (w Who) String() string {
	switch w {
	case Public:
		return "public"
	case Own:
		return "own"
	case SignedIn:
		return "signed-in"
	case Project:
		return "project"
	case SiteAdmin:
		return "site-admin"
	}
	return fmt.Sprintf("Who(%d)", int(w))
}

// Access is a route's rule.
type Access struct {
	Who Who
	// Level is what a Project route needs on its project.
	Level accounts.Level
	// Of finds the project of a Project route's request.
	Of ProjectOf
}

// ProjectOf names how a route's path leads to its project.
type ProjectOf int

// The ways a path names a project.
const (
	// BySlug: {vcs}/{org}/{repo} in the path.
	BySlug ProjectOf = iota + 1
	// ByPipeline: {id} is a pipeline id.
	ByPipeline
	// ByWorkflow: {id} is a workflow id.
	ByWorkflow
	// ByJobID: {job_id} is a job id.
	ByJobID
	// ByContext: {id} is a context id; the question is asked of the
	// context's owner organization.
	ByContext
	// ByProjectID: {project_id} (or {projectID}) is a project's id (ids.go).
	ByProjectID
	// ByOrgID: {org_id} (or {orgID}, {ownerID}) is an organization's id;
	// the question is asked of the organization (ids.go).
	ByOrgID
	// BySchedule: {id} is a pipeline schedule id.
	BySchedule
)

// Rules of the routes, by name.
var (
	public    = Access{Who: Public}
	ownAuth   = Access{Who: Own}
	signedIn  = Access{Who: SignedIn}
	siteAdmin = Access{Who: SiteAdmin}
)

// onProject is the rule of a route that needs level on the project of.
func onProject(level accounts.Level, of ProjectOf) Access {
	return Access{Who: Project, Level: level, Of: of}
}

// Route is a registered route and its rule.
type Route struct {
	// Pattern is the ServeMux pattern, "GET /api/v2/pipeline/{id}".
	Pattern string
	Access  Access
}

// route registers h under pattern with its rule.
func (s *server) route(mux *http.ServeMux, pattern string, a Access, h http.Handler) {
	if a.Who == 0 || a.Who == Project && (a.Of == 0 || a.Level == accounts.None) {
		panic("api: route " + pattern + " has no access rule")
	}
	s.routes = append(s.routes, Route{Pattern: pattern, Access: a})
	if a.Who == Public || a.Who == Own {
		mux.Handle(pattern, h)
		return
	}
	page := isPage(pattern)
	mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := s.authorize(r, a)
		if err == nil && !page {
			err = jsonOnly(r)
		}
		if err != nil {
			s.refuse(w, r, page, err)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// isPage says whether a pattern is a browser page (HTML errors, redirects
// to the sign-in page) rather than an API route.
func isPage(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	return !strings.HasPrefix(path, "/api/")
}

// errForbidden: the caller may see but not do (403).
var errForbidden = errors.New("forbidden")

// forbidden is a 403 with a message that says what is missing.
type forbiddenError struct{ msg string }

func (e *forbiddenError) Error() string { return e.msg }
func (e *forbiddenError) Unwrap() error { return errForbidden }

// authorize authenticates r's caller (auth.go) and checks a; the request it
// returns carries the user (accounts.FromContext).
func (s *server) authorize(r *http.Request, a Access) (*http.Request, error) {
	u, kind, err := s.caller(r)
	if err != nil {
		return r, err
	}
	ctx := context.WithValue(accounts.WithUser(r.Context(), u), credKey{}, kind)
	r = r.WithContext(ctx)
	if err := s.checkCSRF(r); err != nil {
		return r, err
	}
	switch a.Who {
	case SignedIn:
		return r, nil
	case SiteAdmin:
		if !u.IsAdmin() {
			return r, &forbiddenError{"this needs an Orbit administrator"}
		}
		return r, nil
	}
	vcs, org, repo, err := s.projectOf(r, a.Of)
	if err != nil {
		return r, err
	}
	lvl, err := s.level(r.Context(), u, vcs, org, repo)
	if err != nil {
		return r, err
	}
	return r, need(lvl, a.Level, a.Of == ByContext || a.Of == ByOrgID)
}

// need compares a caller's level with what a route needs.
func need(have, want accounts.Level, org bool) error {
	switch {
	case have >= want:
		return nil
	case have == accounts.None && !org:
		return store.ErrNotFound // hide what the caller may not see
	case have == accounts.None:
		return &forbiddenError{"you are not a member of this organization"}
	}
	return &forbiddenError{fmt.Sprintf("this needs %s access to the project; you have %s", want, have)}
}

// level is u's level on a project ("" repo: on an organization).
func (s *server) level(ctx context.Context, u *accounts.User, vcs, org, repo string) (accounts.Level, error) {
	return s.cfg.Permissions.Project(ctx, u, vcs, org, repo)
}

// can says whether the request's user has at least want on the project
// slug "<vcs>/<org>/<repo>" (or organization slug "<vcs>/<org>"); a
// listing route uses it to filter.
func (s *server) can(ctx context.Context, slug string, want accounts.Level) (bool, error) {
	u, ok := accounts.FromContext(ctx)
	if !ok {
		return false, nil
	}
	parts := strings.SplitN(slug, "/", 3)
	if len(parts) < 2 {
		return false, nil
	}
	parts = append(parts, "")
	lvl, err := s.level(ctx, u, parts[0], parts[1], parts[2])
	return lvl >= want, err
}

// requireOn is can as an error for a handler that learns its project from
// the body: 404 without read access, 403 without want.
func (s *server) requireOn(ctx context.Context, slug string, want accounts.Level) error {
	u, ok := accounts.FromContext(ctx)
	if !ok {
		return accounts.ErrUnauthenticated
	}
	parts := append(strings.SplitN(slug, "/", 3), "", "")
	lvl, err := s.level(ctx, u, parts[0], parts[1], parts[2])
	if err != nil {
		return err
	}
	return need(lvl, want, parts[2] == "")
}

// projectOf finds the project a request's path names.
func (s *server) projectOf(r *http.Request, of ProjectOf) (vcs, org, repo string, err error) {
	ctx := r.Context()
	var slug string
	switch of {
	case BySlug:
		return r.PathValue("vcs"), r.PathValue("org"), r.PathValue("repo"), nil
	case ByPipeline:
		p, err := s.st.GetPipeline(ctx, r.PathValue("id"))
		if err != nil {
			return "", "", "", err
		}
		slug = p.ProjectSlug
	case ByWorkflow:
		wf, err := s.st.GetWorkflow(ctx, r.PathValue("id"))
		if err != nil {
			return "", "", "", err
		}
		slug = wf.ProjectSlug
	case ByJobID:
		j, err := s.st.GetJob(ctx, r.PathValue("job_id"))
		if err != nil {
			return "", "", "", err
		}
		slug = j.ProjectSlug
	case ByContext:
		c, err := s.st.GetContext(ctx, r.PathValue("id"))
		if err != nil {
			return "", "", "", err
		}
		slug = c.Owner
	case ByProjectID, ByOrgID:
		if slug, err = s.slugOfID(ctx, r, of); err != nil {
			return "", "", "", err
		}
	case BySchedule:
		p, err := s.st.GetPipelineSchedule(ctx, r.PathValue("id"))
		if err != nil {
			return "", "", "", err
		}
		slug = p.ProjectSlug
	default:
		return "", "", "", fmt.Errorf("api: unknown ProjectOf %d", of)
	}
	parts := append(strings.SplitN(slug, "/", 3), "", "")
	return parts[0], parts[1], parts[2], nil
}
