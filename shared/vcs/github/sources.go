package github

import (
	"context"
	"net/url"
	"strings"
)

// Source reads a repository at a revision (the vcs port as the conductor
// declares it).
type Source interface {
	ResolveRevision(ctx context.Context, repoURL, ref string) (string, error)
	FileAt(ctx context.Context, repoURL, revision, path string) ([]byte, error)
}

// Sources lets GitHub projects and local-git projects live side by side:
// a repository URL on the GitHub host goes to GitHub, any other (a path)
// to Local.
type Sources struct {
	GitHub *Driver
	Local  Source
}

var _ Source = Sources{}
var _ Source = (*Driver)(nil)

// Owns says repoURL is a repository of this GitHub installation.
func (d *Driver) Owns(repoURL string) bool {
	u, err := url.Parse(repoURL)
	if err != nil || u.Host == "" {
		return strings.HasPrefix(repoURL, "git@"+d.web.Host+":")
	}
	return u.Host == d.web.Host
}

func (s Sources) pick(repoURL string) Source {
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
