package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/kv"
)

// Prefix is where the audit files live in the blob store (the seed's path).
const Prefix = "audit-logs/audit_log/v1/"

// Outbox key layout in the kv port:
//
//	AUDIT#OUTBOX   <hour>#<event id>   an event not yet in its hour's file
//	AUDIT#OUTBOX   LOCK                the flush lock (expires by itself)
const (
	outboxPK = "AUDIT#OUTBOX"
	lockSK   = "LOCK"
)

// hourFormat names an hour: in outbox keys and in file names.
const hourFormat = "2006-01-02T15:00:00Z"

// FileKey is the blob key of the file holding the events of the hour t
// falls in, e.g. audit-logs/audit_log/v1/2026-12-02T11:00:00Z.json. Names
// start with the hour, so a listing is in time order.
func FileKey(t time.Time) string { return Prefix + t.UTC().Format(hourFormat) + ".json" }

// ActorFunc returns the signed-in caller of a request context, if any.
type ActorFunc func(ctx context.Context) (Entity, bool)

// Config configures a Recorder.
type Config struct {
	// KV keeps the outbox. Required.
	KV kv.Store
	// Blobs keeps the hourly files. Required.
	Blobs blob.Store
	// ActorFrom names the caller of a request context (the accounts
	// middleware's user). Nil, or false from it: Anonymous for events with
	// a Request, System for the others.
	ActorFrom ActorFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives flush errors; nil discards.
	Logger *slog.Logger
}

// Recorder records events. Safe for concurrent use.
type Recorder struct {
	cfg Config
}

// New returns a Recorder.
func New(cfg Config) (*Recorder, error) {
	if cfg.KV == nil || cfg.Blobs == nil {
		return nil, errors.New("audit: Config.KV and Config.Blobs are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{cfg: cfg}, nil
}

type requestKey struct{}

// WithRequest returns ctx carrying the external request that events
// recorded under it belong to (the API sets it for each request).
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request WithRequest put in ctx.
func RequestFrom(ctx context.Context) (Request, bool) {
	r, ok := ctx.Value(requestKey{}).(Request)
	return r, ok
}

// ID derives a stable event id from the parts that identify one
// occurrence (e.g. action, job id, attempt, status), so every replay of
// that occurrence carries the same id.
func ID(parts ...string) string {
	b, _ := json.Marshal(parts)
	return uuid.NewSHA1(uuid.NameSpaceURL, append([]byte("orbit-audit:"), b...)).String()
}

// Record completes e (id, version, occurred_at, actor and request from
// ctx) and writes it to the outbox, where the next Flush finds it. It only
// writes the kv store, so a failing blob store does not lose it. An event
// whose id is already waiting in the outbox is not written twice.
func (r *Recorder) Record(ctx context.Context, e Event) error {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	e.Version = Version
	if e.OccurredAt.IsZero() {
		e.OccurredAt = r.cfg.Now()
	}
	e.OccurredAt = e.OccurredAt.UTC()
	if req, ok := RequestFrom(ctx); ok && e.Request == (Request{}) {
		e.Request = req
	}
	if e.Actor == (Entity{}) {
		e.Actor = r.actor(ctx, e.Request)
	}
	if err := e.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	it := kv.Item{PK: outboxPK, SK: outboxSK(e), Data: data}
	if _, err := r.cfg.KV.Put(ctx, it, kv.Condition{IfNotExists: true}); err != nil && !errors.Is(err, kv.ErrConflict) {
		return fmt.Errorf("record audit event %s: %w", e.Action, err)
	}
	return nil
}

func (r *Recorder) actor(ctx context.Context, req Request) Entity {
	if r.cfg.ActorFrom != nil {
		if a, ok := r.cfg.ActorFrom(ctx); ok {
			return a
		}
	}
	if req.ID != "" {
		return Anonymous
	}
	return System
}

// Must logs instead of returning: for callers (status transitions, API
// handlers after their write) whose own result must not depend on the
// audit log. The error is still worth an ERROR line: an unrecorded event.
func (r *Recorder) Must(ctx context.Context, e Event) {
	if r == nil {
		return
	}
	if err := r.Record(ctx, e); err != nil {
		r.cfg.Logger.ErrorContext(ctx, "audit event not recorded", "action", e.Action, "target", e.Target.ID, "error", err)
	}
}

func outboxSK(e Event) string { return e.OccurredAt.Format(hourFormat) + "#" + e.ID }
