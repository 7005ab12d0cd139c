package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/pathglob"
	"github.com/orbit-ci/orbit/shared/runner"
)

// persistWorkspace is the persist_to_workspace step: the files matching
// paths (globs relative to root) become a layer of the workflow's
// workspace, named relative to root.
func (r *taskRun) persistWorkspace(i int, st runner.Step, out io.Writer) error {
	if st.Root == "" || len(st.Paths) == 0 {
		return errors.New("persist_to_workspace needs root and paths")
	}
	root := r.expand(st.Root, r.workdir)
	if info, err := os.Stat(root); err != nil || !info.IsDir() {
		return fmt.Errorf("persist_to_workspace: root %s is not a directory", r.displayPath(root))
	}
	var members []archiveMember
	for _, p := range st.Paths {
		clean := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
		if clean == "" {
			members = append(members, archiveMember{src: root, name: "."})
			continue
		}
		matches, err := pathglob.Glob(os.DirFS(root), clean)
		if err != nil {
			return fmt.Errorf("persist_to_workspace: %w", err)
		}
		if len(matches) == 0 {
			return fmt.Errorf("persist_to_workspace: %q matched nothing in %s", p, r.displayPath(root))
		}
		for _, m := range matches {
			members = append(members, archiveMember{src: filepath.Join(root, filepath.FromSlash(m)), name: m})
		}
	}
	fmt.Fprintln(out, "Creating workspace archive...")
	a, err := buildArchive(r.tmp, members)
	if err != nil {
		return err
	}
	defer os.Remove(a.path)
	up, err := r.files.PersistWorkspace(r.ctx, runner.WorkspacePersist{Step: i})
	if err != nil {
		return fmt.Errorf("persist workspace: %w", err)
	}
	fmt.Fprintf(out, "Uploading workspace layer (%d files, %s)...\n", a.files, humanSize(a.size))
	if _, err := r.upload(up, a.path); err != nil {
		return err
	}
	if err := r.files.CommitWorkspace(r.ctx, runner.WorkspaceCommit{Step: i, Size: a.size, SHA256: a.sha256, Files: a.files}); err != nil {
		return fmt.Errorf("persist workspace: %w", err)
	}
	_, err = fmt.Fprintf(out, "Total size uploaded: %s\n", humanSize(a.size))
	return err
}

// attachWorkspace is the attach_workspace step: the layers of every
// upstream job, oldest first, extracted into at (later files win).
func (r *taskRun) attachWorkspace(_ int, st runner.Step, out io.Writer) error {
	if st.At == "" {
		return errors.New("attach_workspace needs at")
	}
	at := r.expand(st.At, r.workdir)
	res, err := r.files.Workspace(r.ctx)
	if err != nil {
		return fmt.Errorf("list workspace layers: %w", err)
	}
	if len(res.Layers) == 0 {
		_, err := fmt.Fprintln(out, "No workspace layers to attach: no upstream job persisted to the workspace.")
		return err
	}
	if err := os.MkdirAll(at, 0o755); err != nil {
		return fmt.Errorf("attach_workspace: %w", err)
	}
	fmt.Fprintf(out, "Downloading workspace layers to %s\n", r.displayPath(at))
	total := 0
	for _, l := range res.Layers {
		fmt.Fprintf(out, "  %s: %s\n", l.JobName, humanSize(l.Size))
		p, err := r.download(l.URL, l.Size, l.SHA256)
		if err != nil {
			return fmt.Errorf("workspace layer of job %s: %w", l.JobName, err)
		}
		n, err := extractArchive(p, func(name string) (string, bool) {
			return filepath.Join(at, filepath.FromSlash(name)), true
		})
		os.Remove(p)
		if err != nil {
			return fmt.Errorf("workspace layer of job %s: %w", l.JobName, err)
		}
		total += n
	}
	_, err = fmt.Fprintf(out, "Applied %d layers, %d files.\n", len(res.Layers), total)
	return err
}
