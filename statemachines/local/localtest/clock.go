// Package localtest holds test helpers for statemachines/local: a fake
// Clock that moves only when told, so Wait, Retry and timeout tests take no
// wall time.
package localtest

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/statemachines/local"
)

// Clock is a fake local.Clock. Timers fire when Advance moves the time past
// their deadline. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	changed chan struct{} // closed and replaced whenever timers change
}

var _ local.Clock = (*Clock)(nil)

// NewClock returns a fake clock set to start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer firing once the fake time reaches Now()+d.
func (c *Clock) NewTimer(d time.Duration) local.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, when: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

// Advance moves the time forward by d and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.when.After(c.now) {
			t.ch <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
	c.notifyLocked()
}

// AdvanceToNext moves the time to the earliest pending timer's deadline and
// fires it; it returns how far the time moved (0 without pending timers).
func (c *Clock) AdvanceToNext() time.Duration {
	next, ok := c.Next()
	if !ok {
		return 0
	}
	d := next.Sub(c.Now())
	c.Advance(d)
	return d
}

// Next returns the earliest pending timer's deadline.
func (c *Clock) Next() (time.Time, bool) {
	ws := c.Deadlines()
	if len(ws) == 0 {
		return time.Time{}, false
	}
	return ws[0], true
}

// Deadlines returns the pending timers' deadlines, earliest first.
func (c *Clock) Deadlines() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := make([]time.Time, len(c.timers))
	for i, t := range c.timers {
		ws[i] = t.when
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Before(ws[j]) })
	return ws
}

// Pending returns the number of timers waiting to fire.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// BlockUntil waits until at least n timers are pending, or ctx is done.
func (c *Clock) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		pending, changed := len(c.timers), c.changed
		c.mu.Unlock()
		if pending >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Clock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

type timer struct {
	c    *Clock
	when time.Time
	ch   chan time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, o := range t.c.timers {
		if o == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			t.c.notifyLocked()
			return true
		}
	}
	return false
}
