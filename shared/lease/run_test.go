package lease_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/lease"
)

// Run tests use the wall clock with short durations. slack absorbs a busy
// machine's scheduling and moto's latency in the failover bounds.
const (
	runDuration = 5 * time.Second
	runRenew    = 500 * time.Millisecond
	runMargin   = 1500 * time.Millisecond
	// 5 s: at load average 30 on two cores under -race, a goroutine can
	// wait seconds for a core (one run of -count 20 missed 3 s).
	slack = 5 * time.Second
)

// term is one lead call as seen by the test.
type term struct {
	holder      string
	token       int64
	start, stop time.Time
}

// terms records every lead call of the leases of one test.
type terms struct {
	mu  sync.Mutex
	all []*term
}

// lead returns a lead function for holder that runs until its context ends.
func (r *terms) lead(holder string) func(context.Context, lease.Term) error {
	return func(ctx context.Context, lt lease.Term) error {
		tm := &term{holder: holder, token: lt.Token, start: time.Now()}
		r.mu.Lock()
		r.all = append(r.all, tm)
		r.mu.Unlock()
		<-ctx.Done()
		r.mu.Lock()
		tm.stop = time.Now()
		r.mu.Unlock()
		return ctx.Err()
	}
}

// leading returns holder's current term, if it leads.
func (r *terms) leading(holder string) (term, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, tm := range r.all {
		if tm.holder == holder && tm.stop.IsZero() {
			return *tm, true
		}
	}
	return term{}, false
}

func (r *terms) waitLeading(t *testing.T, holder string, within time.Duration) term {
	t.Helper()
	var tm term
	require.Eventually(t, func() bool {
		var ok bool
		tm, ok = r.leading(holder)
		return ok
	}, within, 5*time.Millisecond, "%s never led", holder)
	return tm
}

// assertNoOverlap checks that no two terms overlapped and tokens grew.
func (r *terms) assertNoOverlap(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 1; i < len(r.all); i++ {
		prev, cur := r.all[i-1], r.all[i]
		if assert.False(t, prev.stop.IsZero(), "%s's term %d ended before %s's began", prev.holder, prev.token, cur.holder) {
			assert.True(t, prev.stop.Before(cur.start), "%s stopped (%s) before %s started (%s)", prev.holder,
				prev.stop.Format("15:04:05.000"), cur.holder, cur.start.Format("15:04:05.000"))
		}
		assert.Greater(t, cur.token, prev.token, "tokens grow")
	}
}

// run starts l.Run with rec's lead for holder; the returned stop cancels it
// and waits for Run to return.
func run(t *testing.T, l *lease.Lease, rec *terms, holder string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, l.Run(ctx, rec.lead(holder)))
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

func runLease(t *testing.T, store kv.Store, key, holder string, mod ...func(*lease.Config)) *lease.Lease {
	t.Helper()
	cfg := lease.Config{Key: key, Holder: holder, Duration: runDuration, Renew: runRenew, Margin: runMargin}
	for _, f := range mod {
		f(&cfg)
	}
	l, err := lease.New(store, cfg)
	require.NoError(t, err)
	return l
}

// patient makes a standby that would wait an hour to take over: it can get
// the lease within a test only if the holder releases it.
func patient(c *lease.Config) { c.Duration = time.Hour }

// pair is two leases on one key, both running: a leads (its store can be
// cut off through swA), b stands by and has seen a hold the lease.
type pair struct {
	rec   *terms
	swA   *switchStore
	a, b  *lease.Lease
	stopA func()
}

func startPair(t *testing.T, store kv.Store, modB ...func(*lease.Config)) *pair {
	t.Helper()
	key := freshKey()
	p := &pair{rec: &terms{}, swA: &switchStore{Store: store}}
	p.a, p.b = runLease(t, p.swA, key, "a"), runLease(t, store, key, "b", modB...)
	p.stopA = run(t, p.a, p.rec, "a")
	p.rec.waitLeading(t, "a", 10*time.Second)
	run(t, p.b, p.rec, "b")
	require.Eventually(t, func() bool { return p.b.State().CurrentHolder == "a" }, 5*time.Second, 5*time.Millisecond,
		"b campaigns and sees a hold the lease")
	return p
}

// TestRunFailover: the leader dies abruptly (its store gone, its context
// cancelled, no release); the standby takes over within Duration + Renew
// and never before the dead leader's last write stood for Duration.
func TestRunFailover(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		p := startPair(t, store)
		rec, swA, b := p.rec, p.swA, p.b
		_, bLeads := rec.leading("b")
		require.False(t, bLeads)

		swA.setDown(true)
		killed := time.Now()
		p.stopA()
		tb := rec.waitLeading(t, "b", runDuration+runRenew+slack+time.Second)
		took := tb.start.Sub(killed)
		t.Logf("takeover %s after the kill (bound %s)", took, runDuration+runRenew)
		assert.LessOrEqual(t, took, runDuration+runRenew+slack, "within Duration + Renew")
		assert.GreaterOrEqual(t, took, runDuration-runRenew, "not before a's last write stood for Duration")
		rec.assertNoOverlap(t)
		assert.True(t, b.State().Leader)
	})
}

