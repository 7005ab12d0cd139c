package usage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
)

// Usage export jobs (CircleCI's usage_export_job): an organization's job
// runs over a window, written as one CSV (WriteExport) to the blob store,
// downloaded through presigned URLs. Orbit computes an export when it is
// asked for, from its own records, so a job is completed (or failed, with
// the reason) by the time Create returns.
//
//	USAGEEXPORT#<id>   META   the job (TTL: ExportRetention)
//	blob usage-exports/<org id>/<id>.csv

// Export states, as CircleCI names them.
const (
	ExportCreated    = "created"
	ExportProcessing = "processing"
	ExportFailed     = "failed"
	ExportCompleted  = "completed"
)

// Limits of an export's window, as CircleCI documents them.
const (
	MaxExportWindow = 31 * 24 * time.Hour
	MaxExportAge    = 366 * 24 * time.Hour
)

// ExportRetention is how long an export job and its file are kept.
const ExportRetention = 30 * 24 * time.Hour

// ErrInvalidExport: the window is not acceptable (the API's 400).
var ErrInvalidExport = errors.New("invalid usage export")

// ExportJob is one export.
type ExportJob struct {
	ID    string    `json:"id"`
	Owner string    `json:"owner"`
	State string    `json:"state"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Key is the CSV's blob key (completed jobs).
	Key string `json:"key,omitempty"`
	// Rows counts the job runs in the file.
	Rows      int       `json:"rows"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Blobs is the part of the blob port exports use (blob.Store).
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader, opts blob.PutOptions) error
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// ExportsConfig configures Exports.
type ExportsConfig struct {
	// KV keeps the jobs. Required.
	KV kv.Store
	// Records are read for the rows. Required.
	Records Records
	// Blobs keep the files and sign their download URLs. Required.
	Blobs Blobs
	// URLTTL is how long a download URL works; 0 means 1h.
	URLTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives failed exports; nil discards.
	Logger *slog.Logger
}

// Exports creates and reads usage export jobs.
type Exports struct{ cfg ExportsConfig }

// NewExports returns Exports.
func NewExports(cfg ExportsConfig) (*Exports, error) {
	if cfg.KV == nil || cfg.Records == nil || cfg.Blobs == nil {
		return nil, errors.New("usage: ExportsConfig.KV, Records and Blobs are required")
	}
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Exports{cfg: cfg}, nil
}

// Create exports the usage in [start, end] of the organization owner and
// of the shared organizations (slugs; the caller checked access to each).
func (x *Exports) Create(ctx context.Context, owner string, shared []string, start, end time.Time) (ExportJob, error) {
	now := x.cfg.Now().UTC()
	switch {
	case !end.After(start):
		return ExportJob{}, fmt.Errorf("%w: end %s is not after start %s", ErrInvalidExport, end.Format(time.RFC3339), start.Format(time.RFC3339))
	case end.Sub(start) > MaxExportWindow:
		return ExportJob{}, fmt.Errorf("%w: end must be no more than 31 days after start", ErrInvalidExport)
	case start.Before(now.Add(-MaxExportAge)):
		return ExportJob{}, fmt.Errorf("%w: start must be no more than one year ago", ErrInvalidExport)
	}
	j := ExportJob{ID: uuid.NewString(), Owner: owner, State: ExportProcessing, Start: start.UTC(), End: end.UTC(), CreatedAt: now}
	if err := x.put(ctx, j, kv.Condition{IfNotExists: true}); err != nil {
		return ExportJob{}, err
	}
	var buf bytes.Buffer
	rows, err := WriteExport(ctx, x.cfg.Records, append([]string{owner}, shared...), start, end, &buf)
	if err == nil {
		j.Key = "usage-exports/" + ids.Org(owner) + "/" + j.ID + ".csv"
		err = x.cfg.Blobs.Put(ctx, j.Key, &buf, blob.PutOptions{ContentType: "text/csv"})
	}
	if err != nil {
		x.cfg.Logger.ErrorContext(ctx, "usage export failed", "usage_export_job_id", j.ID, "owner", owner, "error", err)
		j.State, j.Key, j.Error = ExportFailed, "", "the export could not be written; see the server's log for usage_export_job_id "+j.ID
	} else {
		j.State, j.Rows = ExportCompleted, rows
	}
	return j, x.put(context.WithoutCancel(ctx), j, kv.Condition{})
}

// Get returns the owner's export job (store.ErrNotFound for another
// owner's) and, when it is completed, its download URLs.
func (x *Exports) Get(ctx context.Context, owner, id string) (ExportJob, []string, error) {
	it, err := x.cfg.KV.Get(ctx, "USAGEEXPORT#"+id, "META")
	if errors.Is(err, kv.ErrNotFound) {
		return ExportJob{}, nil, fmt.Errorf("usage export job %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return ExportJob{}, nil, err
	}
	var j ExportJob
	if err := json.Unmarshal(it.Data, &j); err != nil {
		return ExportJob{}, nil, fmt.Errorf("decode usage export job %s: %w", id, err)
	}
	if j.Owner != owner {
		return ExportJob{}, nil, fmt.Errorf("usage export job %s: %w", id, store.ErrNotFound)
	}
	urls, err := x.URLs(ctx, j)
	return j, urls, err
}

// URLs are a job's download URLs (none unless it is completed).
func (x *Exports) URLs(ctx context.Context, j ExportJob) ([]string, error) {
	if j.State != ExportCompleted || j.Key == "" {
		return []string{}, nil
	}
	u, err := x.cfg.Blobs.PresignGet(ctx, j.Key, x.cfg.URLTTL)
	if err != nil {
		return nil, fmt.Errorf("presign usage export %s: %w", j.ID, err)
	}
	return []string{u}, nil
}

func (x *Exports) put(ctx context.Context, j ExportJob, cond kv.Condition) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = x.cfg.KV.Put(ctx, kv.Item{PK: "USAGEEXPORT#" + j.ID, SK: "META", Data: b, ExpiresAt: j.CreatedAt.Add(ExportRetention)}, cond)
	return err
}
