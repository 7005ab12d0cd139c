package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
	"github.com/orbit-ci/orbit/shared/blob/s3blob/s3blobtest"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/testenv"
)

func newKV(t *testing.T) *boltkv.Store {
	t.Helper()
	s, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func newDirBlob(t *testing.T) blob.Store {
	t.Helper()
	s, err := dirblob.New(dirblob.Config{Root: t.TempDir(), BaseURL: "http://127.0.0.1/blob", Secret: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	return s
}

// clock is a settable clock for the recorder.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

func TestEventJSONSchema(t *testing.T) {
	at := time.Date(2017, 12, 21, 13, 50, 54, 474_000_000, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{name: "milliseconds", at: at, want: "2017-12-21T13:50:54.474Z"},
		{name: "nine digits", at: at.Add(123_456), want: "2017-12-21T13:50:54.474123456Z"},
		{name: "whole second", at: at.Truncate(time.Second), want: "2017-12-21T13:50:54Z"},
		{name: "other zone becomes UTC", at: at.In(time.FixedZone("x", 3600)), want: "2017-12-21T13:50:54.474Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := audit.Event{ID: "27aa77e3-0255-4464-93ad-f8236533ab53", Version: 1, Action: audit.JobFinish,
				Actor: audit.System, Target: audit.ProjectEntity("gh/acme/api"), Scope: audit.AccountEntity("gh/acme/api"),
				OccurredAt: tc.at, Success: true}
			b, err := json.Marshal(e)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(b, &m))
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			assert.ElementsMatch(t, []string{"id", "version", "action", "actor", "target", "scope", "payload",
				"occurred_at", "metadata", "success", "request"}, keys)
			assert.Equal(t, tc.want, m["occurred_at"])
			assert.EqualValues(t, 1, m["version"])
			assert.Equal(t, map[string]any{"id": ""}, m["request"], "request always has id")
			assert.Equal(t, map[string]any{"id": "gh/acme", "type": "account", "name": "acme"}, m["scope"])
			var back audit.Event
			require.NoError(t, json.Unmarshal(b, &back))
			assert.True(t, tc.at.Equal(back.OccurredAt))
			assert.Equal(t, e.Action, back.Action)
		})
	}
}

