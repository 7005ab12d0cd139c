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
// A write function that fails with kv.ErrConflict, kv.ErrNotFound or
// kv.ErrInvalid has written nothing (apply and Transact check before they
// write), so it fails alone and the others still commit. Any other error (a
// bbolt failure) aborts the shared transaction, and then each write of the
// group runs again in a transaction of its own, so that each gets its own
// outcome.

// writeFunc is one write: it runs inside a bbolt write transaction.
type writeFunc = func(buckets, time.Time) error

// committer groups writes into shared transactions.
type committer struct {
	s *Store

	mu      sync.Mutex
	pending []*call
	leading bool // a goroutine is committing; it hands over when done
}

type call struct {
	fn   writeFunc
	err  error
	done chan error // receives the outcome, or errLead
}

// errLead tells a waiting writer that it commits the next group.
var errLead = errors.New("boltkv: lead the next commit")

// do runs fn in a write transaction, possibly shared with other writes, and
// returns once that transaction is durable (or failed).
func (c *committer) do(fn writeFunc) error {
	me := &call{fn: fn, done: make(chan error, 1)}
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
		b, err := c.s.buckets(tx)
		if err != nil {
			return err
		}
		now := c.s.now()
		for _, w := range group {
			w.err = w.fn(b, now)
			if w.err != nil && !clean(w.err) {
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
		w.done <- c.s.db.Update(func(tx *bolt.Tx) error {
			b, err := c.s.buckets(tx)
			if err != nil {
				return err
			}
			return w.fn(b, c.s.now())
		})
	}
}

// clean reports whether a failed write function is known to have written
// nothing.
func clean(err error) bool {
	return errors.Is(err, kv.ErrConflict) || errors.Is(err, kv.ErrNotFound) || errors.Is(err, kv.ErrInvalid)
}
