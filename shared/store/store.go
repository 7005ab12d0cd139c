// Package store keeps Orbit's records (projects, pipelines, workflows, jobs,
// tasks, steps and step output) in the kv port, one JSON document per item,
// and makes every status change a conditional write: Update reads an item,
// applies a function and writes it back only if nobody wrote it in between
// (optimistic concurrency on the item's version), retrying on conflict. The
// function sees the current record, so a late or duplicated event that finds
// the record already past it returns ErrStale and changes nothing.
//
// Key layout (single table, see DESIGN.md):
//
//	PROJECT#<slug>      META                      project (GSI1: PROJECTS / slug)
//	PROJECT#<slug>      COUNTERS                  pipeline and job numbers (kv counters)
//	PROJECT#<slug>      JOBNUM#<n>                pointer: job number → job
//	PROJECT#<slug>      SCHEDULE#<key>            a schedule's last evaluated minute
//	PIPELINE#<id>       META                      pipeline (GSI1: PROJECT#<slug>#PIPELINES / <number>)
//	PIPELINE#<id>       CONFIG                    config source and compiled plan
//	WORKFLOW#<id>       META                      workflow (GSI1: PIPELINE#<id>#WORKFLOWS / <created>#<id>)
//	WORKFLOW#<id>       JOB#<name>                job (one partition: read with the workflow, strongly)
//	JOB#<id>            META                      pointer: job id → workflow and name
//	JOB#<id>            WAITING                   why the queued job waits (waiting.go)
//	TASK#<id>           META                      task (one parallel node of one attempt)
//	TASK#<id>           STEP#<n>                  step
//	TASK#<id>           OUT#<n>#<seq>             step output chunk
//	PROJECT#<slug>      ENVVAR#<name>             sealed project variable (secret.go)
//	PROJECT#<slug>      SSHKEY#<kind>#<fp>        checkout or additional SSH key, sealed
//	CONTEXT#<id>        META                      context (GSI1: CONTEXTS#<owner> / <name>)
//	CONTEXT#<id>        ENVVAR#<name>             sealed context variable
//	OWNER#<owner>       CONTEXTNAME#<name>        context by name, unique per owner
//
// Unfinished workflows, jobs and tasks are also in GSI2, under
// UNFINISHED#<kind>#<status> (unfinished.go).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Errors callers branch on.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a record with the same identity already exists.
	ErrExists = errors.New("already exists")
	// ErrStale: an update function found the record past the state it
	// expected; nothing was written.
	ErrStale = errors.New("stale update")
)

// maxRetries bounds the compare-and-set loop of Update under contention.
const maxRetries = 50

// Store reads and writes records.
type Store struct {
	kv        kv.Store
	now       func() time.Time
	observers []Observer // observe.go
}

// New returns a Store on kv. now may be nil (time.Now).
func New(db kv.Store, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{kv: db, now: now}
}

// Now is the store's clock, for callers that stamp records.
func (s *Store) Now() time.Time { return s.now().UTC() }

func (s *Store) get(ctx context.Context, pk, sk string, v any) (int64, error) {
	it, err := s.kv.Get(ctx, pk, sk)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(it.Data, v); err != nil {
		return 0, fmt.Errorf("decode %s/%s: %w", pk, sk, err)
	}
	return it.Version, nil
}

func item(pk, sk string, v any) (kv.Item, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return kv.Item{}, fmt.Errorf("encode %s/%s: %w", pk, sk, err)
	}
	return kv.Item{PK: pk, SK: sk, Data: b}, nil
}

func (s *Store) create(ctx context.Context, it kv.Item) error {
	_, err := s.kv.Put(ctx, it, kv.Condition{IfNotExists: true})
	if errors.Is(err, kv.ErrConflict) {
		return ErrExists
	}
	return err
}

// update is the compare-and-set loop behind every Update method: read the
// record, let fn change it (or refuse with an error), write it back if the
// version is unchanged; on conflict start again.
func update[T any](ctx context.Context, s *Store, pk, sk string, index func(*T, *kv.Item), fn func(*T) error) (T, error) {
	var zero T
	for range maxRetries {
		var rec T
		ver, err := s.get(ctx, pk, sk, &rec)
		if err != nil {
			return zero, err
		}
		if err := fn(&rec); err != nil {
			return rec, err
		}
		it, err := item(pk, sk, &rec)
		if err != nil {
			return zero, err
		}
		if index != nil {
			index(&rec, &it)
		}
		_, err = s.kv.Put(ctx, it, kv.Condition{IfVersion: ver})
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return zero, err
		}
		return rec, nil
	}
	return zero, fmt.Errorf("update %s/%s: too much contention", pk, sk)
}

// queryPage returns one page of q's records and the cursor of the next.
func queryPage[T any](ctx context.Context, s *Store, q kv.Query) ([]T, string, error) {
	page, err := s.kv.Query(ctx, q)
	if err != nil {
		return nil, "", err
	}
	out := make([]T, 0, len(page.Items))
	for _, it := range page.Items {
		var v T
		if err := json.Unmarshal(it.Data, &v); err != nil {
			return nil, "", fmt.Errorf("decode %s/%s: %w", it.PK, it.SK, err)
		}
		out = append(out, v)
	}
	return out, page.Cursor, nil
}

func queryAll[T any](ctx context.Context, s *Store, q kv.Query) ([]T, error) {
	return kv.All[T](ctx, s.kv, q)
}
