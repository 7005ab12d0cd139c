package boltkv

import (
	"errors"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/kv"
)

// Group commit. A bbolt write transaction ends in an fsync (about 5 ms on the
// reference machine), and bbolt runs one at a time, so with one transaction
// per write a burst of N writers waits N fsyncs. The committer runs every
// write that arrives while a commit is under way in the next transaction, as
// databases do with their log: a lone write commits at once (no timer, unlike
// bolt.DB.Batch, whose MaxBatchDelay every lone write would wait out), and a
// burst of N writes costs about two fsyncs.
//
//	write ─▶ pending ─┬─ no leader: lead ─▶ one bbolt tx for all pending ─▶ results
//	                  └─ leader busy: wait ─▶ result, or "you lead next"
//
// A kv write that fails with kv.ErrConflict, kv.ErrNotFound or
// kv.ErrInvalid has written nothing (apply and Transact check before they
// write), so it fails alone and the others still commit. Any other error (a
// bbolt failure, or any error of a function given to Update) aborts the
// shared transaction, and then each write of the group runs again in a
// transaction of its own, so that each gets its own outcome.
//
// Other embedded drivers in the same bbolt file (the run queue, the state
// machines' executions) commit through Update, so that all the file's
// writers share commits: bbolt has one writer at a time, and a writer that
// commits alone makes everyone else wait its fsync.

// writeFunc is one kv write: it runs inside a bbolt write transaction.
type writeFunc = func(buckets, time.Time) error

// Update runs fn in a bbolt write transaction shared with the writes that
// arrive at the same time, and returns once it is durable. As with
// bolt.DB.Batch, fn may run more than once (when another write of its group
// fails) and must have the same effect each time; an error from fn rolls
// back its group's transaction, and fn runs again alone to return it. The
// signature is bolt.DB.Update's, so drivers that take that function can be
// given this one.
func (s *Store) Update(fn func(*bolt.Tx) error) error {
	return s.commits.run(&call{tx: fn})
}

// committer groups writes into shared transactions.
type committer struct {
	s *Store

	mu      sync.Mutex
	pending []*call
	leading bool // a goroutine is committing; it hands over when done
}

// call is one write: a kv write (fn) or a function given to Update (tx).
type call struct {
	fn   writeFunc
	tx   func(*bolt.Tx) error
	err  error
	done chan error // receives the outcome, or errLead
}

// runIn runs the write in tx.
func (w *call) runIn(s *Store, tx *bolt.Tx, now time.Time) error {
	if w.tx != nil {
		return w.tx(tx)
	}
	b, err := s.buckets(tx)
	if err != nil {
		return err
	}
	return w.fn(b, now)
}

// clean reports whether the write failed without writing anything.
func (w *call) clean() bool {
	return w.tx == nil && (errors.Is(w.err, kv.ErrConflict) || errors.Is(w.err, kv.ErrNotFound) || errors.Is(w.err, kv.ErrInvalid))
}

// errLead tells a waiting writer that it commits the next group.
var errLead = errors.New("boltkv: lead the next commit")

// do runs fn in a write transaction, possibly shared with other writes, and
// returns once that transaction is durable (or failed).
func (c *committer) do(fn writeFunc) error {
	return c.run(&call{fn: fn})
}

func (c *committer) run(me *call) error {
	me.done = make(chan error, 1)
	c.mu.Lock()
	c.pending = append(c.pending, me)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if !lead {
		if err := <-me.done; err != errLead {
			return err
		}
	}
	c.mu.Lock()
	group := c.pending
	c.pending = nil
	c.mu.Unlock()

	c.commit(group)

	c.mu.Lock()
	if len(c.pending) > 0 {
		c.pending[0].done <- errLead // the next group's first writer leads it
	} else {
		c.leading = false
	}
	c.mu.Unlock()
	return <-me.done
}

// commit runs a group of writes in one transaction and delivers each its
// outcome.
func (c *committer) commit(group []*call) {
	err := c.s.db.Update(func(tx *bolt.Tx) error {
		now := c.s.now()
		for _, w := range group {
			w.err = w.runIn(c.s, tx, now)
			if w.err != nil && !w.clean() {
				return w.err
			}
		}
		return nil
	})
	if err == nil {
		for _, w := range group {
			w.done <- w.err
		}
		return
	}
	if len(group) == 1 {
		group[0].done <- err
		return
	}
	for _, w := range group {
		w.done <- c.s.db.Update(func(tx *bolt.Tx) error { return w.runIn(c.s, tx, c.s.now()) })
	}
}
