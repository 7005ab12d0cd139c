package github

import (
	"context"
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v93/github"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// Commit returns the commit at revision (GET /repos/{o}/{r}/commits/{sha}):
// its message and author, split and clipped by vcs.NewCommit. The answer's
// file list is paginated; one file is asked for, since only the commit is
// read.
func (d *Driver) Commit(ctx context.Context, repoURL, revision string) (vcs.Commit, error) {
	owner, repo, err := OwnerRepo(repoURL)
	if err != nil {
		return vcs.Commit{}, err
	}
	rc, _, err := d.client(d.cfg.Token).Repositories.GetCommit(ctx, owner, repo, revision, &gh.ListOptions{PerPage: 1})
	switch statusOf(err) {
	case 0:
		if err != nil {
			return vcs.Commit{}, fmt.Errorf("commit %s in %s/%s: %w", revision, owner, repo, err)
		}
	case http.StatusNotFound:
		return vcs.Commit{}, fmt.Errorf("%s/%s on %s: %w", owner, repo, d.web.Host, vcs.ErrRepoNotFound)
	case http.StatusUnprocessableEntity:
		return vcs.Commit{}, fmt.Errorf("%q in %s/%s: %w", revision, owner, repo, vcs.ErrRevisionNotFound)
	default:
		return vcs.Commit{}, fmt.Errorf("commit %s in %s/%s: %w", revision, owner, repo, err)
	}
	c := rc.GetCommit()
	return vcs.NewCommit(c.GetMessage(), c.GetAuthor().GetName(), c.GetAuthor().GetEmail()), nil
}
