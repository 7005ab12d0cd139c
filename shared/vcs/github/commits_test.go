package github_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/vcs"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/orbit-ci/orbit/shared/vcs/githubtest"
)

func TestCommit(t *testing.T) {
	fake, d, _ := setup(t)
	fake.AddRepo(githubtest.Repo{Owner: "acme", Name: "web", DefaultBranch: "main", Refs: map[string]string{"main": sha1},
		Files: map[string]map[string]string{sha1: {}},
		Commits: map[string]githubtest.Commit{sha1: {Message: "Make the <dashboard> shine\n\nSo the 日本語 team sees it.\n",
			AuthorName: "Ada Lovelace", AuthorEmail: "ada@example.com"}}})
	ctx := context.Background()
	repoURL := "https://github.example.com/acme/web.git"
	for _, rev := range []string{sha1, "main"} {
		c, err := d.Commit(ctx, repoURL, rev)
		require.NoError(t, err, rev)
		assert.Equal(t, vcs.Commit{Subject: "Make the <dashboard> shine", Body: "So the 日本語 team sees it.",
			AuthorName: "Ada Lovelace", AuthorEmail: "ada@example.com"}, c, rev)
	}
	assert.Equal(t, 2, fake.Calls("GET /api/v3/repos/{owner}/{repo}/commits/{ref...}"))

	_, err := d.Commit(ctx, repoURL, sha2)
	assert.ErrorIs(t, err, vcs.ErrRevisionNotFound)
	_, err = d.Commit(ctx, "https://github.example.com/acme/absent.git", sha1)
	assert.ErrorIs(t, err, vcs.ErrRepoNotFound)
	fake.SetDown(true)
	_, err = d.Commit(ctx, repoURL, sha1)
	assert.Error(t, err)
	assert.NotErrorIs(t, err, vcs.ErrRevisionNotFound, "GitHub down is not a missing commit")
}

// fakeLocal is a local driver that says which repository it was asked.
type fakeLocal struct{ github.Source }

func (fakeLocal) Commit(_ context.Context, repoURL, _ string) (vcs.Commit, error) {
	return vcs.Commit{Subject: "local " + repoURL}, nil
}

func TestSourcesCommitPicksTheDriver(t *testing.T) {
	fake, d, _ := setup(t)
	fake.AddRepo(githubtest.Repo{Owner: "acme", Name: "web", Refs: map[string]string{"main": sha1}, Files: map[string]map[string]string{sha1: {}},
		Commits: map[string]githubtest.Commit{sha1: {Message: "on GitHub"}}})
	s := github.Sources{GitHub: d, Local: fakeLocal{}}
	c, err := s.Commit(context.Background(), fake.URL+"/acme/web.git", sha1)
	require.NoError(t, err)
	assert.Equal(t, "on GitHub", c.Subject)
	c, err = s.Commit(context.Background(), "/srv/repo", sha1)
	require.NoError(t, err)
	assert.Equal(t, "local /srv/repo", c.Subject)
}
