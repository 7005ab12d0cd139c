package boltqueue_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/queue/boltqueue"
	"github.com/orbit-ci/orbit/shared/queue/queuetest"
)

func openDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "queues.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	return db
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		// update returns the Config.Update for queues in db (nil: db.Update).
		update func(t *testing.T, db *bolt.DB) func(func(*bolt.Tx) error) error
	}{
		{"own transactions", func(*testing.T, *bolt.DB) func(func(*bolt.Tx) error) error { return nil }},
		{"group commits shared with the kv store", func(t *testing.T, db *bolt.DB) func(func(*bolt.Tx) error) error {
			kvs, err := boltkv.New(db, boltkv.Config{})
			require.NoError(t, err)
			return kvs.Update
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Queues of one test share one database, as a queue and its
			// dead-letter queue must.
			type shared struct {
				db     *bolt.DB
				update func(func(*bolt.Tx) error) error
			}
			var dbs sync.Map // *testing.T → shared
			var seq atomic.Int64
			queuetest.Run(t, func(t *testing.T, cfg queuetest.Config) queue.Queue {
				v, ok := dbs.Load(t)
				if !ok {
					db := openDB(t)
					v, _ = dbs.LoadOrStore(t, shared{db, tc.update(t, db)})
				}
				sh := v.(shared)
				bcfg := boltqueue.Config{Visibility: cfg.Visibility, MaxReceives: cfg.MaxReceives, Update: sh.update}
				if cfg.DeadLetter != nil {
					dlq, ok := cfg.DeadLetter.(*boltqueue.Queue)
					require.True(t, ok, "dead-letter queue is a %T", cfg.DeadLetter)
					bcfg.DeadLetter = dlq
				}
				q, err := boltqueue.New(sh.db, fmt.Sprintf("q%d", seq.Add(1)), bcfg)
				require.NoError(t, err)
				return q
			})
		})
	}
}

// clock is an injected clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newClock() *clock { return &clock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func TestInjectedClock(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	q, err := boltqueue.New(openDB(t), "clocked", boltqueue.Config{Visibility: time.Hour, Now: clk.Now})
	require.NoError(t, err)

	_, err = q.Send(ctx, []byte("now"), queue.SendOptions{})
	require.NoError(t, err)
	_, err = q.Send(ctx, []byte("later"), queue.SendOptions{Delay: 10 * time.Minute})
	require.NoError(t, err)

	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "now", string(msgs[0].Body))
	assert.Equal(t, clk.Now(), msgs[0].SentAt.UTC(), "SentAt comes from the injected clock")

	st, err := q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, queue.Stats{InFlight: 1, Delayed: 1}, st)

	clk.Advance(10 * time.Minute)
	msgs, err = q.Receive(ctx, queue.ReceiveOptions{Max: 10})
	require.NoError(t, err)
	require.Len(t, msgs, 1, "the delayed message is due; the received one is still hidden")
	assert.Equal(t, "later", string(msgs[0].Body))

	clk.Advance(time.Hour)
	msgs, err = q.Receive(ctx, queue.ReceiveOptions{Max: 10})
	require.NoError(t, err)
	require.Len(t, msgs, 2, "both visibility timeouts expired")
	for _, m := range msgs {
		assert.Equal(t, 2, m.ReceiveCount)
	}
}

func TestLongPollNoticesClockJump(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	q, err := boltqueue.New(openDB(t), "jump", boltqueue.Config{Visibility: time.Hour, Now: clk.Now})
	require.NoError(t, err)
	_, err = q.Send(ctx, []byte("x"), queue.SendOptions{Delay: time.Minute})
	require.NoError(t, err)

	done := make(chan []queue.Message, 1)
	go func() {
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Wait: 10 * time.Second})
		assert.NoError(t, err)
		done <- msgs
	}()
	clk.Advance(time.Minute)
	select {
	case msgs := <-done:
		assert.Len(t, msgs, 1)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the long poll did not notice the clock jump")
	}
}

