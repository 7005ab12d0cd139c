package boltkv_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/kv/kvtest"
)

func open(t testing.TB, cfg boltkv.Config) *boltkv.Store {
	t.Helper()
	s, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store { return open(t, boltkv.Config{}) })
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func TestExpiryFollowsTheClock(t *testing.T) {
	start := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{now: start}
	s := open(t, boltkv.Config{Now: clk.Now})
	ctx := t.Context()

	it := kv.Item{PK: "p", SK: "s", GSI1PK: "g", GSI1SK: "s", ExpiresAt: start.Add(10 * time.Second)}
	_, err := s.Put(ctx, it, kv.Condition{})
	require.NoError(t, err)
	_, err = s.Put(ctx, kv.Item{PK: "p", SK: "stays"}, kv.Condition{})
	require.NoError(t, err)

	tests := []struct {
		name    string
		at      time.Time
		visible bool
	}{
		{"before", start.Add(9999 * time.Millisecond), true},
		{"at the expiry second", start.Add(10 * time.Second), false},
		{"after", start.Add(time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(tc.at)
			_, err := s.Get(ctx, "p", "s")
			page, qerr := s.Query(ctx, kv.Query{Index: kv.GSI1, PK: "g"})
			require.NoError(t, qerr)
			if tc.visible {
				assert.NoError(t, err)
				assert.Len(t, page.Items, 1)
			} else {
				assert.ErrorIs(t, err, kv.ErrNotFound)
				assert.Empty(t, page.Items)
			}
		})
	}
}

func TestSweep(t *testing.T) {
	start := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{now: start}
	s := open(t, boltkv.Config{Now: clk.Now})
	ctx := t.Context()
	for i, sk := range []string{"a", "b", "c", "d"} {
		it := kv.Item{PK: "p", SK: sk, GSI2PK: "g", GSI2SK: sk}
		if i%2 == 0 {
			it.ExpiresAt = start.Add(time.Minute)
		}
		_, err := s.Put(ctx, it, kv.Condition{})
		require.NoError(t, err)
	}

	n, err := s.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing has expired yet")

	clk.Set(start.Add(time.Hour))
	n, err = s.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	// Going back in time shows the expired items are really gone, from the
	// table and from the index.
	clk.Set(start)
	for _, q := range []kv.Query{{PK: "p"}, {Index: kv.GSI2, PK: "g"}} {
		page, err := s.Query(ctx, q)
		require.NoError(t, err)
		var sks []string
		for _, it := range page.Items {
			sks = append(sks, it.SK)
		}
		assert.Equal(t, []string{"b", "d"}, sks, "%+v", q)
	}
}

func TestSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	ctx := t.Context()

	a, err := boltkv.New(db, boltkv.Config{Bucket: "a"})
	require.NoError(t, err)
	b, err := boltkv.New(db, boltkv.Config{Bucket: "b"})
	require.NoError(t, err)
	_, err = a.Put(ctx, kv.Item{PK: "p", SK: "s", Data: []byte("a")}, kv.Condition{})
	require.NoError(t, err)
	_, err = b.Get(ctx, "p", "s")
	assert.ErrorIs(t, err, kv.ErrNotFound, "stores in one file are separate")

	require.NoError(t, a.Close())
	got, err := a.Get(ctx, "p", "s")
	require.NoError(t, err, "Close leaves a shared database open")
	assert.Equal(t, "a", string(got.Data))
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := boltkv.Open(path, boltkv.Config{})
	require.NoError(t, err)
	want, err := s.Put(t.Context(), kv.Item{PK: "p", SK: "s", GSI1PK: "g", GSI1SK: "1", Data: []byte("d")}, kv.Condition{})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = boltkv.Open(path, boltkv.Config{})
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Get(t.Context(), "p", "s")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	page, err := s.Query(t.Context(), kv.Query{Index: kv.GSI1, PK: "g"})
	require.NoError(t, err)
	assert.Len(t, page.Items, 1)
}

func TestCursorFromAnotherQuery(t *testing.T) {
	s := open(t, boltkv.Config{})
	ctx := t.Context()
	for _, sk := range []string{"a", "b", "c"} {
		_, err := s.Put(ctx, kv.Item{PK: "p", SK: sk, GSI1PK: "p", GSI1SK: sk}, kv.Condition{})
		require.NoError(t, err)
	}
	page, err := s.Query(ctx, kv.Query{PK: "p", Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, page.Cursor)
	for _, q := range []kv.Query{
		{PK: "other", Cursor: page.Cursor},
		{Index: kv.GSI1, PK: "p", Cursor: page.Cursor},
	} {
		_, err := s.Query(ctx, q)
		assert.ErrorIs(t, err, kv.ErrInvalid, "%+v", q)
	}
}

func BenchmarkPut(b *testing.B) {
	s := open(b, boltkv.Config{})
	it := kv.Item{PK: "bench", SK: "item", GSI1PK: "g", GSI1SK: "s", Data: make([]byte, 1024)}
	for b.Loop() {
		if _, err := s.Put(b.Context(), it, kv.Condition{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s := open(b, boltkv.Config{})
	it := kv.Item{PK: "bench", SK: "item", GSI1PK: "g", GSI1SK: "s", Data: make([]byte, 1024)}
	if _, err := s.Put(b.Context(), it, kv.Condition{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Get(b.Context(), "bench", "item"); err != nil {
			b.Fatal(err)
		}
	}
}
