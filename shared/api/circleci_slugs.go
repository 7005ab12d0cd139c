package api

import (
	"net/http"
	"strings"

	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
)

// CircleCI names the projects of its standalone organizations
// circleci/<organization id>/<project id>, and clients use that form for
// any project they know by id: the official CLI's `pipeline run <org>
// <project-id>` always posts to /project/circleci/<org>/<project>/pipeline/run.
// Orbit's projects have slugs of their own (local/acme/api, gh/acme/api),
// so a project path whose provider is circleci is rewritten to the slug of
// the project it names: the organization by its id or name, the project by
// its id or name (names only where they name one project). A form that
// names no project is left as it is, and answered 404.
func (s *server) circleciSlug(r *http.Request) *http.Request {
	const prefix = "/api/v2/project/circleci/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		return r
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return r
	}
	slug, ok := s.projectNamed(r, parts[0], parts[1])
	if !ok {
		return r
	}
	path := "/api/v2/project/" + slug
	if len(parts) == 3 {
		path += "/" + parts[2]
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = path, ""
	r2.URL = &u
	return r2
}

// projectNamed finds the project that org (an organization id or name) and
// project (a project id or name) name; by id first, then by names when only
// one project has them.
func (s *server) projectNamed(r *http.Request, org, project string) (string, bool) {
	ps, err := s.st.ListProjects(r.Context())
	if err != nil {
		return "", false // the route reads the store again and reports it
	}
	var byName []store.Project
	for _, p := range ps {
		owner := ids.Owner(p.Slug)
		_, name, _ := strings.Cut(owner, "/")
		orgOK := ids.Org(owner) == org || name == org
		switch {
		case orgOK && ids.Project(p.Slug) == project:
			return p.Slug, true
		case orgOK && p.Slug[len(owner)+1:] == project:
			byName = append(byName, p)
		}
	}
	if len(byName) == 1 {
		return byName[0].Slug, true
	}
	return "", false
}
