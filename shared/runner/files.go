package runner

import (
	"context"
	"errors"
	"io"
	"net/url"
	"time"

	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/plan"
)

// Files routes: caches, workspaces, artifacts and test results. They are
// served when the handler is built WithFiles (otherwise they answer 501).
// Object bytes never pass through these routes: the agent gets presigned
// URLs, GETs downloads and PUTs uploads there without its token, so it
// never holds storage credentials. Every route is idempotent for the same
// step (object keys derive from the task and the step index).
//
//	POST /task/caches/restore      CacheRestoreRequest → CacheRestore
//	                               keys in order; each matches the newest cache
//	                               whose key starts with it
//	POST /task/caches/save         CacheSaveRequest → CacheSave: Exists (keys are
//	                               immutable: the agent skips) or an Upload
//	                               (PUT a tar.gz there), then
//	POST /task/caches/commit       CacheCommit → 204; 409 when another task
//	                               committed the key first (the agent skips)
//	POST /task/workspace/persist   WorkspacePersist → Upload (PUT a tar.gz), then
//	POST /task/workspace/commit    WorkspaceCommit → 204
//	GET  /task/workspace           → WorkspaceLayers: the layers of the jobs this
//	                               job (transitively) requires, oldest first
//	POST /task/artifacts           ArtifactsRequest → ArtifactsUpload (one Upload
//	                               per file, same order); PUT each file
//	POST /task/steps/{n}/tests?seq=K   TestBatch → 204; batch K of step n's
//	                               parsed JUnit results (at most MaxTestBatch
//	                               tests, MaxTestBatchBytes of JSON); the same
//	                               seq again replaces it (retries are harmless)
//	GET  /task/timings             → Timings of the last run of this job on the
//	                               branch (else the default branch), for
//	                               `circleci tests split --split-by=timings`
//	PUT  /uploads/{key}?expires&ct&sig   the object (no Authorization: the URL is
//	                               signed) → 204; 403 for a bad or expired signature
//
// Archives (caches, workspace layers) are tar+gzip; SHA256 is the hex
// SHA-256 of the archive bytes, which the agent checks after download so a
// corrupt cache is detected and reported instead of half-extracted.

// Step types of the files routes and the other built-in steps: the plan's.
const (
	StepSaveCache          = plan.StepSaveCache
	StepRestoreCache       = plan.StepRestoreCache
	StepPersistToWorkspace = plan.StepPersistToWorkspace
	StepAttachWorkspace    = plan.StepAttachWorkspace
	StepStoreArtifacts     = plan.StepStoreArtifacts
	StepStoreTestResults   = plan.StepStoreTestResults
	StepAddSSHKeys         = plan.StepAddSSHKeys
	StepSetupRemoteDocker  = plan.StepSetupRemoteDocker
)

// Errors of the files routes.
var (
	// ErrConflict: the cache key was committed by another task (409).
	ErrConflict = errors.New("runner: conflict")
	// ErrForbidden: an upload URL's signature is wrong or expired (403).
	ErrForbidden = errors.New("runner: forbidden")
	// ErrNotImplemented: this API serves no files routes (501).
	ErrNotImplemented = errors.New("runner: not implemented by this server")
)

// Files is the backend of the files routes. taskID comes from the verified
// token. Every method is idempotent.
type Files interface {
	RestoreCache(ctx context.Context, taskID string, r CacheRestoreRequest) (CacheRestore, error)
	SaveCache(ctx context.Context, taskID string, r CacheSaveRequest) (CacheSave, error)
	CommitCache(ctx context.Context, taskID string, r CacheCommit) error
	PersistWorkspace(ctx context.Context, taskID string, r WorkspacePersist) (Upload, error)
	CommitWorkspace(ctx context.Context, taskID string, r WorkspaceCommit) error
	AttachWorkspace(ctx context.Context, taskID string) (WorkspaceLayers, error)
	StoreArtifacts(ctx context.Context, taskID string, r ArtifactsRequest) (ArtifactsUpload, error)
	StoreTests(ctx context.Context, taskID string, step, seq int, b TestBatch) error
	Timings(ctx context.Context, taskID string) (Timings, error)
	// Upload stores the body of PUT /uploads/{key} after checking the
	// signature in query (ErrForbidden when it is wrong or expired).
	Upload(ctx context.Context, key string, query url.Values, body io.Reader) error
}

