package store

import (
	"context"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Project is a followed repository.
type Project struct {
	// Slug is "<vcs>/<org>/<repo>", e.g. "local/acme/api" or "gh/acme/api".
	Slug string `json:"slug"`
	// Name is the repository name.
	Name string `json:"name"`
	// VCS is "local" (a git repository on this machine) or "github".
	VCS string `json:"vcs"`
	// RepoURL is what the build agent clones: a path for local projects.
	RepoURL       string    `json:"repo_url"`
	DefaultBranch string    `json:"default_branch"`
	CreatedAt     time.Time `json:"created_at"`
	// StoppedAt is when an admin stopped its builds (the seed's "Stop
	// building"): triggers are refused until it is followed again. Zero
	// while it builds.
	StoppedAt time.Time `json:"stopped_at,omitzero"`
}

// UpdateProject changes a project's record (fn may refuse with an error).
func (s *Store) UpdateProject(ctx context.Context, slug string, fn func(*Project) error) (Project, error) {
	p, err := update(ctx, s, "PROJECT#"+slug, "META", func(_ *Project, it *kv.Item) {
		it.GSI1PK, it.GSI1SK = "PROJECTS", slug
	}, fn)
	if err != nil {
		return p, fmt.Errorf("project %s: %w", slug, err)
	}
	return p, nil
}

// CreateProject stores a new project, or returns ErrExists.
func (s *Store) CreateProject(ctx context.Context, p Project) (Project, error) {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.Now()
	}
	it, err := item("PROJECT#"+p.Slug, "META", p)
	if err != nil {
		return Project{}, err
	}
	it.GSI1PK, it.GSI1SK = "PROJECTS", p.Slug
	if err := s.create(ctx, it); err != nil {
		return Project{}, fmt.Errorf("create project %s: %w", p.Slug, err)
	}
	return p, nil
}

// GetProject returns the project with the slug.
func (s *Store) GetProject(ctx context.Context, slug string) (Project, error) {
	var p Project
	if _, err := s.get(ctx, "PROJECT#"+slug, "META", &p); err != nil {
		return Project{}, fmt.Errorf("project %s: %w", slug, err)
	}
	return p, nil
}

// ListProjects returns all projects by slug.
func (s *Store) ListProjects(ctx context.Context) ([]Project, error) {
	return queryAll[Project](ctx, s, kv.Query{Index: kv.GSI1, PK: "PROJECTS"})
}

// next allocates the next pipeline or job number of a project with the kv
// port's Add: an atomic increment on the store's side that never fails for
// contention (an optimistic read-modify-write here used to give up after 50
// conflicts, refusing triggers under load), so numbers are unique and, as
// every allocated number is used at once, gap-free.
func (s *Store) next(ctx context.Context, slug string, job bool) (int64, error) {
	counter := "pipeline"
	if job {
		counter = "job"
	}
	n, err := s.kv.Add(ctx, "PROJECT#"+slug, "COUNTERS", counter, 1)
	if err != nil {
		return 0, fmt.Errorf("allocate %s number for %s: %w", counter, slug, err)
	}
	return n, nil
}
