package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/cachekey"
	"github.com/orbit-ci/orbit/shared/runner"
)

// Files is the part of the runner API the built-in steps use; *runner.Client
// satisfies it. Object transfers go to presigned URLs, never with the token.
type Files interface {
	RestoreCache(ctx context.Context, r runner.CacheRestoreRequest) (runner.CacheRestore, error)
	SaveCache(ctx context.Context, r runner.CacheSaveRequest) (runner.CacheSave, error)
	CommitCache(ctx context.Context, r runner.CacheCommit) error
	PersistWorkspace(ctx context.Context, r runner.WorkspacePersist) (runner.Upload, error)
	CommitWorkspace(ctx context.Context, r runner.WorkspaceCommit) error
	Workspace(ctx context.Context) (runner.WorkspaceLayers, error)
	StoreArtifacts(ctx context.Context, r runner.ArtifactsRequest) (runner.ArtifactsUpload, error)
	StoreTests(ctx context.Context, step, seq int, b runner.TestBatch) error
	Timings(ctx context.Context) (runner.Timings, error)
	PutObject(ctx context.Context, u runner.Upload, body io.ReaderAt, size int64) error
	GetObject(ctx context.Context, url string, w io.Writer, reset func() error) (int64, error)
}

var _ Files = (*runner.Client)(nil)

// builtinStep runs a step inside the agent, writing what it does to out. An
// error fails the step with that message.
type builtinStep func(r *taskRun, i int, st runner.Step, out io.Writer) error

// builtins are the steps that are not shell scripts.
var builtins = map[string]builtinStep{
	runner.StepSaveCache:          (*taskRun).saveCache,
	runner.StepRestoreCache:       (*taskRun).restoreCache,
	runner.StepPersistToWorkspace: (*taskRun).persistWorkspace,
	runner.StepAttachWorkspace:    (*taskRun).attachWorkspace,
	runner.StepStoreArtifacts:     (*taskRun).storeArtifacts,
	runner.StepStoreTestResults:   (*taskRun).storeTestResults,
	runner.StepAddSSHKeys:         (*taskRun).addSSHKeys,
	runner.StepSetupRemoteDocker:  (*taskRun).setupRemoteDocker,
	runner.StepEnableSSH:          (*taskRun).enableSSH,
	runner.StepWaitForSSH:         (*taskRun).waitForSSH,
}

// runBuiltin runs a built-in step and returns its terminal report.
func (r *taskRun) runBuiltin(i int, st runner.Step, fn builtinStep, rep runner.StepReport) runner.StepReport {
	s := r.newStreamer(i)
	err := fn(r, i, st, s)
	switch {
	case r.ctx.Err() != nil:
		rep.Status, rep.Message = runner.StatusCanceled, "canceled"
	case errors.Is(err, runner.ErrTaskGone):
		r.fail(err)
		rep.Status, rep.Message = runner.StatusCanceled, "canceled"
	case err != nil:
		_, _ = fmt.Fprintf(s, "\nError: %v\n", err)
		rep.Status, rep.Message = runner.StatusFailed, err.Error()
	default:
		rep.Status = runner.StatusSuccess
	}
	s.Close()
	rep.StoppedAt = r.cfg.Clock.Now()
	return rep
}

// jobEnv is the job's environment as a map (for key templates).
func (r *taskRun) jobEnv() map[string]string {
	m := map[string]string{}
	for _, kv := range r.stepEnv() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// renderKey renders a cache key template in the job's context.
func (r *taskRun) renderKey(tmpl string) (string, error) {
	return cachekey.Render(tmpl, cachekey.Context{
		Branch: r.spec.Checkout.Branch, Revision: r.spec.Checkout.Revision, BuildNum: r.spec.JobNumber,
		Environment: r.jobEnv(), Dir: r.workdir, Home: r.home, Now: r.cfg.Clock.Now,
	})
}

// download fetches a presigned URL into a new temporary file and checks
// its size and checksum. The caller removes the file.
func (r *taskRun) download(url string, size int64, sum string) (string, error) {
	f, err := os.CreateTemp(r.tmp, "download-*")
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	name := f.Name()
	_, err = r.files.GetObject(r.ctx, url, f, func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return f.Truncate(0)
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = verifyFile(name, size, sum)
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// upload PUTs a file to a presigned upload.
func (r *taskRun) upload(u runner.Upload, p string) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", p, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", p, err)
	}
	if err := r.files.PutObject(r.ctx, u, f, info.Size()); err != nil {
		return 0, fmt.Errorf("upload %s: %w", p, err)
	}
	return info.Size(), nil
}

// displayPath shows a path as the user wrote it would: "~/…" under HOME.
func (r *taskRun) displayPath(p string) string {
	if rel, err := filepath.Rel(r.home, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		if rel == "." {
			return "~"
		}
		return "~/" + rel
	}
	return p
}

// humanSize formats a byte count as CircleCI's UI does (binary units).
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