// Upload is where the agent PUTs one object.
type Upload struct {
	// URL takes a PUT of the object; it carries its own authorization.
	URL string `json:"url"`
	// ContentType is the Content-Type header to send.
	ContentType string `json:"content_type"`
}

// CacheRestoreRequest is the body of POST /task/caches/restore.
type CacheRestoreRequest struct {
	// Keys are rendered keys (or key prefixes), tried in order.
	Keys []string `json:"keys"`
}

// CacheEntry is one saved cache.
type CacheEntry struct {
	// Key is the cache's full key.
	Key string `json:"key"`
	// URL is a presigned GET of the archive.
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// CreatedAt is when the cache was saved.
	CreatedAt time.Time `json:"created_at"`
}

// CacheRestore answers a restore: for each requested key in order that
// matched something, its newest match (a cache is listed once). The agent
// restores the first and falls back to the next if it is corrupt.
type CacheRestore struct {
	Matches []CacheEntry `json:"matches"`
}

// CacheSaveRequest is the body of POST /task/caches/save.
type CacheSaveRequest struct {
	// Step is the save_cache step's index.
	Step int `json:"step"`
	// Key is the rendered key.
	Key string `json:"key"`
}

// CacheSave answers a save: Exists, or where to upload the archive.
type CacheSave struct {
	Exists bool    `json:"exists"`
	Upload *Upload `json:"upload,omitempty"`
}

// CacheCommit is the body of POST /task/caches/commit, after the upload.
type CacheCommit struct {
	Step   int    `json:"step"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// WorkspacePersist is the body of POST /task/workspace/persist.
type WorkspacePersist struct {
	Step int `json:"step"`
}

// WorkspaceCommit is the body of POST /task/workspace/commit.
type WorkspaceCommit struct {
	Step   int    `json:"step"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Files counts the archive's entries.
	Files int `json:"files"`
}

// WorkspaceLayer is one persisted layer.
type WorkspaceLayer struct {
	// JobName persisted it.
	JobName string `json:"job_name"`
	// URL is a presigned GET of the archive.
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// WorkspaceLayers are the layers to apply, in order (later files win).
type WorkspaceLayers struct {
	Layers []WorkspaceLayer `json:"layers"`
}

// ArtifactFile is one file to store.
type ArtifactFile struct {
	// Path is where the file appears in the artifacts API (destination +
	// relative path), slash-separated.
	Path        string `json:"path"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// ArtifactsRequest is the body of POST /task/artifacts (at most
// MaxArtifactsPerRequest files).
type ArtifactsRequest struct {
	Files []ArtifactFile `json:"files"`
}

// MaxArtifactsPerRequest bounds ArtifactsRequest.Files.
const MaxArtifactsPerRequest = 500

// ArtifactsUpload has one Upload per requested file, in order.
type ArtifactsUpload struct {
	Uploads []Upload `json:"uploads"`
}

// TestBatch is the body of POST /task/steps/{n}/tests: parsed tests.
type TestBatch struct {
	Tests []junit.Test `json:"tests"`
}

// MaxTestBatch bounds the tests of one TestBatch.
const MaxTestBatch = 5000

// MaxTestBatchBytes bounds the JSON body of one TestBatch, in both shapes:
// in AWS the runner API is the api Lambda, whose request event is capped at
// 6 MB and may carry the body base64-encoded (4/3 of it) with the
// headers, so 3 MiB of JSON (4 MiB encoded) always passes. Agents split
// their results into batches under both bounds.
const MaxTestBatchBytes = 3 << 20

// Timings are the run times, in seconds, of the tests of one earlier run of
// the job, summed by file, by class name and by test name.
type Timings struct {
	// JobNumber is the run they come from (0: none was found).
	JobNumber int64 `json:"job_number"`
	// Branch is that run's branch.
	Branch     string             `json:"branch,omitempty"`
	Files      map[string]float64 `json:"files"`
	Classnames map[string]float64 `json:"classnames"`
	Tests      map[string]float64 `json:"tests"`
}
