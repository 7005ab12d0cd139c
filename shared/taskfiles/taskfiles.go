// Package taskfiles keeps what build agents store besides step output:
// caches, workspace layers, artifacts and test results. It is the backend
// of the runner API's files routes (runner.Files) and what the REST API
// reads artifacts and tests from. Everything lives in the blob port; the
// agent never holds storage credentials: it gets presigned GET URLs from
// the blob store and signed PUT URLs for uploads (served by the runner API
// at /uploads, or the store's own presigned PUTs when it offers them).
//
// Blob layout:
//
//	projects/<slug>/caches/<escaped key>/manifest.json           a saved cache (written last)
//	projects/<slug>/caches/<escaped key>/<task>-<step>.tar.gz     its archive
//	workflows/<workflow>/workspace/<task>-<step>.json             a workspace layer (written last)
//	workflows/<workflow>/workspace/<task>-<step>.tar.gz           its archive
//	projects/<slug>/jobs/<number>/artifacts/<node>/<path>         an artifact
//	projects/<slug>/jobs/<number>/tests/<attempt>/<node>/<step>-<seq>.json   test results
//	projects/<slug>/timings/<escaped branch>/<escaped job>.json   the job's last runs with tests
//
// Escaped names use cachekey.Escape, which keeps prefixes: restore_cache
// matches keys by prefix through a prefix listing of the blob store.
//
// Workspace layers stay under the workflow that persisted them: a rerun
// copies none, and its jobs attach the layers of the jobs it kept from the
// workflow that ran them (store.Job.ResultOf, resolved by Upstream).
package taskfiles

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/runner"
)

// TaskContext is what the service needs to know about a task.
type TaskContext struct {
	TaskID      string
	ProjectSlug string
	JobNumber   int64
	JobName     string
	Attempt     int
	Index       int
	WorkflowID  string
	// Branch is the pipeline's branch ("" for a tag); DefaultBranch the
	// project's.
	Branch, DefaultBranch string
	// Upstream maps the jobs this job requires, directly or not, to the
	// attempt whose workspace layers attach_workspace applies: the job's
	// current attempt, or, for a job whose result a rerun kept, the attempt
	// that produced the result.
	Upstream map[string]int
	// UpstreamWorkflows maps the upstream jobs whose layers live in another
	// workflow than WorkflowID (jobs a rerun kept: their layers stay in the
	// workflow that ran them) to that workflow. Jobs not in it persisted in
	// WorkflowID.
	UpstreamWorkflows map[string]string
}

// Tasks resolves the task of a runner token. It returns an error matching
// runner.ErrTaskTerminal when the task is over.
type Tasks interface {
	TaskContext(ctx context.Context, taskID string) (TaskContext, error)
}

// PutPresigner is implemented by blob stores that can presign uploads (S3);
// the service then hands those URLs out instead of its own. PresignPut
// returns a URL that takes PUTs of key's whole content, sent with the header
// "Content-Type: contentType" (S3 signs it and refuses any other), until ttl
// from now; it contacts nothing.
type PutPresigner interface {
	PresignPut(ctx context.Context, key string, ttl time.Duration, contentType string) (string, error)
}

// Config configures a Service.
type Config struct {
	// Blobs stores everything. Required.
	Blobs blob.Store
	// Tasks resolves tasks. Required.
	Tasks Tasks
	// UploadURL is where the runner API serves PUT /uploads, as agents
	// reach it, e.g. "http://127.0.0.1:8080/runner/v1/uploads". Required
	// unless Blobs is a PutPresigner.
	UploadURL string
	// Secret signs upload URLs (at least 32 bytes). Required with UploadURL.
	Secret []byte
	// URLTTL is how long handed-out URLs stay valid (default 2 h: a large
	// cache takes a while).
	URLTTL time.Duration
	// MaxUpload bounds one uploaded object (default 10 GiB).
	MaxUpload int64
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives warnings (default: discarded).
	Logger *slog.Logger
}

// Service implements runner.Files and reads artifacts and tests for the API.
type Service struct {
	cfg Config
	log *slog.Logger
}

