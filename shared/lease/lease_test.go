package lease_test

import (
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/lease"
)

const (
	duration = 15 * time.Second
	renew    = 5 * time.Second
	margin   = 3 * time.Second
)

// newLease returns a lease on store for holder with the test durations.
func newLease(t *testing.T, store kv.Store, key, holder string, clk lease.Clock) *lease.Lease {
	t.Helper()
	l, err := lease.New(store, lease.Config{Key: key, Holder: holder, Duration: duration, Renew: renew,
		Margin: margin, Clock: clk})
	require.NoError(t, err)
	return l
}

func freshKey() string { return "test-" + rand.Text()[:8] }

// twoLeases returns a fake clock and holders a and b of a fresh key on it.
func twoLeases(t *testing.T, store kv.Store) (*fakeClock, *lease.Lease, *lease.Lease) {
	t.Helper()
	clk, key := newClock(), freshKey()
	return clk, newLease(t, store, key, "a", clk), newLease(t, store, key, "b", clk)
}

func TestAcquireRenewRelease(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		ctx := t.Context()
		clk, a, b := twoLeases(t, store)

		ta, err := a.Acquire(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), ta.Token, "the first term has token 1")
		assert.Equal(t, clk.Now(), ta.AcquiredAt)
		assert.Equal(t, clk.Now().Add(duration-margin), ta.ValidUntil, "valid until sent + Duration - Margin")
		assert.True(t, a.State().Leader)

		_, err = b.Acquire(ctx)
		var held *lease.HeldError
		require.ErrorAs(t, err, &held)
		assert.ErrorIs(t, err, lease.ErrHeld)
		assert.Equal(t, "a", held.Holder)
		assert.Equal(t, duration, held.TakeoverIn, "a standby waits a whole Duration from its first sight")
		assert.False(t, b.State().Leader)
		assert.Equal(t, "a", b.State().CurrentHolder)

		clk.Advance(renew)
		ta2, err := a.Renew(ctx, ta)
		require.NoError(t, err)
		assert.Equal(t, ta.Token, ta2.Token, "a renewal keeps the token")
		assert.Equal(t, clk.Now().Add(duration-margin), ta2.ValidUntil)
		assert.Equal(t, ta2.ValidUntil, a.State().ValidUntil)

		require.NoError(t, a.Release(ctx, ta2))
		assert.False(t, a.State().Leader)
		assert.Zero(t, a.State().Losses, "a release is no loss")
		tb, err := b.Acquire(ctx)
		require.NoError(t, err, "a released lease is taken at once")
		assert.Equal(t, int64(2), tb.Token)

		_, err = a.Renew(ctx, ta2)
		assert.ErrorIs(t, err, lease.ErrLost, "the released term cannot be renewed")
		assert.NoError(t, a.Release(ctx, ta2), "releasing a lost lease is no error")
		_, err = b.Renew(ctx, tb)
		assert.NoError(t, err, "and did not touch b's term")
	})
}

// TestTakeover: a standby takes over only once the holder's last write has
// stood for a whole Duration on the standby's own clock, whatever the two
// clocks' offset, and the deposed holder had stopped at least Margin
// before, on its own clock.
func TestTakeover(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration // of the standby's clock from the holder's
	}{
		{name: "same clock"},
		{name: "standby clock an hour ahead", offset: time.Hour},
		{name: "standby clock an hour behind", offset: -time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, store kv.Store) {
				ctx := t.Context()
				clk := newClock()
				key := freshKey()
				a := newLease(t, store, key, "a", clk)
				b := newLease(t, store, key, "b", offsetClock{base: clk, offset: tc.offset})

				ta, err := a.Acquire(ctx)
				require.NoError(t, err)
				// a renews twice, then dies; b polls every Renew.
				for range 2 {
					_, err = b.Acquire(ctx)
					require.ErrorIs(t, err, lease.ErrHeld)
					clk.Advance(renew)
					ta, err = a.Renew(ctx, ta)
					require.NoError(t, err)
				}
				died := clk.Now()
				var tb lease.Term
				for clk.Now().Sub(died) < 2*duration {
					if tb, err = b.Acquire(ctx); err == nil {
						break
					}
					require.ErrorIs(t, err, lease.ErrHeld)
					clk.Advance(time.Second)
				}
				require.NoError(t, err, "b took over")
				since := clk.Now().Sub(died)
				assert.GreaterOrEqual(t, since, duration, "not before the last write stood for Duration")
				assert.LessOrEqual(t, since, duration+time.Second, "at the first poll after that")
				assert.Equal(t, ta.Token+1, tb.Token, "a takeover raises the token")
				assert.GreaterOrEqual(t, tb.AcquiredAt.Add(-tc.offset).Sub(ta.ValidUntil), margin,
					"the holder stopped leading at least Margin before the takeover")

				_, err = a.Renew(ctx, ta)
				assert.ErrorIs(t, err, lease.ErrLost, "the deposed holder learns it lost")
			})
		})
	}
}

