package lease

import (
	"context"
	"errors"
	"fmt"
)

// Run campaigns for the lease until ctx ends and runs lead for each term won,
// with a context that is cancelled the moment the term ends: a renewal
// fails (whatever the reason: the holder cannot know it still leads), the
// item was taken, or ValidUntil passes before a renewal succeeded. After a
// lost term Run waits for lead to return, then campaigns again. When ctx
// ends, or lead returns while the term stands, Run waits for lead, releases
// the lease and returns lead's error (nil when ctx ended). Store failures
// while campaigning are logged and retried every Renew; Run returns nil when
// ctx ends.
func (l *Lease) Run(ctx context.Context, lead func(ctx context.Context, term Term) error) error {
	for {
		term, err := l.Acquire(ctx)
		if err == nil {
			ended, err := l.hold(ctx, term, lead)
			if ended {
				return err
			}
			continue
		}
		if ctx.Err() != nil {
			l.releaseIfMine(ctx)
			return nil
		}
		wait := l.cfg.Renew
		var held *HeldError
		if errors.As(err, &held) {
			wait = max(min(wait, held.TakeoverIn), 0)
		} else {
			l.log.Warn("cannot campaign for the lease; retrying", "error", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			l.releaseIfMine(ctx)
			return nil
		case <-l.cfg.Clock.After(wait):
		}
	}
}

// releaseIfMine releases the item on shutdown when it still names this
// holder although no term runs (a term lost to a failed renewal that no
// one took over): the standby then need not wait out the Duration.
func (l *Lease) releaseIfMine(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	it, err := l.store.Get(rctx, l.pk, l.sk)
	if err != nil {
		return
	}
	rec, err := l.decode(it)
	if err != nil || rec.Holder != l.cfg.Holder {
		return
	}
	if err := l.Release(rctx, Term{Token: rec.Token, version: it.Version}); err != nil {
		l.log.Warn("release the lease on shutdown", "error", err)
	}
}

// renewal is the outcome of one Renew.
type renewal struct {
	term Term
	err  error
}

// hold runs lead for one term and renews it. It reports ended when Run must
// return (ctx ended or lead returned), with lead's error; otherwise the term
// was lost and lead has returned.
func (l *Lease) hold(ctx context.Context, term Term, lead func(context.Context, Term) error) (bool, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- lead(lctx, term) }()

	renewed := make(chan renewal, 1)
	inflight := false
	tick := l.cfg.Clock.After(l.cfg.Renew)
	expire := l.cfg.Clock.After(term.ValidUntil.Sub(l.cfg.Clock.Now()))
	lose := func(reason error) (bool, error) {
		cancel()
		stopping := l.cfg.Clock.Now()
		l.stepDown(reason.Error())
		l.log.Error("lease lost: stopped leading", "token", term.Token, "reason", reason)
		<-done
		l.log.Info("lead stopped after losing the lease", "token", term.Token,
			"took", l.cfg.Clock.Now().Sub(stopping))
		if inflight {
			<-renewed // cancelled with lctx
		}
		return false, nil
	}
	for {
		select {
		case err := <-done:
			cancel()
			if inflight {
				if r := <-renewed; r.err == nil {
					term = r.term
				}
			}
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			if rerr := l.Release(rctx, term); rerr != nil {
				l.log.Warn("release the lease (a standby takes it over once it expires)", "error", rerr)
			}
			rcancel()
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				err = nil
			}
			return true, err
		case <-tick:
			if ctx.Err() != nil {
				continue // shutting down: lead returns, then the lease is released
			}
			inflight = true
			go func(t Term) {
				nt, err := l.Renew(lctx, t)
				renewed <- renewal{term: nt, err: err}
			}(term)
		case r := <-renewed:
			inflight = false
			if r.err != nil && ctx.Err() != nil {
				continue // cancelled by the shutdown, not lost
			}
			if r.err != nil {
				return lose(r.err)
			}
			term = r.term
			tick = l.cfg.Clock.After(l.cfg.Renew)
			expire = l.cfg.Clock.After(term.ValidUntil.Sub(l.cfg.Clock.Now()))
		case <-expire:
			if ctx.Err() != nil {
				continue
			}
			return lose(fmt.Errorf("lease %s: token %d: not renewed before %s: %w", l.cfg.Key, term.Token,
				term.ValidUntil.Format("15:04:05.000"), ErrLost))
		}
	}
}