var _ runner.Files = (*Service)(nil)

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Blobs == nil || cfg.Tasks == nil {
		return nil, errors.New("taskfiles: Blobs and Tasks are required")
	}
	if _, ok := cfg.Blobs.(PutPresigner); !ok {
		if cfg.UploadURL == "" || len(cfg.Secret) < 32 {
			return nil, errors.New("taskfiles: UploadURL and a Secret of at least 32 bytes are required")
		}
	}
	cfg.UploadURL = strings.TrimRight(cfg.UploadURL, "/")
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = 2 * time.Hour
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 10 << 30
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: cfg.Logger}, nil
}

// badRequest wraps runner.ErrBadRequest with what was wrong.
func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", runner.ErrBadRequest, fmt.Sprintf(format, args...))
}

// uploadFor returns where the agent PUTs key.
func (s *Service) uploadFor(ctx context.Context, key, contentType string) (runner.Upload, error) {
	if p, ok := s.cfg.Blobs.(PutPresigner); ok {
		u, err := p.PresignPut(ctx, key, s.cfg.URLTTL, contentType)
		if err != nil {
			return runner.Upload{}, fmt.Errorf("presign upload of %s: %w", key, err)
		}
		return runner.Upload{URL: u, ContentType: contentType}, nil
	}
	expires := s.cfg.Now().Add(s.cfg.URLTTL).Unix()
	q := url.Values{
		"expires": {strconv.FormatInt(expires, 10)},
		"ct":      {contentType},
		"sig":     {s.sign(key, expires, contentType)},
	}
	return runner.Upload{URL: s.cfg.UploadURL + "/" + escapePath(key) + "?" + q.Encode(), ContentType: contentType}, nil
}

func (s *Service) sign(key string, expires int64, contentType string) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte(key + "|" + strconv.FormatInt(expires, 10) + "|" + contentType))
	return hex.EncodeToString(m.Sum(nil))
}

func escapePath(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// Upload implements runner.Files: it checks the signature of an upload URL
// this service handed out and stores the body.
func (s *Service) Upload(ctx context.Context, key string, q url.Values, body io.Reader) error {
	expires, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	ct := q.Get("ct")
	if err != nil || len(s.cfg.Secret) == 0 {
		return fmt.Errorf("%w: invalid upload URL", runner.ErrForbidden)
	}
	got, _ := hex.DecodeString(q.Get("sig"))
	want, _ := hex.DecodeString(s.sign(key, expires, ct))
	if !hmac.Equal(got, want) {
		return fmt.Errorf("%w: invalid upload signature", runner.ErrForbidden)
	}
	if !s.cfg.Now().Before(time.Unix(expires, 0)) {
		return fmt.Errorf("%w: upload URL expired", runner.ErrForbidden)
	}
	lr := &io.LimitedReader{R: body, N: s.cfg.MaxUpload + 1}
	if err := s.cfg.Blobs.Put(ctx, key, lr, blob.PutOptions{ContentType: ct}); err != nil {
		return fmt.Errorf("store upload %s: %w", key, err)
	}
	if lr.N <= 0 {
		_ = s.cfg.Blobs.Delete(ctx, key)
		return badRequest("upload larger than %d bytes", s.cfg.MaxUpload)
	}
	return nil
}

// putJSON stores v as a JSON object.
func (s *Service) putJSON(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if err := s.cfg.Blobs.Put(ctx, key, bytes.NewReader(b), blob.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// getJSON reads a JSON object; a missing one is blob.ErrNotFound.
func (s *Service) getJSON(ctx context.Context, key string, v any) error {
	rc, _, err := s.cfg.Blobs.Get(ctx, key, nil)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	if err := json.NewDecoder(io.LimitReader(rc, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// list returns every object under prefix.
func (s *Service) list(ctx context.Context, prefix string) ([]blob.Info, error) {
	var out []blob.Info
	after := ""
	for {
		page, err := s.cfg.Blobs.List(ctx, prefix, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		out = append(out, page.Objects...)
		if !page.Truncated || len(page.Objects) == 0 {
			return out, nil
		}
		after = page.Objects[len(page.Objects)-1].Key
	}
}

// presign returns a GET URL of key.
func (s *Service) presign(ctx context.Context, key string) (string, error) {
	u, err := s.cfg.Blobs.PresignGet(ctx, key, s.cfg.URLTTL)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return u, nil
}

// objectName is the name of a task's object for a step.
func objectName(taskID string, step int) string {
	return fmt.Sprintf("%s-%d", taskID, step)
}

func checkSHA(sum string) error {
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return badRequest("sha256 must be 64 hex digits")
	}
	return nil
}
