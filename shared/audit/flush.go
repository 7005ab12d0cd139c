package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/kv"
)

// lockTTL bounds how long a crashed flusher holds the lock.
const lockTTL = 2 * time.Minute

// FlushStats says what a Flush did.
type FlushStats struct {
	// Events is how many outbox events went into files.
	Events int
	// Files is how many hourly files were written.
	Files int
}

// Flush moves the outbox's events into their hourly files. Call it often
// (the cron function does once a minute; `orbit up` on a ticker): each call
// does what is pending and returns. Two flushers at once are safe: one
// takes the lock, the other returns at once with nothing done. A failed
// blob write returns its error and leaves the events in the outbox for the
// next call.
func (r *Recorder) Flush(ctx context.Context) (FlushStats, error) {
	var st FlushStats
	lock, ok, err := r.lock(ctx)
	if err != nil || !ok {
		return st, err
	}
	defer r.cfg.KV.Delete(context.WithoutCancel(ctx), outboxPK, lockSK, kv.Condition{IfVersion: lock.Version}) //nolint:errcheck // it expires anyway

	byHour, err := r.pending(ctx)
	if err != nil {
		return st, err
	}
	hours := make([]string, 0, len(byHour))
	for h := range byHour {
		hours = append(hours, h)
	}
	sort.Strings(hours)
	var errs []error
	for _, h := range hours {
		items := byHour[h]
		if err := r.writeHour(ctx, h, items); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, it := range items {
			if err := r.cfg.KV.Delete(ctx, outboxPK, it.SK, kv.Condition{}); err != nil {
				// Written but still pending: the next flush merges it again, by id.
				errs = append(errs, fmt.Errorf("audit outbox: delete %s: %w", it.SK, err))
			}
		}
		st.Events += len(items)
		st.Files++
	}
	return st, errors.Join(errs...)
}

func (r *Recorder) lock(ctx context.Context) (kv.Item, bool, error) {
	it, err := r.cfg.KV.Put(ctx, kv.Item{PK: outboxPK, SK: lockSK, Data: []byte("{}"),
		ExpiresAt: r.cfg.Now().Add(lockTTL)}, kv.Condition{IfNotExists: true})
	if errors.Is(err, kv.ErrConflict) {
		return it, false, nil
	}
	if err != nil {
		return it, false, fmt.Errorf("audit flush lock: %w", err)
	}
	return it, true, nil
}

// pending returns the outbox's events by hour.
func (r *Recorder) pending(ctx context.Context) (map[string][]kv.Item, error) {
	out := map[string][]kv.Item{}
	q := kv.Query{PK: outboxPK, Limit: 1000}
	for {
		page, err := r.cfg.KV.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("audit outbox: %w", err)
		}
		for _, it := range page.Items {
			if it.SK == lockSK {
				continue
			}
			h, _, _ := strings.Cut(it.SK, "#")
			out[h] = append(out[h], it)
		}
		if page.Cursor == "" {
			return out, nil
		}
		q.Cursor = page.Cursor
	}
}

// writeHour merges items into the hour's file.
func (r *Recorder) writeHour(ctx context.Context, hour string, items []kv.Item) error {
	t, err := time.Parse(hourFormat, hour)
	if err != nil {
		return fmt.Errorf("audit outbox: bad hour %q: %w", hour, err)
	}
	key := FileKey(t)
	events, err := r.readFile(ctx, key)
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	for _, it := range items {
		var e Event
		if err := json.Unmarshal(it.Data, &e); err != nil {
			return fmt.Errorf("audit outbox %s: %w", it.SK, err)
		}
		events = append(events, e)
	}
	var buf bytes.Buffer
	if err := WriteLines(&buf, dedupe(events)); err != nil {
		return err
	}
	if err := r.cfg.Blobs.Put(ctx, key, &buf, blob.PutOptions{ContentType: "application/x-ndjson"}); err != nil {
		return fmt.Errorf("audit: write %s: %w", key, err)
	}
	return nil
}

// WriteLines writes events as a file holds them: one JSON object a line,
// so `grep workflow.job.start` (the seed's recipe) finds each event.
func WriteLines(w io.Writer, events []Event) error {
	enc := json.NewEncoder(w)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

// ReadLines parses a file's content.
func ReadLines(rd io.Reader, name string) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func (r *Recorder) readFile(ctx context.Context, key string) ([]Event, error) {
	rc, _, err := r.cfg.Blobs.Get(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return ReadLines(rc, key)
}

// dedupe keeps the first event of each id, in occurred_at order.
func dedupe(events []Event) []Event {
	seen := map[string]bool{}
	out := events[:0]
	for _, e := range events {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].OccurredAt.Before(out[j].OccurredAt) })
	return out
}

// Events returns the events that occurred in [from, to) (a zero bound is
// open), files and outbox together, each id once, oldest first: what the
// admin export downloads.
func (r *Recorder) Events(ctx context.Context, from, to time.Time) ([]Event, error) {
	var all []Event
	startAfter := ""
	if !from.IsZero() {
		startAfter = FileKey(from.Add(-time.Hour))
	}
	for {
		page, err := r.cfg.Blobs.List(ctx, Prefix, startAfter, 1000)
		if err != nil {
			return nil, fmt.Errorf("audit: list files: %w", err)
		}
		for _, o := range page.Objects {
			startAfter = o.Key
			if !to.IsZero() && o.Key >= FileKey(to.Add(time.Hour)) {
				page.Truncated = false
				break
			}
			evs, err := r.readFile(ctx, o.Key)
			if err != nil {
				return nil, err
			}
			all = append(all, evs...)
		}
		if !page.Truncated {
			break
		}
	}
	byHour, err := r.pending(ctx)
	if err != nil {
		return nil, err
	}
	for _, items := range byHour {
		for _, it := range items {
			var e Event
			if err := json.Unmarshal(it.Data, &e); err != nil {
				return nil, fmt.Errorf("audit outbox %s: %w", it.SK, err)
			}
			all = append(all, e)
		}
	}
	out := all[:0]
	for _, e := range all {
		if (from.IsZero() || !e.OccurredAt.Before(from)) && (to.IsZero() || e.OccurredAt.Before(to)) {
			out = append(out, e)
		}
	}
	return dedupe(out), nil
}
