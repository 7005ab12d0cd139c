package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Organizations: every project's owner ("gh/acme" of "gh/acme/api") is an
// organization whether or not it has a record; a record, made by CircleCI's
// createOrganization, makes one exist before its first project (its
// contexts, groups and URL-orb allow-list need no project) and lists it.
//
//	ORG#<owner>   META   organization (GSI1: ORGS / <owner>)

// Organization is an organization created through the API.
type Organization struct {
	// Slug is "<vcs>/<name>": "gh/acme" (a GitHub organization) or
	// "local/acme" (one of Orbit's own, CircleCI's standalone kind).
	Slug string `json:"slug"`
	// Name is the organization's name, the slug's last part.
	Name string `json:"name"`
	// CreatedBy is the id of the user who created it.
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateOrganization stores a new organization record, or returns
// ErrExists when it has one.
func (s *Store) CreateOrganization(ctx context.Context, o Organization) (Organization, error) {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = s.Now()
	}
	it, err := item("ORG#"+o.Slug, "META", o)
	if err != nil {
		return Organization{}, err
	}
	it.GSI1PK, it.GSI1SK = "ORGS", o.Slug
	if err := s.create(ctx, it); err != nil {
		return Organization{}, fmt.Errorf("create organization %s: %w", o.Slug, err)
	}
	return o, nil
}

// GetOrganization returns the record of the organization owner.
func (s *Store) GetOrganization(ctx context.Context, owner string) (Organization, error) {
	var o Organization
	if _, err := s.get(ctx, "ORG#"+owner, "META", &o); err != nil {
		return Organization{}, fmt.Errorf("organization %s: %w", owner, err)
	}
	return o, nil
}

// ListOrganizations returns every organization record by slug.
func (s *Store) ListOrganizations(ctx context.Context) ([]Organization, error) {
	return queryAll[Organization](ctx, s, kv.Query{Index: kv.GSI1, PK: "ORGS"})
}

// OrganizationDeletion is what DeleteOrganization removed.
type OrganizationDeletion struct {
	// Projects are the slugs of the projects deleted (DeleteProject).
	Projects []string
	// Contexts are the contexts deleted, variables included.
	Contexts []Context
}

// DeleteOrganization removes an organization and everything that belongs
// to it: its projects (as DeleteProject: their pipelines stay as history
// until retention), its contexts and their variables, its groups, its
// URL-orb allow-list and its record. An organization with none of those
// is ErrNotFound. It is not atomic: a failure midway leaves the rest, and
// deleting again finishes the job.
func (s *Store) DeleteOrganization(ctx context.Context, owner string) (OrganizationDeletion, error) {
	var del OrganizationDeletion
	_, recErr := s.GetOrganization(ctx, owner)
	if recErr != nil && !errors.Is(recErr, ErrNotFound) {
		return del, recErr
	}
	projects, err := s.ListProjects(ctx)
	if err != nil {
		return del, err
	}
	contexts, err := s.ListContexts(ctx, owner)
	if err != nil {
		return del, err
	}
	groups, err := s.ListGroups(ctx, owner)
	if err != nil {
		return del, err
	}
	allowed, err := s.URLOrbAllowList(ctx, owner)
	if err != nil {
		return del, err
	}
	found := recErr == nil || len(contexts) > 0 || len(groups) > 0 || len(allowed) > 0
	for _, p := range projects {
		if !ownedBy(p.Slug, owner) {
			continue
		}
		found = true
		if err := s.DeleteProject(ctx, p.Slug); err != nil && !errors.Is(err, ErrNotFound) {
			return del, err
		}
		del.Projects = append(del.Projects, p.Slug)
	}
	if !found {
		return del, fmt.Errorf("organization %s: %w", owner, ErrNotFound)
	}
	for _, c := range contexts {
		if err := s.DeleteContext(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return del, err
		}
		del.Contexts = append(del.Contexts, c)
	}
	for _, g := range groups {
		if err := s.DeleteGroup(ctx, owner, g.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return del, err
		}
	}
	for _, e := range allowed {
		if err := s.DeleteURLOrbAllowEntry(ctx, owner, e.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return del, err
		}
	}
	if err := s.kv.Delete(ctx, "ORG#"+owner, "META", kv.Condition{}); err != nil && !errors.Is(err, kv.ErrNotFound) {
		return del, fmt.Errorf("delete organization %s: %w", owner, err)
	}
	return del, nil
}

// ownedBy says whether the project slug belongs to the organization owner.
func ownedBy(slug, owner string) bool {
	rest, ok := strings.CutPrefix(slug, owner+"/")
	return ok && rest != "" && !strings.Contains(rest, "/")
}
