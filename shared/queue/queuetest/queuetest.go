// Package queuetest is the conformance suite of the queue port: every driver
// runs Run against a fresh queue per test, so the embedded driver cannot drift
// from SQS.
//
// The suite works in real time, with timeouts of one or two seconds (SQS and
// moto count in whole seconds), and waits on conditions with deadlines rather
// than sleeping. Subtests run in parallel, each on its own shallow queue.
package queuetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/queue"
)

// Config describes the queue the suite asks newQueue for.
type Config struct {
	// Visibility is the queue's default visibility timeout (1 s in the suite).
	Visibility time.Duration
	// MaxReceives, when > 0, is how many deliveries a message gets before the
	// next receive moves it to DeadLetter (SQS maxReceiveCount). 0 means no
	// dead-letter queue.
	MaxReceives int
	// DeadLetter, set when MaxReceives > 0, is a queue that the same newQueue
	// returned earlier in the same test; the driver wires it as the new
	// queue's dead-letter queue (a redrive policy in SQS).
	DeadLetter queue.Queue
}

// NewQueue makes a fresh, empty queue for one test and arranges its cleanup
// with t.Cleanup. It fails t when it cannot.
type NewQueue func(t *testing.T, cfg Config) queue.Queue

// visibility is the default visibility timeout of the suite's queues.
const visibility = time.Second

// patience bounds every wait for something that should happen.
const patience = 15 * time.Second

// Run runs the conformance suite against the driver that newQueue makes.
func Run(t *testing.T, newQueue NewQueue) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, newQueue NewQueue)
	}{
		{"SendReceiveDelete", testSendReceiveDelete},
		{"BodyLimits", testBodyLimits},
		{"LongPollReturnsEarly", testLongPollReturnsEarly},
		{"LongPollTimesOut", testLongPollTimesOut},
		{"ReceiveEndsWithContext", testReceiveEndsWithContext},
		{"VisibilityTimeoutRedelivers", testVisibilityRedelivers},
		{"ExtendKeepsHidden", testExtendKeepsHidden},
		{"InvalidAndStaleReceipts", testReceipts},
		{"DeadLetterAfterMaxReceives", testDeadLetter},
		{"DelayedSend", testDelayedSend},
		{"Stats", testStats},
		{"MaxBatch", testMaxBatch},
		{"ConcurrentReceivers", testConcurrentReceivers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newQueue)
		})
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*patience)
	t.Cleanup(cancel)
	return ctx
}

func send(ctx context.Context, t *testing.T, q queue.Queue, body string, opts queue.SendOptions) string {
	t.Helper()
	id, err := q.Send(ctx, []byte(body), opts)
	require.NoError(t, err, "send %q", body)
	require.NotEmpty(t, id, "send returns the message id")
	return id
}

// receiveOne long-polls until one message arrives, failing t after patience.
func receiveOne(ctx context.Context, t *testing.T, q queue.Queue, vis time.Duration) queue.Message {
	t.Helper()
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 1, Wait: 2 * time.Second, Visibility: vis})
		require.NoError(t, err, "receive")
		require.LessOrEqual(t, len(msgs), 1, "Max 1 returns at most one message")
		if len(msgs) == 1 {
			return msgs[0]
		}
	}
	require.FailNow(t, "no message arrived", "waited %s", patience)
	return queue.Message{}
}

// requireEmptyFor long-polls for d and fails t if a message arrives.
func requireEmptyFor(ctx context.Context, t *testing.T, q queue.Queue, d time.Duration, why string) {
	t.Helper()
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: d})
	require.NoError(t, err, "receive")
	require.Empty(t, msgs, why)
}

func eventuallyStats(ctx context.Context, t *testing.T, q queue.Queue, want queue.Stats) {
	t.Helper()
	var got queue.Stats
	deadline := time.Now().Add(patience)
	for {
		var err error
		got, err = q.Stats(ctx)
		require.NoError(t, err, "stats")
		if got == want || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			require.FailNow(t, "context ended while waiting for stats")
		case <-time.After(100 * time.Millisecond):
		}
	}
	require.Equal(t, want, got, "stats")
}