func TestStaleReceiptsAreRefused(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	q, err := boltqueue.New(openDB(t), "strict", boltqueue.Config{Visibility: time.Minute, Now: clk.Now})
	require.NoError(t, err)
	_, err = q.Send(ctx, []byte("x"), queue.SendOptions{})
	require.NoError(t, err)

	first, err := q.Receive(ctx, queue.ReceiveOptions{})
	require.NoError(t, err)
	require.Len(t, first, 1)
	clk.Advance(time.Minute)
	second, err := q.Receive(ctx, queue.ReceiveOptions{})
	require.NoError(t, err)
	require.Len(t, second, 1)

	assert.ErrorIs(t, q.Extend(ctx, first[0].Receipt, 0), queue.ErrReceiptInvalid)
	assert.ErrorIs(t, q.Delete(ctx, first[0].Receipt), queue.ErrReceiptInvalid)
	st, err := q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, queue.Stats{InFlight: 1}, st, "refused calls changed nothing")

	require.NoError(t, q.Delete(ctx, second[0].Receipt))
	require.NoError(t, q.Delete(ctx, second[0].Receipt), "deleting a deleted message is a no-op")
}

func TestPersistsAcrossOpen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "q.db")
	q, err := boltqueue.Open(path, "runs", boltqueue.Config{})
	require.NoError(t, err)
	id, err := q.Send(ctx, []byte("survive"), queue.SendOptions{})
	require.NoError(t, err)
	require.NoError(t, q.Close())

	q, err = boltqueue.Open(path, "runs", boltqueue.Config{})
	require.NoError(t, err)
	defer func() { assert.NoError(t, q.Close()) }()
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, id, msgs[0].ID)
	assert.Equal(t, "survive", string(msgs[0].Body))
}

func TestQueuesInOneFileAreSeparate(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	a, err := boltqueue.New(db, "a", boltqueue.Config{})
	require.NoError(t, err)
	b, err := boltqueue.New(db, "b", boltqueue.Config{})
	require.NoError(t, err)
	_, err = a.Send(ctx, []byte("for a"), queue.SendOptions{})
	require.NoError(t, err)

	msgs, err := b.Receive(ctx, queue.ReceiveOptions{})
	require.NoError(t, err)
	assert.Empty(t, msgs)
	msgs, err = a.Receive(ctx, queue.ReceiveOptions{})
	require.NoError(t, err)
	assert.Len(t, msgs, 1)
}

func TestNewRejectsBadConfig(t *testing.T) {
	db := openDB(t)
	other := openDB(t)
	dlq, err := boltqueue.New(db, "dlq", boltqueue.Config{})
	require.NoError(t, err)
	foreign, err := boltqueue.New(other, "foreign", boltqueue.Config{})
	require.NoError(t, err)

	tests := []struct {
		name string
		db   *bolt.DB
		qn   string
		cfg  boltqueue.Config
	}{
		{name: "nil database", qn: "q", cfg: boltqueue.Config{}},
		{name: "empty name", db: db, cfg: boltqueue.Config{}},
		{name: "negative visibility", db: db, qn: "q", cfg: boltqueue.Config{Visibility: -time.Second}},
		{name: "MaxReceives without DeadLetter", db: db, qn: "q", cfg: boltqueue.Config{MaxReceives: 3}},
		{name: "DeadLetter without MaxReceives", db: db, qn: "q", cfg: boltqueue.Config{DeadLetter: dlq}},
		{name: "DeadLetter in another database", db: db, qn: "q", cfg: boltqueue.Config{MaxReceives: 3, DeadLetter: foreign}},
		{name: "own DeadLetter", db: db, qn: "dlq", cfg: boltqueue.Config{MaxReceives: 3, DeadLetter: dlq}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := boltqueue.New(tc.db, tc.qn, tc.cfg)
			assert.Error(t, err)
		})
	}
}

func TestReceiveHonoursCanceledContext(t *testing.T) {
	q, err := boltqueue.New(openDB(t), "c", boltqueue.Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = q.Receive(ctx, queue.ReceiveOptions{Wait: time.Second})
	assert.ErrorIs(t, err, context.Canceled)
}
