package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/taskfiles"
)

// JobFiles reads what jobs stored; *taskfiles.Service satisfies it.
type JobFiles interface {
	Artifacts(ctx context.Context, slug string, jobNumber int64) ([]taskfiles.Artifact, error)
	OpenArtifact(ctx context.Context, slug string, jobNumber int64, node int, path string) (io.ReadCloser, blob.Info, error)
	TestsPage(ctx context.Context, slug string, jobNumber int64, attempt int, token string, limits taskfiles.TestsPageLimits) ([]junit.Test, string, error)
}

var _ JobFiles = (*taskfiles.Service)(nil)

// artifactLinker presigns an artifact's GET answering with the headers h;
// *taskfiles.Service does.
type artifactLinker interface {
	ArtifactURL(ctx context.Context, slug string, jobNumber int64, node int, path string, h blob.ResponseHeaders) (string, error)
}

var _ artifactLinker = (*taskfiles.Service)(nil)

// artifactJSON is one item of CircleCI's artifact list.
type artifactJSON struct {
	Path      string `json:"path"`
	NodeIndex int    `json:"node_index"`
	URL       string `json:"url"`
}

// routeJobFiles adds the artifact and test routes:
//
//	GET /api/v2/project/{slug}/{number}/artifacts               {items: [{path, node_index, url}]}
//	GET /api/v2/project/{slug}/{number}/tests                   {items: [{message, source, run_time, file, result, name, classname}], next_page_token} (page-token)
//	GET /api/v2/project/{slug}/{number}/artifacts/{node}/{path} the artifact (Orbit: where url points)
//
// CircleCI's routes put the job number right after the slug, which
// collides with /pipeline/{number} and /job/{number} in ServeMux's eyes;
// one route takes {number}/{resource} and dispatches.
func (s *server) routeJobFiles(mux *http.ServeMux, project string) {
	s.route(mux, "GET "+project+"/{number}/{resource}", onProject(accounts.Read, BySlug), s.api(func(w http.ResponseWriter, r *http.Request) error {
		switch r.PathValue("resource") {
		case "artifacts":
			return s.listArtifacts(w, r)
		case "tests":
			return s.listTests(w, r)
		}
		return errRouteNotFound
	}))
	s.route(mux, "GET "+project+"/{number}/artifacts/{node}/{path...}", onProject(accounts.Read, BySlug), s.api(s.getArtifact))
}

// filesJob loads the job of a /project/{slug}/{number}/… route.
func (s *server) filesJob(r *http.Request) (store.Job, error) {
	if s.cfg.Files == nil {
		return store.Job{}, errRouteNotFound
	}
	return s.jobByNumber(r)
}

func (s *server) listArtifacts(w http.ResponseWriter, r *http.Request) error {
	j, err := s.filesJob(r)
	if err != nil {
		return err
	}
	arts, err := s.cfg.Files.Artifacts(r.Context(), j.ProjectSlug, j.Number)
	if err != nil {
		return err
	}
	base := fmt.Sprintf("%s/api/v2/project/%s/%d/artifacts/", baseURL(r), j.ProjectSlug, j.Number)
	out := listJSON[artifactJSON]{Items: make([]artifactJSON, 0, len(arts))}
	for _, a := range arts {
		out.Items = append(out.Items, artifactJSON{Path: a.Path, NodeIndex: a.NodeIndex,
			URL: base + strconv.Itoa(a.NodeIndex) + "/" + escapeSegments(a.Path)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func escapeSegments(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// getArtifact serves an artifact under the seed's content-type policy
// (taskfiles.ServedContentType): markup as text/plain, unknown types as
// downloads, never sniffed (the middleware sets nosniff), and sandboxed by
// CSP in case a browser renders it anyway.
func (s *server) getArtifact(w http.ResponseWriter, r *http.Request) error {
	j, err := s.filesJob(r)
	if err != nil {
		return err
	}
	node, err := strconv.Atoi(r.PathValue("node"))
	if err != nil || node < 0 {
		return badRequest("node index %q is not a non-negative integer", r.PathValue("node"))
	}
	p := r.PathValue("path")
	rc, info, err := s.cfg.Files.OpenArtifact(r.Context(), j.ProjectSlug, j.Number, node, p)
	if errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("artifact %s of job %d: %w", p, j.Number, store.ErrNotFound)
	} else if err != nil {
		return err
	}
	defer rc.Close()
	served := taskfiles.ServedHeaders(info.ContentType, s.unsafeArtifacts(r.Context()), p)
	// A large artifact is a redirect to its presigned URL: through the api
	// Lambda a response is capped at 6 MB. The URL makes the store answer
	// with the served type and disposition, not the uploader's type, so
	// the policy holds there too; and the bucket is another origin than
	// the API, so what it serves cannot act on the API's session.
	if l, ok := s.cfg.Files.(artifactLinker); ok && info.Size > MaxOutputResponse {
		u, err := l.ArtifactURL(r.Context(), j.ProjectSlug, j.Number, node, p, served)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "private, no-store")
		http.Redirect(w, r, u, http.StatusTemporaryRedirect)
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", served.ContentType)
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-cache")
	if served.ContentDisposition != "" {
		h.Set("Content-Disposition", served.ContentDisposition)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc) // the client went away: nothing to do
	return nil
}

// hostExecutorNotice is the UI's plain statement of what the host executor
// did not honour.
func hostExecutorNotice(e config.Executor) string {
	switch {
	case e.Type == config.ExecutorDocker && len(e.Images) > 0:
		return "Ran on the host executor: the image " + e.Images[0].Image + " was not used."
	case e.Type == config.ExecutorMachine || e.Type == config.ExecutorMacOS:
		return "Ran on the host executor: no VM pool, so the " + e.Type + " executor's VM was not used."
	}
	return ""
}
