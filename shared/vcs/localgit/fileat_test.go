package localgit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/vcs"
)

// repo makes a git repository with one commit of files on branch main.
func repo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one"},
	} {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	return dir
}

func TestFileAt(t *testing.T) {
	ctx := context.Background()
	body := "version: 2.1\n# bytes as stored, no text conversion: \r\n"
	dir := repo(t, map[string]string{".circleci/config.yml": body, "sub/x": "x"})
	var r Repos
	rev, err := r.ResolveRevision(ctx, dir, "main")
	require.NoError(t, err)

	got, err := r.FileAt(ctx, dir, rev, ".circleci/config.yml")
	require.NoError(t, err)
	assert.Equal(t, body, string(got))

	_, err = r.FileAt(ctx, dir, rev, "missing.yml")
	assert.ErrorIs(t, err, vcs.ErrFileNotFound)
	_, err = r.FileAt(ctx, dir, rev, "sub") // a directory is not a file
	assert.ErrorIs(t, err, vcs.ErrFileNotFound)
	_, err = r.FileAt(ctx, dir, "0123456789abcdef0123456789abcdef01234567", ".circleci/config.yml")
	assert.ErrorIs(t, err, vcs.ErrRevisionNotFound)
	_, err = r.FileAt(ctx, filepath.Join(dir, "nope"), rev, ".circleci/config.yml")
	assert.ErrorIs(t, err, vcs.ErrRepoNotFound)
}
