package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/runner"
)

// listedUploads is how many uploaded files a step names before summing up.
const listedUploads = 100

// localFile is a file to upload and its name in the API.
type localFile struct {
	src, name string
	size      int64
}

// collectFiles lists the regular files at p (one file, or a directory
// walked recursively, following no links to directories), each named
// prefix + its path relative to p.
func collectFiles(p, prefix string) ([]localFile, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		name := prefix
		if name == "" {
			name = filepath.Base(p)
		}
		return []localFile{{src: p, name: name, size: info.Size()}}, nil
	}
	var out []localFile
	err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: skip
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(q) // follows links to files
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(p, q)
		if err != nil {
			return nil
		}
		out = append(out, localFile{src: q, name: path.Join(prefix, filepath.ToSlash(rel)), size: fi.Size()})
		return nil
	})
	return out, err
}

// defaultDestination is where artifacts appear when the step names no
// destination: the path as written, without a leading "/", "~/" or "./".
func defaultDestination(p string) string {
	p = filepath.ToSlash(p)
	p = strings.TrimPrefix(p, "~/")
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// contentType guesses a file's type from its extension, else its first
// bytes. The API decides what is safe to serve as such.
func contentType(p string) string {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".log", ".txt", ".out":
		return "text/plain; charset=utf-8"
	}
	if ct := mime.TypeByExtension(filepath.Ext(p)); ct != "" {
		return ct
	}
	f, err := os.Open(p)
	if err != nil {
		return "application/octet-stream"
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	return http.DetectContentType(head[:n])
}

// storeArtifacts is the store_artifacts step.
func (r *taskRun) storeArtifacts(_ int, st runner.Step, out io.Writer) error {
	if st.Path == "" {
		return errors.New("store_artifacts needs path")
	}
	src := r.expand(st.Path, r.workdir)
	dest := st.Destination
	if dest == "" {
		dest = defaultDestination(st.Path)
	}
	files, err := collectFiles(src, dest)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(files) == 0) {
		_, err := fmt.Fprintf(out, "No artifact files found at %s\n", r.displayPath(src))
		return err
	} else if err != nil {
		return fmt.Errorf("store_artifacts: %w", err)
	}
	var total int64
	for start := 0; start < len(files); start += runner.MaxArtifactsPerRequest {
		batch := files[start:min(start+runner.MaxArtifactsPerRequest, len(files))]
		req := runner.ArtifactsRequest{Files: make([]runner.ArtifactFile, len(batch))}
		for k, f := range batch {
			req.Files[k] = runner.ArtifactFile{Path: f.name, ContentType: contentType(f.src), Size: f.size}
		}
		res, err := r.files.StoreArtifacts(r.ctx, req)
		if err != nil {
			return fmt.Errorf("store_artifacts: %w", err)
		}
		if len(res.Uploads) != len(batch) {
			return fmt.Errorf("store_artifacts: the API answered %d uploads for %d files", len(res.Uploads), len(batch))
		}
		for k, f := range batch {
			if start+k < listedUploads {
				fmt.Fprintf(out, "Uploading %s to %s\n", r.displayPath(f.src), f.name)
			}
			n, err := r.upload(res.Uploads[k], f.src)
			if err != nil {
				return err
			}
			total += n
		}
	}
	if len(files) > listedUploads {
		fmt.Fprintf(out, "... and %d more files\n", len(files)-listedUploads)
	}
	_, err = fmt.Fprintf(out, "Uploaded %d artifacts (%s)\n", len(files), humanSize(total))
	return err
}

// storeTestResults is the store_test_results step: JUnit XML files at path
// (one file, or *.xml below a directory) parsed and sent as tests.
func (r *taskRun) storeTestResults(i int, st runner.Step, out io.Writer) error {
	if st.Path == "" {
		return errors.New("store_test_results needs path")
	}
	src := r.expand(st.Path, r.workdir)
	files, err := collectFiles(src, "")
	if errors.Is(err, os.ErrNotExist) {
		_, err := fmt.Fprintf(out, "No test results found at %s\n", r.displayPath(src))
		return err
	} else if err != nil {
		return fmt.Errorf("store_test_results: %w", err)
	}
	var tests []junit.Test
	found := 0
	for _, f := range files {
		if len(files) > 1 && !strings.EqualFold(filepath.Ext(f.src), ".xml") {
			continue
		}
		found++
		parsed, err := parseReport(f.src)
		if err != nil {
			fmt.Fprintf(out, "Warning: skipping %s: %v\n", r.displayPath(f.src), err)
			continue
		}
		source := "unknown"
		if dir, _, ok := strings.Cut(f.name, "/"); ok {
			source = dir
		}
		for k := range parsed {
			// Test output often echoes configuration: mask it as step output is.
			t := &parsed[k]
			t.Source = source
			t.Name, t.Classname, t.Message = r.mask.text(t.Name), r.mask.text(t.Classname), r.mask.text(t.Message)
		}
		tests = append(tests, parsed...)
	}
	if found == 0 {
		_, err := fmt.Fprintf(out, "No test result files (*.xml) found at %s\n", r.displayPath(src))
		return err
	}
	warn := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }
	if err := r.sendTests(i, tests, warn); err != nil {
		return fmt.Errorf("store_test_results: %w", err)
	}
	failed, skipped := 0, 0
	for _, t := range tests {
		switch t.Result {
		case junit.ResultFailure:
			failed++
		case junit.ResultSkipped:
			skipped++
		}
	}
	_, err = fmt.Fprintf(out, "Found %d test result files: %d tests, %d failed, %d skipped\n", found, len(tests), failed, skipped)
	return err
}

func parseReport(p string) ([]junit.Test, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return junit.Parse(f)
}
