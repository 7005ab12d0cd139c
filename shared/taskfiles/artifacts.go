package taskfiles

import (
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/runner"
)

// maxArtifactPath bounds an artifact's path.
const maxArtifactPath = 800

func artifactsPrefix(slug string, jobNumber int64) string {
	return "projects/" + slug + "/jobs/" + strconv.FormatInt(jobNumber, 10) + "/artifacts/"
}

// CleanArtifactPath checks an artifact path and returns its clean form: a
// relative slash-separated path without "." or ".." segments.
func CleanArtifactPath(p string) (string, error) {
	if strings.ContainsAny(p, "\\\x00") {
		return "", badRequest("artifact path %q contains a backslash or NUL", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", badRequest("artifact path %q leaves its destination (..)", p)
		}
	}
	c := strings.TrimPrefix(path.Clean("/"+p), "/")
	if c == "" {
		return "", badRequest("artifact path is empty")
	}
	if len(c) > maxArtifactPath {
		return "", badRequest("artifact path %q is longer than %d bytes", c, maxArtifactPath)
	}
	return c, nil
}

// StoreArtifacts implements runner.Files: one upload URL per file. An
// artifact stored again under the same path replaces the first.
func (s *Service) StoreArtifacts(ctx context.Context, taskID string, r runner.ArtifactsRequest) (runner.ArtifactsUpload, error) {
	out := runner.ArtifactsUpload{Uploads: make([]runner.Upload, 0, len(r.Files))}
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return out, err
	}
	prefix := artifactsPrefix(tc.ProjectSlug, tc.JobNumber) + strconv.Itoa(tc.Index) + "/"
	for _, f := range r.Files {
		p, err := CleanArtifactPath(f.Path)
		if err != nil {
			return out, err
		}
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		u, err := s.uploadFor(ctx, prefix+p, ct)
		if err != nil {
			return out, err
		}
		out.Uploads = append(out.Uploads, u)
	}
	return out, nil
}

// Artifact is one stored artifact.
type Artifact struct {
	// Path is its path in the artifacts API.
	Path string
	// NodeIndex is the parallel task that stored it.
	NodeIndex int
	Size      int64
}

// Artifacts lists a job's artifacts by node, then path.
func (s *Service) Artifacts(ctx context.Context, slug string, jobNumber int64) ([]Artifact, error) {
	prefix := artifactsPrefix(slug, jobNumber)
	objs, err := s.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]Artifact, 0, len(objs))
	for _, o := range objs {
		node, p, ok := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/")
		n, err := strconv.Atoi(node)
		if !ok || err != nil {
			continue
		}
		out = append(out, Artifact{Path: p, NodeIndex: n, Size: o.Size})
	}
	return out, nil
}

// OpenArtifact opens one artifact; a missing one is blob.ErrNotFound. The
// caller closes the reader and decides how to serve the stored content
// type (ServedContentType).
func (s *Service) OpenArtifact(ctx context.Context, slug string, jobNumber int64, node int, p string) (io.ReadCloser, blob.Info, error) {
	c, err := CleanArtifactPath(p)
	if err != nil {
		return nil, blob.Info{}, fmt.Errorf("%w: %v", blob.ErrNotFound, err)
	}
	return s.cfg.Blobs.Get(ctx, artifactsPrefix(slug, jobNumber)+strconv.Itoa(node)+"/"+c, nil)
}

// ArtifactURL is a presigned GET of one artifact, valid for the service's
// URL lifetime, whose answer carries the headers h (ServedHeaders) instead
// of the stored type: the API answers a large artifact with a redirect
// there, so its bytes never pass through the api Lambda (6 MB response
// limit), and the store serves them under the same content-type policy as
// the API.
func (s *Service) ArtifactURL(ctx context.Context, slug string, jobNumber int64, node int, p string, h blob.ResponseHeaders) (string, error) {
	c, err := CleanArtifactPath(p)
	if err != nil {
		return "", fmt.Errorf("%w: %v", blob.ErrNotFound, err)
	}
	return s.cfg.Blobs.PresignGetWith(ctx, artifactsPrefix(slug, jobNumber)+strconv.Itoa(node)+"/"+c, s.cfg.URLTTL, h)
}