func testSendReceiveDelete(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})

	before := time.Now()
	id := send(ctx, t, q, `{"job":"build","n":1}`, queue.SendOptions{})
	after := time.Now()

	m := receiveOne(ctx, t, q, time.Minute)
	assert.Equal(t, id, m.ID, "the message id is the one Send returned")
	assert.Equal(t, `{"job":"build","n":1}`, string(m.Body))
	assert.Equal(t, 1, m.ReceiveCount, "first delivery")
	assert.NotEmpty(t, m.Receipt)
	assert.WithinRange(t, m.SentAt, before.Add(-time.Second), after.Add(time.Second), "SentAt is the send time")

	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10})
	require.NoError(t, err)
	assert.Empty(t, msgs, "a received message is hidden")

	require.NoError(t, q.Delete(ctx, m.Receipt), "delete")
	err = q.Extend(ctx, m.Receipt, 0)
	assert.ErrorIs(t, err, queue.ErrReceiptInvalid, "extend after delete")
	if err := q.Delete(ctx, m.Receipt); err != nil {
		assert.ErrorIs(t, err, queue.ErrReceiptInvalid, "a second delete is a no-op or ErrReceiptInvalid")
	}
	eventuallyStats(ctx, t, q, queue.Stats{})
	requireEmptyFor(ctx, t, q, 0, "a deleted message is gone")
}

func testBodyLimits(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})

	tests := []struct {
		name string
		body []byte
		ok   bool
	}{
		{name: "empty", body: nil},
		{name: "invalid UTF-8", body: []byte{'a', 0xff, 'b'}},
		{name: "NUL", body: []byte("a\x00b")},
		{name: "too large", body: []byte(strings.Repeat("x", 256*1024+1))},
		{name: "text with newlines, tabs and non-ASCII", body: []byte("line 1\n\tläuft ✓ 🚀\r\n"), ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := q.Send(ctx, tc.body, queue.SendOptions{})
			if !tc.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			m := receiveOne(ctx, t, q, time.Minute)
			assert.Equal(t, tc.body, m.Body, "the body round-trips byte for byte")
			require.NoError(t, q.Delete(ctx, m.Receipt))
		})
	}

	_, err := q.Send(ctx, []byte("late"), queue.SendOptions{Delay: 16 * time.Minute})
	assert.Error(t, err, "a delay above 15 minutes is refused")
}

func testLongPollReturnsEarly(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})

	type result struct {
		msgs    []queue.Message
		err     error
		elapsed time.Duration
	}
	done := make(chan result, 1)
	started := time.Now()
	go func() {
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 1, Wait: 10 * time.Second, Visibility: time.Minute})
		done <- result{msgs, err, time.Since(started)}
	}()
	// Give the receiver time to start waiting, so that the send lands mid-wait.
	time.Sleep(300 * time.Millisecond)
	id := send(ctx, t, q, "wake up", queue.SendOptions{})

	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.Len(t, r.msgs, 1, "the long poll returns the message sent mid-wait")
		assert.Equal(t, id, r.msgs[0].ID)
		assert.Less(t, r.elapsed, 5*time.Second, "the long poll returns soon after the send, not at the end of Wait")
	case <-time.After(patience):
		require.FailNow(t, "receive did not return")
	}
}

func testLongPollTimesOut(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})

	start := time.Now()
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Wait: time.Second})
	elapsed := time.Since(start)
	require.NoError(t, err, "an elapsed wait is not an error")
	assert.Empty(t, msgs)
	assert.GreaterOrEqual(t, elapsed, 900*time.Millisecond, "receive waits for Wait")
	assert.Less(t, elapsed, 5*time.Second, "receive returns when Wait elapses")

	start = time.Now()
	msgs, err = q.Receive(ctx, queue.ReceiveOptions{})
	require.NoError(t, err)
	assert.Empty(t, msgs)
	assert.Less(t, time.Since(start), 2*time.Second, "Wait 0 returns at once")
}

func testReceiveEndsWithContext(t *testing.T, newQueue NewQueue) {
	q := newQueue(t, Config{Visibility: visibility})

	ctx, cancel := context.WithCancel(testContext(t))
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Wait: 10 * time.Second})
	elapsed := time.Since(start)
	assert.Empty(t, msgs)
	require.Error(t, err, "receive reports that ctx ended")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, elapsed, 5*time.Second, "receive returns when ctx ends, not at the end of Wait")
}

func testVisibilityRedelivers(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})
	id := send(ctx, t, q, "redeliver me", queue.SendOptions{})

	first := receiveOne(ctx, t, q, 0) // the queue's default visibility
	received := time.Now()
	assert.Equal(t, 1, first.ReceiveCount)
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{})
	require.NoError(t, err)
	require.Empty(t, msgs, "hidden during the visibility timeout")

	second := receiveOne(ctx, t, q, time.Minute)
	assert.GreaterOrEqual(t, time.Since(received), visibility/2, "not redelivered before the visibility timeout")
	assert.Equal(t, id, second.ID, "the same message comes back")
	assert.Equal(t, "redeliver me", string(second.Body))
	assert.Equal(t, 2, second.ReceiveCount, "second delivery")
	assert.NotEqual(t, first.Receipt, second.Receipt, "each delivery has its own receipt")
	assert.WithinDuration(t, first.SentAt, second.SentAt, time.Millisecond, "SentAt is stable")
	require.NoError(t, q.Delete(ctx, second.Receipt))
}

