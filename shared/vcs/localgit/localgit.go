// Package localgit is the vcs driver for git repositories on this machine,
// used by the embedded shape: a project's repository URL is a path, and the
// git command reads it.
package localgit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/vcs"
)

// Repos reads local repositories with the git command.
type Repos struct {
	// Git is the git binary; "" means "git" from PATH.
	Git string
}

func (r Repos) git(ctx context.Context, dir string, args ...string) (string, error) {
	bin := r.Git
	if bin == "" {
		bin = "git"
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Inspect checks that path is a git repository and returns its absolute
// path and current branch (its default branch for a new project).
func (r Repos) Inspect(ctx context.Context, path string) (abs, branch string, err error) {
	abs, err = filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	if _, err := r.git(ctx, abs, "rev-parse", "--git-dir"); err != nil {
		return "", "", fmt.Errorf("%s is not a git repository: %w", abs, vcs.ErrRepoNotFound)
	}
	out, err := r.git(ctx, abs, "symbolic-ref", "--short", "HEAD")
	if err != nil {
		return abs, "main", nil // detached HEAD: assume main
	}
	return abs, strings.TrimSpace(out), nil
}

// ResolveRevision returns the commit SHA of a branch or tag (or of a
// revision given as SHA).
func (r Repos) ResolveRevision(ctx context.Context, repoURL, ref string) (string, error) {
	if _, err := os.Stat(repoURL); err != nil {
		return "", fmt.Errorf("repository %s: %w", repoURL, vcs.ErrRepoNotFound)
	}
	for _, candidate := range []string{"refs/heads/" + ref, "refs/tags/" + ref, ref} {
		out, err := r.git(ctx, repoURL, "rev-parse", "--verify", "--quiet", candidate+"^{commit}")
		if err == nil {
			return strings.TrimSpace(out), nil
		}
	}
	return "", fmt.Errorf("%q in %s: %w", ref, repoURL, vcs.ErrRevisionNotFound)
}

// FileAt returns the content of path at revision.
func (r Repos) FileAt(ctx context.Context, repoURL, revision, path string) ([]byte, error) {
	if _, err := os.Stat(repoURL); err != nil {
		return nil, fmt.Errorf("repository %s: %w", repoURL, vcs.ErrRepoNotFound)
	}
	// One git process on the way every pipeline takes (its config read
	// between trigger and dispatch); a second only to tell a missing
	// revision from a missing file.
	out, err := r.git(ctx, repoURL, "cat-file", "blob", revision+":"+path)
	if err == nil {
		return []byte(out), nil
	}
	if _, cerr := r.git(ctx, repoURL, "cat-file", "-e", revision+"^{commit}"); cerr != nil {
		return nil, fmt.Errorf("revision %s in %s: %w", revision, repoURL, vcs.ErrRevisionNotFound)
	}
	return nil, fmt.Errorf("%s at %s: %w", path, revision, vcs.ErrFileNotFound)
}

// Commit returns the commit at revision: its author and message, split and
// clipped by vcs.NewCommit.
func (r Repos) Commit(ctx context.Context, repoURL, revision string) (vcs.Commit, error) {
	if _, err := os.Stat(repoURL); err != nil {
		return vcs.Commit{}, fmt.Errorf("repository %s: %w", repoURL, vcs.ErrRepoNotFound)
	}
	// One git process per pipeline (this runs for every trigger without a
	// webhook payload): --end-of-options keeps an option-looking revision
	// from being read as an option, ^{commit} refuses what is not a
	// commit; NUL separates the fields, since a name or message may hold
	// any other byte. git fails here only for a revision it cannot read.
	out, err := r.git(ctx, repoURL, "log", "-1", "--format=%an%x00%ae%x00%B", "--end-of-options", revision+"^{commit}", "--")
	if err != nil {
		return vcs.Commit{}, fmt.Errorf("revision %s in %s: %w (%v)", revision, repoURL, vcs.ErrRevisionNotFound, err)
	}
	name, rest, _ := strings.Cut(out, "\x00")
	email, message, _ := strings.Cut(rest, "\x00")
	return vcs.NewCommit(message, name, email), nil
}
