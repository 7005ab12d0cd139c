package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
)

// CircleCI's newer operations name projects and organizations by id
// (/projects/{project_id}, /organizations/{org_id}, /org/{orgID}); Orbit's
// ids are derived from slugs (shared/ids), so a path's id is resolved by
// deriving the id of each followed project and its organization.

// slugOfID resolves the project or organization id of r's path (ByProjectID,
// ByOrgID) to its slug; an unknown id is store.ErrNotFound.
func (s *server) slugOfID(ctx context.Context, r *http.Request, of ProjectOf) (string, error) {
	if of == ByProjectID {
		p, err := s.projectByID(ctx, pathValue(r, "project_id", "projectID"))
		return p.Slug, err
	}
	return s.orgByID(ctx, pathValue(r, "org_id", "orgID", "ownerID"))
}

// pathValue is the first of the named path values that is set.
func pathValue(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.PathValue(n); v != "" {
			return v
		}
	}
	return ""
}

// projectByID is the followed project with the id.
func (s *server) projectByID(ctx context.Context, id string) (store.Project, error) {
	ps, err := s.st.ListProjects(ctx)
	if err != nil {
		return store.Project{}, err
	}
	for _, p := range ps {
		if ids.Project(p.Slug) == id {
			return p, nil
		}
	}
	return store.Project{}, fmt.Errorf("project %s: %w", id, store.ErrNotFound)
}

// orgByID is the slug of the organization with the id: one that has a
// followed project or a record (organizations.go).
func (s *server) orgByID(ctx context.Context, id string) (string, error) {
	orgs, err := s.st.ListOrganizations(ctx)
	if err != nil {
		return "", err
	}
	for _, o := range orgs {
		if ids.Org(o.Slug) == id {
			return o.Slug, nil
		}
	}
	ps, err := s.st.ListProjects(ctx)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if o := ids.Owner(p.Slug); ids.Org(o) == id {
			return o, nil
		}
	}
	return "", fmt.Errorf("organization %s: %w", id, store.ErrNotFound)
}