func testExtendKeepsHidden(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})
	id := send(ctx, t, q, "keep me", queue.SendOptions{})

	m := receiveOne(ctx, t, q, visibility)
	require.NoError(t, q.Extend(ctx, m.Receipt, time.Minute), "extend")
	requireEmptyFor(ctx, t, q, 2*visibility+500*time.Millisecond, "an extended message stays hidden past its first visibility timeout")

	require.NoError(t, q.Extend(ctx, m.Receipt, 0), "extend by 0 makes the message visible")
	start := time.Now()
	again := receiveOne(ctx, t, q, time.Minute)
	assert.Less(t, time.Since(start), 5*time.Second, "visible at once after Extend(0)")
	assert.Equal(t, id, again.ID)
	assert.Equal(t, 2, again.ReceiveCount)
	require.NoError(t, q.Delete(ctx, again.Receipt))
}

func testReceipts(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})

	assert.ErrorIs(t, q.Extend(ctx, "not-a-receipt", time.Minute), queue.ErrReceiptInvalid, "extend with a made-up receipt")
	assert.ErrorIs(t, q.Delete(ctx, "not-a-receipt"), queue.ErrReceiptInvalid, "delete with a made-up receipt")

	id := send(ctx, t, q, "stale", queue.SendOptions{})
	first := receiveOne(ctx, t, q, time.Minute)
	require.NoError(t, q.Extend(ctx, first.Receipt, 0))
	second := receiveOne(ctx, t, q, time.Minute)
	require.Equal(t, id, second.ID)
	require.Equal(t, 2, second.ReceiveCount)

	// first.Receipt is stale now. Drivers may refuse it or act on it, but a
	// refusal must change nothing.
	if err := q.Extend(ctx, first.Receipt, time.Minute); err != nil {
		require.ErrorIs(t, err, queue.ErrReceiptInvalid, "extend with a stale receipt")
	}
	err := q.Delete(ctx, first.Receipt)
	if err == nil {
		t.Log("driver accepts stale receipts for Delete (as SQS may)")
		return
	}
	require.ErrorIs(t, err, queue.ErrReceiptInvalid, "delete with a stale receipt")
	// Refused: the message must still be there, held by the latest receipt.
	require.NoError(t, q.Extend(ctx, second.Receipt, 0), "the latest receipt still works")
	third := receiveOne(ctx, t, q, time.Minute)
	assert.Equal(t, id, third.ID, "a refused stale delete left the message in the queue")
	assert.Equal(t, 3, third.ReceiveCount)
	require.NoError(t, q.Delete(ctx, third.Receipt))
}

func testDeadLetter(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	dlq := newQueue(t, Config{Visibility: visibility})
	q := newQueue(t, Config{Visibility: visibility, MaxReceives: 2, DeadLetter: dlq})

	id := send(ctx, t, q, "poison", queue.SendOptions{})
	for n := 1; n <= 2; n++ {
		m := receiveOne(ctx, t, q, time.Minute)
		require.Equal(t, id, m.ID)
		require.Equal(t, n, m.ReceiveCount)
		require.NoError(t, q.Extend(ctx, m.Receipt, 0), "give the message back")
	}
	requireEmptyFor(ctx, t, q, time.Second, "a third delivery moves the message to the dead-letter queue instead")

	dead := receiveOne(ctx, t, dlq, time.Minute)
	assert.Equal(t, id, dead.ID, "the dead-letter queue holds the same message")
	assert.Equal(t, "poison", string(dead.Body))
	require.NoError(t, dlq.Delete(ctx, dead.Receipt))
	eventuallyStats(ctx, t, q, queue.Stats{})

	// A message deleted before MaxReceives never reaches the dead-letter queue.
	send(ctx, t, q, "fine", queue.SendOptions{})
	m := receiveOne(ctx, t, q, time.Minute)
	require.NoError(t, q.Delete(ctx, m.Receipt))
	eventuallyStats(ctx, t, dlq, queue.Stats{})
}

