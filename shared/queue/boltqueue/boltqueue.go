// Package boltqueue is the embedded driver of the queue port: SQS-like
// queues stored in a bbolt file, for the embedded shape and for tests.
//
// Several queues share one *bolt.DB, one top-level bucket each (named
// "queue:" + name), holding two nested buckets:
//
//	msgs   id → record (body, sent time, visible-at time, receive count,
//	       receipt nonce of the latest delivery)
//	ready  visible-at (8 bytes, big endian) + id → state byte
//	       (delayed: never delivered; delivered)
//
// "ready" orders messages by the time they become visible, so Receive reads
// the due ones from its front and the next expiry is its first key. A receipt
// is "<id>#<nonce>"; each delivery draws a new nonce, so a stale receipt is
// recognised and refused.
//
// Long-polls wait on an in-process notification that Send, Extend and
// dead-letter moves fire, plus a timer set to the next visibility or delay
// expiry: no busy loop. Notifications reach the waiters of the same *Queue,
// so a process should make one *Queue per queue and share it.
package boltqueue

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/queue/internal/sqsrules"
)

var _ queue.Queue = (*Queue)(nil)

// DefaultVisibility is the visibility timeout when Config.Visibility is 0,
// as SQS's default.
const DefaultVisibility = 30 * time.Second

// clockPoll bounds each long-poll nap when Config.Now is injected: the
// injected clock may jump, and no timer follows it.
const clockPoll = 100 * time.Millisecond

var (
	bucketMsgs  = []byte("msgs")
	bucketReady = []byte("ready")
)

// Index states, the value of a "ready" entry.
const (
	stateDelayed   byte = 'd' // never delivered yet
	stateDelivered byte = 'r' // delivered at least once
)

// Config configures one queue.
type Config struct {
	// Visibility is the default visibility timeout of a received message;
	// 0 means DefaultVisibility. At most 12 hours.
	Visibility time.Duration
	// MaxReceives is how many deliveries a message gets before the next
	// receive moves it to DeadLetter. 0 means no dead-letter queue; > 0
	// requires DeadLetter.
	MaxReceives int
	// DeadLetter is the dead-letter queue. It must live in the same *bolt.DB
	// (so that a move is one transaction) and be another queue.
	DeadLetter *Queue
	// Now is the clock; nil means time.Now. With an injected clock, waiting
	// long-polls re-check at least every 100 ms so that a jump is noticed.
	Now func() time.Time
	// Update runs the queue's write transactions; nil means db.Update. Give
	// it a group committer (boltkv.Store.Update) so that the queue's writes
	// share commits (fsyncs) with the other writers of the file. Functions
	// given to it may run more than once, as with bolt.DB.Batch.
	Update func(func(*bolt.Tx) error) error
}

// Queue is one queue in a bbolt database. It is safe for concurrent use.
type Queue struct {
	db         *bolt.DB
	name       string
	bucket     []byte
	visibility time.Duration
	maxRecv    int
	dlq        *Queue
	now        func() time.Time
	update     func(func(*bolt.Tx) error) error
	fakeClock  bool
	ownsDB     bool

	mu   sync.Mutex
	wake chan struct{} // closed and replaced to wake long-polls
}

// record is a stored message.
type record struct {
	Body      []byte `json:"body"`
	SentAt    int64  `json:"sent"` // unix nanoseconds
	VisibleAt int64  `json:"vis"`  // unix nanoseconds
	Receives  int    `json:"n"`
	Nonce     string `json:"nonce,omitempty"` // of the latest delivery
}

