package localgit_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/vcs"
	"github.com/orbit-ci/orbit/shared/vcs/localgit"
)

// gitRepo makes a repository with one commit of message by Ada Lovelace
// and returns its path and the commit's SHA.
func gitRepo(t *testing.T, message string) (dir, sha string) {
	t.Helper()
	dir = t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
			"GIT_AUTHOR_NAME=Ada Lovelace", "GIT_AUTHOR_EMAIL=ada@example.com",
			"GIT_COMMITTER_NAME=Charles Babbage", "GIT_COMMITTER_EMAIL=charles@example.com")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("hi\n"), 0o644))
	run("add", "README")
	msgFile := filepath.Join(t.TempDir(), "msg")
	require.NoError(t, os.WriteFile(msgFile, []byte(message), 0o644))
	run("commit", "-q", "--cleanup=verbatim", "-F", msgFile)
	return dir, run("rev-parse", "HEAD")
}

func TestCommit(t *testing.T) {
	dir, sha := gitRepo(t, "Make the <dashboard> shine ✨\n\nThe 日本語 body,\nover two lines.\n")
	tests := []struct {
		name, revision string
	}{
		{name: "by SHA", revision: sha},
		{name: "by branch", revision: "main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := localgit.Repos{}.Commit(t.Context(), dir, tt.revision)
			require.NoError(t, err)
			assert.Equal(t, vcs.Commit{Subject: "Make the <dashboard> shine ✨", Body: "The 日本語 body,\nover two lines.",
				AuthorName: "Ada Lovelace", AuthorEmail: "ada@example.com"}, c)
		})
	}
}

func TestCommitClipsALongMessage(t *testing.T) {
	dir, sha := gitRepo(t, strings.Repeat("日", 1000)+"\n\n"+strings.Repeat("body ", 2000))
	c, err := localgit.Repos{}.Commit(t.Context(), dir, sha)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("日", vcs.MaxSubjectBytes/3), c.Subject)
	assert.LessOrEqual(t, len(c.Body), vcs.MaxBodyBytes)
}

func TestCommitErrors(t *testing.T) {
	dir, _ := gitRepo(t, "x")
	tests := []struct {
		name, repo, revision string
		want                 error
	}{
		{name: "unknown revision", repo: dir, revision: strings.Repeat("0", 40), want: vcs.ErrRevisionNotFound},
		{name: "unknown branch", repo: dir, revision: "nope", want: vcs.ErrRevisionNotFound},
		{name: "an option is not a revision", repo: dir, revision: "--output=" + filepath.Join(dir, "x"), want: vcs.ErrRevisionNotFound},
		{name: "no repository", repo: filepath.Join(dir, "absent"), revision: "main", want: vcs.ErrRepoNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := localgit.Repos{}.Commit(t.Context(), tt.repo, tt.revision)
			assert.ErrorIs(t, err, tt.want)
		})
	}
	assert.NoFileExists(t, filepath.Join(dir, "x"))
}