// TestRunStepsDownWhenRenewalFails: a leader cut off from the store stops
// leading at its first failed renewal, long before the standby takes over.
func TestRunStepsDownWhenRenewalFails(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		p := startPair(t, store)
		rec, swA, a := p.rec, p.swA, p.a

		swA.setDown(true)
		cut := time.Now()
		require.Eventually(t, func() bool { _, ok := rec.leading("a"); return !ok }, runRenew+slack, 5*time.Millisecond,
			"a stops at its next renewal")
		tb := rec.waitLeading(t, "b", runDuration+runRenew+slack+time.Second)
		rec.assertNoOverlap(t)
		rec.mu.Lock()
		aStop := rec.all[0].stop
		rec.mu.Unlock()
		assert.Less(t, aStop.Sub(cut), runRenew+slack)
		assert.GreaterOrEqual(t, tb.start.Sub(aStop), runMargin, "a stopped at least Margin before b started")
		st := a.State()
		assert.False(t, st.Leader)
		assert.Equal(t, int64(1), st.Losses)
		assert.Contains(t, st.LastError, "store unreachable")

		swA.setDown(false)
		require.Eventually(t, func() bool { return a.State().CurrentHolder == "b" }, 5*time.Second, 5*time.Millisecond,
			"a campaigns again and sees b")
		_, aLeads := rec.leading("a")
		assert.False(t, aLeads, "b keeps renewing, a stays standby")
	})
}

// TestRunStopsAtValidUntil: a leader whose renewals hang (no answer, no
// error) stops leading at ValidUntil, Margin before the standby can take
// over.
func TestRunStopsAtValidUntil(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		p := startPair(t, store)
		rec, swA, a := p.rec, p.swA, p.a

		validUntil := a.State().ValidUntil
		swA.setHang(true)
		hung := time.Now()
		tb := rec.waitLeading(t, "b", runDuration+runRenew+slack+time.Second)
		rec.assertNoOverlap(t)
		rec.mu.Lock()
		aStop := rec.all[0].stop
		rec.mu.Unlock()
		assert.Less(t, aStop.Sub(hung), runDuration-runMargin+slack, "a stopped at its ValidUntil")
		assert.False(t, aStop.Before(validUntil.Add(-runRenew)), "not long before it")
		assert.Contains(t, a.State().LastError, "not renewed before")
		t.Logf("a stopped %s before b started", tb.start.Sub(aStop))
		swA.setHang(false)
	})
}

func TestRunReleasesOnShutdown(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		p := startPair(t, store, patient)
		p.stopA()
		p.rec.waitLeading(t, "b", 30*time.Second) // patient: only a release lets b in
		p.rec.assertNoOverlap(t)
	})
}

// TestRunReleasesWhenShutdownCancelsARenewal: a renewal cut short by the
// shutdown is no loss: the lease is still released. The lead returns only
// after the cancelled renewal has answered, so Run sees that answer first.
func TestRunReleasesWhenShutdownCancelsARenewal(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		key := freshKey()
		rec := &terms{}
		swA := &switchStore{Store: store}
		a, b := runLease(t, swA, key, "a"), runLease(t, store, key, "b", patient)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		led := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- a.Run(ctx, func(ctx context.Context, _ lease.Term) error {
				close(led)
				<-ctx.Done()
				assert.Eventually(t, func() bool { _, returned := swA.hungPuts(); return returned == 1 },
					slack, time.Millisecond, "the renewal answers")
				return ctx.Err()
			})
		}()
		<-led
		run(t, b, rec, "b")
		swA.hangPuts(1)
		require.Eventually(t, func() bool { blocked, _ := swA.hungPuts(); return blocked == 1 }, runRenew+slack,
			5*time.Millisecond, "a renewal is in flight")
		cancel()
		require.NoError(t, <-done)
		rec.waitLeading(t, "b", 30*time.Second) // patient: only a release lets b in
		assert.Zero(t, a.State().Losses)
		assert.Equal(t, int64(1), a.State().Acquisitions, "no term after the shutdown")
	})
}

func TestRunReturnsLeadsError(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		key := freshKey()
		a, b := runLease(t, store, key, "a"), runLease(t, store, key, "b")
		boom := errors.New("boom")
		err := a.Run(t.Context(), func(context.Context, lease.Term) error { return boom })
		require.ErrorIs(t, err, boom)
		assert.False(t, a.State().Leader)
		_, err = b.Acquire(t.Context())
		assert.NoError(t, err, "the lease was released")
	})
}