// New opens (creating if needed) the queue name in db. The caller owns db and
// closes it after the last use of the queue.
func New(db *bolt.DB, name string, cfg Config) (*Queue, error) {
	if db == nil {
		return nil, errors.New("boltqueue: nil database")
	}
	if name == "" {
		return nil, errors.New("boltqueue: empty queue name")
	}
	if cfg.Visibility == 0 {
		cfg.Visibility = DefaultVisibility
	}
	if err := sqsrules.CheckVisibility(cfg.Visibility); err != nil {
		return nil, fmt.Errorf("boltqueue %s: %w", name, err)
	}
	switch {
	case cfg.MaxReceives < 0:
		return nil, fmt.Errorf("boltqueue %s: negative MaxReceives %d", name, cfg.MaxReceives)
	case cfg.MaxReceives > 0 && cfg.DeadLetter == nil:
		return nil, fmt.Errorf("boltqueue %s: MaxReceives needs a DeadLetter queue", name)
	case cfg.MaxReceives == 0 && cfg.DeadLetter != nil:
		return nil, fmt.Errorf("boltqueue %s: a DeadLetter queue needs MaxReceives > 0", name)
	case cfg.DeadLetter != nil && cfg.DeadLetter.db != db:
		return nil, fmt.Errorf("boltqueue %s: dead-letter queue %s must share the database", name, cfg.DeadLetter.name)
	case cfg.DeadLetter != nil && cfg.DeadLetter.name == name:
		return nil, fmt.Errorf("boltqueue %s: a queue cannot be its own dead-letter queue", name)
	}
	q := &Queue{
		db:         db,
		name:       name,
		bucket:     []byte("queue:" + name),
		visibility: cfg.Visibility,
		maxRecv:    cfg.MaxReceives,
		dlq:        cfg.DeadLetter,
		now:        cfg.Now,
		update:     cfg.Update,
		fakeClock:  cfg.Now != nil,
		wake:       make(chan struct{}),
	}
	if q.now == nil {
		q.now = time.Now
	}
	if q.update == nil {
		q.update = db.Update
	}
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(q.bucket)
		if err != nil {
			return err
		}
		if _, err := b.CreateBucketIfNotExists(bucketMsgs); err != nil {
			return err
		}
		_, err = b.CreateBucketIfNotExists(bucketReady)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("boltqueue %s: create buckets: %w", name, err)
	}
	return q, nil
}

// Open opens (creating if needed) the bbolt file at path and the queue name
// in it; Close closes the file. A queue with a dead-letter queue needs New,
// since both must share one *bolt.DB.
func Open(path, name string, cfg Config) (*Queue, error) {
	if cfg.DeadLetter != nil {
		return nil, fmt.Errorf("boltqueue %s: a dead-letter queue needs a shared database: use New", name)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("boltqueue: open %s: %w", path, err)
	}
	q, err := New(db, name, cfg)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	q.ownsDB = true
	return q, nil
}

// Close closes the database if Open opened it; otherwise it does nothing.
func (q *Queue) Close() error {
	if !q.ownsDB {
		return nil
	}
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("boltqueue %s: close: %w", q.name, err)
	}
	return nil
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Send implements queue.Queue.
func (q *Queue) Send(ctx context.Context, body []byte, opts queue.SendOptions) (string, error) {
	if err := sqsrules.CheckBody(body); err != nil {
		return "", fmt.Errorf("send to %s: %w", q.name, err)
	}
	if err := sqsrules.CheckDelay(opts.Delay); err != nil {
		return "", fmt.Errorf("send to %s: %w", q.name, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("send to %s: %w", q.name, err)
	}
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("send to %s: message id: %w", q.name, err)
	}
	id := u.String()
	now := q.now()
	rec := record{
		Body:      body,
		SentAt:    now.UnixNano(),
		VisibleAt: now.Add(opts.Delay).UnixNano(),
	}
	err = q.update(func(tx *bolt.Tx) error {
		msgs, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		return putRecord(msgs, ready, id, &rec)
	})
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", q.name, err)
	}
	q.notify()
	return id, nil
}

// Receive implements queue.Queue.
func (q *Queue) Receive(ctx context.Context, opts queue.ReceiveOptions) ([]queue.Message, error) {
	limit := sqsrules.Batch(opts.Max)
	wait := sqsrules.Wait(opts.Wait)
	vis := q.visibility
	if opts.Visibility > 0 {
		if err := sqsrules.CheckVisibility(opts.Visibility); err != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.name, err)
		}
		vis = opts.Visibility
	}

	var deadline <-chan time.Time
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		deadline = timer.C
	}
	for last := wait == 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.name, err)
		}
		woken := q.waitChan() // before looking, so that no notification is lost
		msgs, next, err := q.receiveDue(limit, vis)
		if err != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.name, err)
		}
		if len(msgs) > 0 || last {
			return msgs, nil
		}

		// Sleep until something may have changed: a notification, the next
		// expiry, the end of Wait or of ctx.
		var nap *time.Timer
		var napC <-chan time.Time
		if !next.IsZero() || q.fakeClock {
			d := clockPoll
			if !next.IsZero() {
				d = max(next.Sub(q.now()), 0)
				if q.fakeClock {
					d = min(d, clockPoll)
				}
			}
			nap = time.NewTimer(d)
			napC = nap.C
		}
		select {
		case <-ctx.Done():
		case <-deadline:
			last = true // one last look, then return what there is
		case <-woken:
		case <-napC:
		}
		if nap != nil {
			nap.Stop()
		}
	}
}