func testDelayedSend(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})

	const delay = 2 * time.Second
	sent := time.Now()
	id := send(ctx, t, q, "later", queue.SendOptions{Delay: delay})
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10})
	require.NoError(t, err)
	require.Empty(t, msgs, "not visible before the delay")
	st, err := q.Stats(ctx)
	require.NoError(t, err)
	if time.Since(sent) < delay {
		assert.Equal(t, queue.Stats{Delayed: 1}, st, "counted as delayed")
	}

	m := receiveOne(ctx, t, q, time.Minute)
	assert.GreaterOrEqual(t, time.Since(sent), delay-250*time.Millisecond, "visible only after the delay")
	assert.Equal(t, id, m.ID)
	assert.Equal(t, 1, m.ReceiveCount, "a delay is not a delivery")
	require.NoError(t, q.Delete(ctx, m.Receipt))
}

func testStats(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})
	eventuallyStats(ctx, t, q, queue.Stats{})

	send(ctx, t, q, "a", queue.SendOptions{})
	send(ctx, t, q, "b", queue.SendOptions{})
	send(ctx, t, q, "c", queue.SendOptions{Delay: time.Minute})
	eventuallyStats(ctx, t, q, queue.Stats{Visible: 2, Delayed: 1})

	m := receiveOne(ctx, t, q, time.Minute)
	eventuallyStats(ctx, t, q, queue.Stats{Visible: 1, InFlight: 1, Delayed: 1})

	require.NoError(t, q.Delete(ctx, m.Receipt))
	eventuallyStats(ctx, t, q, queue.Stats{Visible: 1, Delayed: 1})
}

func testMaxBatch(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})

	const n = 5
	sent := map[string]bool{} // bodies
	for i := range n {
		body := fmt.Sprintf("m%d", i)
		send(ctx, t, q, body, queue.SendOptions{})
		sent[body] = true
	}

	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 0, Wait: 2 * time.Second, Visibility: time.Minute})
	require.NoError(t, err)
	require.Len(t, msgs, 1, "Max 0 means 1")
	ids := []string{msgs[0].ID}
	received := map[string]bool{string(msgs[0].Body): true}

	// A send whose answer was lost and that the client retried leaves two
	// messages with one body (SQS's at-least-once delivery; seen on moto
	// under load): every body arrives, no message twice while in flight,
	// and nothing that was not sent.
	deadline := time.Now().Add(patience)
	for len(received) < n && time.Now().Before(deadline) {
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 3, Wait: 2 * time.Second, Visibility: time.Minute})
		require.NoError(t, err)
		require.LessOrEqual(t, len(msgs), 3, "at most Max messages")
		for _, m := range msgs {
			require.NotContains(t, ids, m.ID, "a message in flight is not delivered twice")
			require.True(t, sent[string(m.Body)], "received %q, which was never sent", m.Body)
			ids = append(ids, m.ID)
			received[string(m.Body)] = true
		}
	}
	assert.Equal(t, sent, received, "every message is received")
}

func testConcurrentReceivers(t *testing.T, newQueue NewQueue) {
	ctx := testContext(t)
	q := newQueue(t, Config{Visibility: visibility})

	const senders, perSender, receivers = 4, 5, 8
	const total = senders * perSender

	var (
		mu       sync.Mutex
		sent     = map[string]bool{}
		received = map[string]int{}
		wg       sync.WaitGroup
		errs     = make(chan error, senders+receivers)
	)
	for s := range senders {
		wg.Go(func() {
			for i := range perSender {
				id, err := q.Send(ctx, fmt.Appendf(nil, "s%d-m%d", s, i), queue.SendOptions{})
				if err != nil {
					errs <- fmt.Errorf("send: %w", err)
					return
				}
				mu.Lock()
				sent[id] = true
				mu.Unlock()
			}
		})
	}
	done := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) == total
	}
	deadline := time.Now().Add(patience)
	for range receivers {
		wg.Go(func() {
			for !done() && time.Now().Before(deadline) {
				// A visibility far longer than the test: any second delivery
				// would be a bug, not a redelivery.
				msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 3, Wait: time.Second, Visibility: 5 * time.Minute})
				if err != nil {
					errs <- fmt.Errorf("receive: %w", err)
					return
				}
				for _, m := range msgs {
					mu.Lock()
					received[m.ID]++
					mu.Unlock()
					if err := q.Delete(ctx, m.Receipt); err != nil {
						errs <- fmt.Errorf("delete: %w", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	require.Len(t, sent, total, "every send returned a distinct id")
	assert.Len(t, received, total, "every message was received")
	for id, n := range received {
		assert.True(t, sent[id], "received %s, which was never sent", id)
		assert.Equal(t, 1, n, "message %s was delivered to %d receivers while in flight", id, n)
	}
	eventuallyStats(ctx, t, q, queue.Stats{})
}