func TestRenewalsKeepTheStandbyOut(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		ctx := t.Context()
		clk, a, b := twoLeases(t, store)
		ta, err := a.Acquire(ctx)
		require.NoError(t, err)
		for range 10 { // 10 × Renew = 50 s, well past Duration
			_, err = b.Acquire(ctx)
			require.ErrorIs(t, err, lease.ErrHeld)
			clk.Advance(renew)
			ta, err = a.Renew(ctx, ta)
			require.NoError(t, err)
		}
		assert.Equal(t, int64(1), ta.Token)
	})
}

// TestRetriedWriteWhoseAnswerWasLost: a renewal (or acquisition) applied by
// its first attempt and answered ErrConflict on its retry is recognised as
// the holder's own write, not taken for a loss.
func TestRetriedWriteWhoseAnswerWasLost(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		ctx := t.Context()
		clk := newClock()
		sw := &switchStore{Store: store}
		a := newLease(t, sw, freshKey(), "a", clk)

		sw.loseAnswers(1)
		ta, err := a.Acquire(ctx)
		require.NoError(t, err, "the acquisition was applied")
		clk.Advance(renew)
		sw.loseAnswers(1)
		ta2, err := a.Renew(ctx, ta)
		require.NoError(t, err, "the renewal was applied")
		assert.Equal(t, clk.Now().Add(duration-margin), ta2.ValidUntil)
		clk.Advance(renew)
		_, err = a.Renew(ctx, ta2)
		assert.NoError(t, err, "the term's version followed the recognised write")
	})
}

func TestReacquireOwnLeaseAfterFailedRenewal(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		ctx := t.Context()
		clk := newClock()
		sw := &switchStore{Store: store}
		a := newLease(t, sw, freshKey(), "a", clk)
		ta, err := a.Acquire(ctx)
		require.NoError(t, err)
		sw.setDown(true)
		_, err = a.Renew(ctx, ta)
		require.ErrorIs(t, err, errDown)
		assert.NotErrorIs(t, err, lease.ErrLost)
		assert.Contains(t, a.State().LastError, "store unreachable")
		sw.setDown(false)
		ta2, err := a.Acquire(ctx)
		require.NoError(t, err, "its own item is taken back at once")
		assert.Equal(t, ta.Token+1, ta2.Token, "as a new term")
	})
}

func TestConcurrentAcquireHasOneWinner(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		clk := newClock()
		key := freshKey()
		const n = 8
		var wg sync.WaitGroup
		wins := make(chan int64, n)
		for i := range n {
			l := newLease(t, store, key, "h"+string(rune('a'+i)), clk)
			wg.Go(func() {
				if term, err := l.Acquire(t.Context()); err == nil {
					wins <- term.Token
				} else {
					assert.ErrorIs(t, err, lease.ErrHeld)
				}
			})
		}
		wg.Wait()
		close(wins)
		var tokens []int64
		for tok := range wins {
			tokens = append(tokens, tok)
		}
		assert.Equal(t, []int64{1}, tokens, "exactly one candidate wins")
	})
}

func TestMalformedItem(t *testing.T) {
	eachStore(t, func(t *testing.T, store kv.Store) {
		key := freshKey()
		_, err := store.Put(t.Context(), kv.Item{PK: "LEASE#" + key, SK: "LEASE", Data: []byte("not json")}, kv.Condition{})
		require.NoError(t, err)
		_, err = newLease(t, store, key, "a", newClock()).Acquire(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "LEASE#"+key+"/LEASE is not a lease record")
	})
}

func TestNewChecksConfig(t *testing.T) {
	store := &switchStore{}
	tests := []struct {
		name  string
		store kv.Store
		cfg   lease.Config
		err   string
	}{
		{name: "no store", cfg: lease.Config{Key: "k", Holder: "h"}, err: "nil store"},
		{name: "no key", store: store, cfg: lease.Config{Holder: "h"}, err: "Config.Key is empty"},
		{name: "no holder", store: store, cfg: lease.Config{Key: "k"}, err: "Config.Holder is empty"},
		{name: "negative", store: store, cfg: lease.Config{Key: "k", Holder: "h", Margin: -time.Second}, err: "negative duration"},
		{name: "renew too slow", store: store, cfg: lease.Config{Key: "k", Holder: "h", Duration: 10 * time.Second,
			Renew: 8 * time.Second, Margin: 2 * time.Second}, err: "Renew (8s) + Margin (2s) must be less than Duration (10s)"},
		{name: "defaults", store: store, cfg: lease.Config{Key: "k", Holder: "h"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := lease.New(tc.store, tc.cfg)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "h", l.State().Holder)
		})
	}
}

func TestNewHolderID(t *testing.T) {
	a, b := lease.NewHolderID("host"), lease.NewHolderID("host")
	assert.NotEqual(t, a, b, "unique per process start")
	assert.Regexp(t, `^host-[A-Z2-7]{10}$`, a)
	assert.Regexp(t, `^holder-`, lease.NewHolderID(""))
}