func TestValidate(t *testing.T) {
	ok := audit.Event{ID: "x", Version: 1, Action: "context.create", Actor: audit.System,
		Target: audit.Entity{ID: "c", Type: "context"}, OccurredAt: time.Now()}
	tests := []struct {
		name   string
		change func(*audit.Event)
		want   string
	}{
		{name: "valid", change: func(*audit.Event) {}},
		{name: "no id", change: func(e *audit.Event) { e.ID = "" }, want: "no id"},
		{name: "version 2", change: func(e *audit.Event) { e.Version = 2 }, want: "version 2"},
		{name: "uppercase action", change: func(e *audit.Event) { e.Action = "Context.Create" }, want: "lowercase"},
		{name: "no actor type", change: func(e *audit.Event) { e.Actor.Type = "" }, want: "actor"},
		{name: "no target", change: func(e *audit.Event) { e.Target = audit.Entity{} }, want: "target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := ok
			tc.change(&e)
			err := e.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestActionsAreTheSeeds(t *testing.T) {
	assert.Len(t, audit.Actions, 23)
	for _, a := range audit.Actions {
		e := audit.Event{ID: "x", Version: 1, Action: a, Actor: audit.System, Target: audit.System, OccurredAt: time.Now()}
		assert.NoError(t, e.Validate(), a)
	}
}

func TestFileLayout(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{name: "start of hour", at: time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC), want: "audit-logs/audit_log/v1/2026-12-02T11:00:00Z.json"},
		{name: "end of hour", at: time.Date(2026, 12, 2, 11, 59, 59, 999, time.UTC), want: "audit-logs/audit_log/v1/2026-12-02T11:00:00Z.json"},
		{name: "zone", at: time.Date(2026, 12, 2, 12, 30, 0, 0, time.FixedZone("cet", 3600)), want: "audit-logs/audit_log/v1/2026-12-02T11:00:00Z.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, audit.FileKey(tc.at)) })
	}
}

// drivers are the blob drivers the recorder is held to.
func drivers(t *testing.T) map[string]func(t *testing.T) blob.Store {
	d := map[string]func(t *testing.T) blob.Store{
		"dirblob":         newDirBlob,
		"s3blob-gofakes3": func(t *testing.T) blob.Store { return s3blobtest.NewServer(t).NewStore(t) },
		"s3blob-moto": func(t *testing.T) blob.Store {
			ep := testenv.Need(t, "ORBIT_MOTO_ENDPOINT", "start moto_server (scripts/test.sh does)")
			s, _ := s3blobtest.NewBucket(t, s3blobtest.NewClient(ep))
			return s
		},
	}
	return d
}

func TestRecorderWritesHourlyFiles(t *testing.T) {
	for name, newBlob := range drivers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			blobs := newBlob(t)
			clk := newClock(time.Date(2026, 12, 2, 10, 59, 0, 0, time.UTC))
			r, err := audit.New(audit.Config{KV: newKV(t), Blobs: blobs, Now: clk.now})
			require.NoError(t, err)
			require.NoError(t, r.Record(ctx, audit.Event{Action: audit.ContextCreate, Target: audit.Entity{ID: "c1", Type: "context"}, Success: true}))
			clk.add(2 * time.Minute) // 11:01
			require.NoError(t, r.Record(audit.WithRequest(ctx, audit.Request{ID: "req-1", IPAddress: "127.0.0.1", ClientTraceID: "trace-9"}),
				audit.Event{Action: audit.ContextDelete, Target: audit.Entity{ID: "c1", Type: "context"}, Success: true}))
			st, err := r.Flush(ctx)
			require.NoError(t, err)
			assert.Equal(t, audit.FlushStats{Events: 2, Files: 2}, st)

			clk.add(time.Minute)
			require.NoError(t, r.Record(ctx, audit.Event{Action: audit.ProjectFollow, Target: audit.ProjectEntity("local/a/b"), Success: true}))
			_, err = r.Flush(ctx)
			require.NoError(t, err)

			page, err := blobs.List(ctx, audit.Prefix, "", 0)
			require.NoError(t, err)
			var keys []string
			for _, o := range page.Objects {
				keys = append(keys, o.Key)
			}
			assert.Equal(t, []string{"audit-logs/audit_log/v1/2026-12-02T10:00:00Z.json", "audit-logs/audit_log/v1/2026-12-02T11:00:00Z.json"}, keys)
			rc, _, err := blobs.Get(ctx, keys[1], nil)
			require.NoError(t, err)
			evs, err := audit.ReadLines(rc, keys[1])
			rc.Close()
			require.NoError(t, err)
			require.Len(t, evs, 2, "the second flush merged into the hour's file")
			assert.Equal(t, audit.ContextDelete, evs[0].Action)
			assert.Equal(t, audit.Request{ID: "req-1", IPAddress: "127.0.0.1", ClientTraceID: "trace-9"}, evs[0].Request)
			assert.Equal(t, audit.Anonymous, evs[0].Actor, "a request without a signed-in user")
			assert.Equal(t, audit.ProjectFollow, evs[1].Action)
			assert.Equal(t, audit.System, evs[1].Actor)
		})
	}
}

// flaky fails every Put while down is set.
type flaky struct {
	blob.Store
	down atomic.Bool
	puts atomic.Int64
}

var errDown = errors.New("blob store down")

func (f *flaky) Put(ctx context.Context, key string, r io.Reader, o blob.PutOptions) error {
	f.puts.Add(1)
	if f.down.Load() {
		return errDown
	}
	return f.Store.Put(ctx, key, r, o)
}