// receiveDue delivers up to limit due messages, moving those past MaxReceives to
// the dead-letter queue. It also returns when the first hidden message becomes
// visible (zero if none is hidden).
func (q *Queue) receiveDue(limit int, vis time.Duration) ([]queue.Message, time.Time, error) {
	var (
		out   []queue.Message
		next  time.Time
		moved bool
	)
	err := q.update(func(tx *bolt.Tx) error {
		out, next, moved = nil, time.Time{}, false
		msgs, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		now := q.now()
		nowNano := now.UnixNano()
		for len(out) < limit {
			// Collect before changing anything: a bbolt cursor must not see
			// its bucket change under it.
			due := dueIDs(ready, nowNano, limit-len(out))
			if len(due) == 0 {
				break
			}
			for _, id := range due {
				rec, err := getRecord(msgs, id)
				if err != nil {
					return err
				}
				if err := deleteIndex(ready, id, rec); err != nil {
					return err
				}
				if q.dlq != nil && rec.Receives >= q.maxRecv {
					if err := q.moveToDeadLetter(tx, msgs, id, rec, nowNano); err != nil {
						return err
					}
					moved = true
					continue
				}
				nonce, err := newNonce()
				if err != nil {
					return err
				}
				rec.Receives++
				rec.Nonce = nonce
				rec.VisibleAt = now.Add(vis).UnixNano()
				if err := putRecord(msgs, ready, id, rec); err != nil {
					return err
				}
				out = append(out, queue.Message{
					ID:           id,
					Body:         rec.Body,
					Receipt:      id + "#" + nonce,
					ReceiveCount: rec.Receives,
					SentAt:       time.Unix(0, rec.SentAt),
				})
			}
		}
		if k, _ := ready.Cursor().First(); k != nil {
			next = time.Unix(0, indexTime(k))
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	if moved {
		q.dlq.notify()
	}
	return out, next, nil
}

// moveToDeadLetter moves a message, with its id, body, sent time and receive
// count, to the dead-letter queue, visible at once (as SQS).
func (q *Queue) moveToDeadLetter(tx *bolt.Tx, msgs *bolt.Bucket, id string, rec *record, now int64) error {
	if err := msgs.Delete([]byte(id)); err != nil {
		return err
	}
	dmsgs, dready, err := q.dlq.buckets(tx)
	if err != nil {
		return err
	}
	rec.VisibleAt = now
	rec.Nonce = ""
	if err := putRecord(dmsgs, dready, id, rec); err != nil {
		return fmt.Errorf("move %s to dead-letter queue %s: %w", id, q.dlq.name, err)
	}
	return nil
}

// Extend implements queue.Queue.
func (q *Queue) Extend(ctx context.Context, receipt string, d time.Duration) error {
	if err := sqsrules.CheckVisibility(d); err != nil {
		return fmt.Errorf("extend in %s: %w", q.name, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("extend in %s: %w", q.name, err)
	}
	id, nonce, ok := parseReceipt(receipt)
	if !ok {
		return fmt.Errorf("extend in %s: %w", q.name, queue.ErrReceiptInvalid)
	}
	err := q.update(func(tx *bolt.Tx) error {
		msgs, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		rec, err := getRecord(msgs, id)
		if errors.Is(err, errNoRecord) || (err == nil && rec.Nonce != nonce) {
			return queue.ErrReceiptInvalid
		}
		if err != nil {
			return err
		}
		if err := deleteIndex(ready, id, rec); err != nil {
			return err
		}
		rec.VisibleAt = q.now().Add(d).UnixNano()
		return putRecord(msgs, ready, id, rec)
	})
	if err != nil {
		return fmt.Errorf("extend %s in %s: %w", id, q.name, err)
	}
	q.notify()
	return nil
}

// Delete implements queue.Queue. Deleting a message that is gone is a no-op;
// a stale receipt returns queue.ErrReceiptInvalid and deletes nothing.
func (q *Queue) Delete(ctx context.Context, receipt string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete from %s: %w", q.name, err)
	}
	id, nonce, ok := parseReceipt(receipt)
	if !ok {
		return fmt.Errorf("delete from %s: %w", q.name, queue.ErrReceiptInvalid)
	}
	err := q.update(func(tx *bolt.Tx) error {
		msgs, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		rec, err := getRecord(msgs, id)
		switch {
		case errors.Is(err, errNoRecord):
			return nil
		case err != nil:
			return err
		case rec.Nonce != nonce:
			return queue.ErrReceiptInvalid
		}
		if err := deleteIndex(ready, id, rec); err != nil {
			return err
		}
		return msgs.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete %s from %s: %w", id, q.name, err)
	}
	return nil
}

// Stats implements queue.Queue. It scans the queue's index, so it costs time
// in proportion to the backlog.
func (q *Queue) Stats(ctx context.Context) (queue.Stats, error) {
	if err := ctx.Err(); err != nil {
		return queue.Stats{}, fmt.Errorf("stats of %s: %w", q.name, err)
	}
	var st queue.Stats
	err := q.db.View(func(tx *bolt.Tx) error {
		_, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		now := q.now().UnixNano()
		return ready.ForEach(func(k, v []byte) error {
			switch {
			case indexTime(k) <= now:
				st.Visible++
			case len(v) == 1 && v[0] == stateDelayed:
				st.Delayed++
			default:
				st.InFlight++
			}
			return nil
		})
	})
	if err != nil {
		return queue.Stats{}, fmt.Errorf("stats of %s: %w", q.name, err)
	}
	return st, nil
}

// waitChan returns the channel that the next notification closes.
func (q *Queue) waitChan() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wake
}

// notify wakes every waiting long-poll.
func (q *Queue) notify() {
	q.mu.Lock()
	defer q.mu.Unlock()
	close(q.wake)
	q.wake = make(chan struct{})
}

func (q *Queue) buckets(tx *bolt.Tx) (msgs, ready *bolt.Bucket, err error) {
	b := tx.Bucket(q.bucket)
	if b == nil {
		return nil, nil, fmt.Errorf("bucket %s is missing", q.bucket)
	}
	msgs, ready = b.Bucket(bucketMsgs), b.Bucket(bucketReady)
	if msgs == nil || ready == nil {
		return nil, nil, fmt.Errorf("bucket %s is incomplete", q.bucket)
	}
	return msgs, ready, nil
}

var errNoRecord = errors.New("no such message")

func getRecord(msgs *bolt.Bucket, id string) (*record, error) {
	v := msgs.Get([]byte(id))
	if v == nil {
		return nil, errNoRecord
	}
	var rec record
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("decode message %s: %w", id, err)
	}
	return &rec, nil
}

// putRecord stores rec and its index entry.
func putRecord(msgs, ready *bolt.Bucket, id string, rec *record) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode message %s: %w", id, err)
	}
	if err := msgs.Put([]byte(id), v); err != nil {
		return err
	}
	state := stateDelivered
	if rec.Receives == 0 {
		state = stateDelayed
	}
	return ready.Put(indexKey(rec.VisibleAt, id), []byte{state})
}

func deleteIndex(ready *bolt.Bucket, id string, rec *record) error {
	return ready.Delete(indexKey(rec.VisibleAt, id))
}

// dueIDs returns up to n ids visible at now, earliest first.
func dueIDs(ready *bolt.Bucket, now int64, n int) []string {
	var ids []string
	c := ready.Cursor()
	for k, _ := c.First(); k != nil && len(ids) < n && indexTime(k) <= now; k, _ = c.Next() {
		ids = append(ids, string(k[8:]))
	}
	return ids
}

// indexKey orders by visible-at time; flipping the sign bit makes the byte
// order of int64s match their numeric order.
func indexKey(visibleAt int64, id string) []byte {
	k := make([]byte, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(visibleAt)^(1<<63))
	copy(k[8:], id)
	return k
}

func indexTime(k []byte) int64 {
	return int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63))
}

func newNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("receipt nonce: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func parseReceipt(receipt string) (id, nonce string, ok bool) {
	id, nonce, ok = strings.Cut(receipt, "#")
	if !ok || nonce == "" {
		return "", "", false
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", "", false
	}
	return id, nonce, true
}
