package github

import (
	"context"
	"net/url"
	"strings"

	"github.com/orbit-ci/orbit/shared/vcs"
)

// Source reads a repository at a revision (the vcs port as the conductor
// declares it).
type Source interface {
	ResolveRevision(ctx context.Context, repoURL, ref string) (string, error)
	FileAt(ctx context.Context, repoURL, revision, path string) ([]byte, error)
}

// CommitSource reads the commit at a revision (the conductor's
// CommitSource).
type CommitSource interface {
	Commit(ctx context.Context, repoURL, revision string) (vcs.Commit, error)
}

// LocalSource is what Sources asks of the driver of the repositories that
// are not GitHub's (localgit.Repos).
type LocalSource interface {
	Source
	CommitSource
}

// Sources lets GitHub projects and local-git projects live side by side:
// a repository URL on the GitHub host goes to GitHub, any other (a path)
// to Local.
type Sources struct {
	GitHub *Driver
	Local  LocalSource
}

var (
	_ LocalSource = Sources{}
	_ LocalSource = (*Driver)(nil)
)

// Owns says repoURL is a repository of this GitHub installation.
func (d *Driver) Owns(repoURL string) bool {
	u, err := url.Parse(repoURL)
	if err != nil || u.Host == "" {
		return strings.HasPrefix(repoURL, "git@"+d.web.Host+":")
	}
	return u.Host == d.web.Host
}

func (s Sources) pick(repoURL string) LocalSource {
	if s.GitHub != nil && s.GitHub.Owns(repoURL) {
		return s.GitHub
	}
	return s.Local
}

// ResolveRevision resolves ref in the repository's own driver.
func (s Sources) ResolveRevision(ctx context.Context, repoURL, ref string) (string, error) {
	return s.pick(repoURL).ResolveRevision(ctx, repoURL, ref)
}

// FileAt reads path at revision through the repository's own driver.
func (s Sources) FileAt(ctx context.Context, repoURL, revision, path string) ([]byte, error) {
	return s.pick(repoURL).FileAt(ctx, repoURL, revision, path)
}

// Commit reads the commit at revision through the repository's own driver.
func (s Sources) Commit(ctx context.Context, repoURL, revision string) (vcs.Commit, error) {
	return s.pick(repoURL).Commit(ctx, repoURL, revision)
}