func TestOutboxSurvivesBlobOutage(t *testing.T) {
	ctx := t.Context()
	blobs := &flaky{Store: newDirBlob(t)}
	clk := newClock(time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC))
	r, err := audit.New(audit.Config{KV: newKV(t), Blobs: blobs, Now: clk.now})
	require.NoError(t, err)

	blobs.down.Store(true)
	var want []string
	for i := range 30 {
		e := audit.Event{ID: audit.ID("job", string(rune('a'+i))), Action: audit.JobStart, Target: audit.ProjectEntity("local/a/b"), Success: true}
		want = append(want, e.ID)
		require.NoError(t, r.Record(ctx, e), "recording does not touch the blob store")
		// A replayed event (same id) while it waits: still one.
		require.NoError(t, r.Record(ctx, e))
		clk.add(3 * time.Minute) // crosses into the next hour
		if i%10 == 9 {
			_, err := r.Flush(ctx)
			require.ErrorIs(t, err, errDown)
		}
	}
	assert.Positive(t, blobs.puts.Load(), "flushes tried the blob store")
	pending, err := r.Events(ctx, time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Len(t, pending, 30, "the outbox holds every event while the store is down")

	blobs.down.Store(false)
	st, err := r.Flush(ctx)
	require.NoError(t, err)
	assert.Equal(t, 30, st.Events)
	// A replay after its first copy was flushed lands in the file again with the same id.
	require.NoError(t, r.Record(ctx, audit.Event{ID: want[29], Action: audit.JobStart, Target: audit.ProjectEntity("local/a/b"),
		OccurredAt: clk.now().Add(-3 * time.Minute), Success: true}))
	_, err = r.Flush(ctx)
	require.NoError(t, err)

	// Every file, read raw: each id once.
	page, err := blobs.List(ctx, audit.Prefix, "", 0)
	require.NoError(t, err)
	seen := map[string]int{}
	for _, o := range page.Objects {
		rc, _, err := blobs.Get(ctx, o.Key, nil)
		require.NoError(t, err)
		evs, err := audit.ReadLines(rc, o.Key)
		rc.Close()
		require.NoError(t, err)
		for _, e := range evs {
			seen[e.ID]++
		}
	}
	assert.Len(t, seen, 30, "none lost")
	for id, n := range seen {
		assert.Equal(t, 1, n, "event %s written once", id)
	}
	got, err := r.Events(ctx, time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Len(t, got, 30)
}

func TestConcurrentFlushers(t *testing.T) {
	ctx := t.Context()
	blobs := newDirBlob(t)
	kvs := newKV(t)
	r, err := audit.New(audit.Config{KV: kvs, Blobs: blobs})
	require.NoError(t, err)
	const n = 40
	done := make(chan error, n)
	for i := range n {
		go func() {
			err := r.Record(ctx, audit.Event{Action: audit.JobFinish, Target: audit.ProjectEntity("local/a/b"), Metadata: map[string]string{"i": string(rune('A' + i))}})
			if err == nil {
				_, err = r.Flush(ctx)
			}
			done <- err
		}()
	}
	for range n {
		require.NoError(t, <-done)
	}
	_, err = r.Flush(ctx)
	require.NoError(t, err)
	got, err := r.Events(ctx, time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Len(t, got, n)
}

func TestCSVExport(t *testing.T) {
	ctx := t.Context()
	clk := newClock(time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC))
	r, err := audit.New(audit.Config{KV: newKV(t), Blobs: newDirBlob(t), Now: clk.now,
		ActorFrom: func(context.Context) (audit.Entity, bool) {
			return audit.Entity{ID: "u1", Type: "user", Name: "ada"}, true
		}})
	require.NoError(t, err)
	require.NoError(t, r.Record(ctx, audit.Event{Action: audit.ContextEnvVarStore, Target: audit.Entity{ID: "c1", Type: "context", Name: "prod"},
		Payload: map[string]any{"env_var": map[string]any{"name": "TOKEN"}}, Success: true}))
	clk.add(2 * time.Hour)
	require.NoError(t, r.Record(ctx, audit.Event{Action: audit.ContextDelete, Target: audit.Entity{ID: "c1", Type: "context"}}))
	_, err = r.Flush(ctx)
	require.NoError(t, err)

	evs, err := r.Events(ctx, time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Len(t, evs, 1, "the range keeps the first event only")
	var buf bytes.Buffer
	require.NoError(t, audit.WriteCSV(&buf, evs))
	rows, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, audit.CSVColumns, rows[0])
	row := map[string]string{}
	for i, c := range rows[0] {
		row[c] = rows[1][i]
	}
	assert.Equal(t, audit.ContextEnvVarStore, row["action"])
	assert.Equal(t, "1", row["version"])
	assert.Equal(t, "true", row["success"])
	assert.Equal(t, "2026-12-02T11:00:00Z", row["occurred_at"])
	assert.JSONEq(t, `{"id":"u1","type":"user","name":"ada"}`, row["actor"])
	assert.JSONEq(t, `{"env_var":{"name":"TOKEN"}}`, row["payload"])
	assert.JSONEq(t, `{"id":""}`, row["request"])
	assert.JSONEq(t, `{}`, row["metadata"])
}
