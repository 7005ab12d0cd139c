package nomadbridge

import (
	"context"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/lease"
)

// With Config.Lease, at most one bridge of an installation is active (two
// instances run for availability):
//
//	Run ──▶ Lease.Run: campaign ──won (token n)──▶ runActive(term ctx):
//	                                                receive, dispatch, watch,
//	                                                heartbeats, metrics, VM leases
//	           renewal failed / lease taken / not renewed in time
//	                ──▶ term ctx cancelled at once: every loop stops, the bridge
//	                    waits for them, then campaigns again as a standby
//	           ctx ends ──▶ loops stop, lease released (the standby takes it at once)
//
// A standby takes over within Duration + Renew of the active bridge's last
// renewal (package lease), and the active one stops at least Margin before
// that. Nothing is dispatched twice across a takeover because dispatch is
// idempotent by Nomad job ID (bridge.go): a message the old bridge received
// but did not delete is redelivered to the new one after its visibility
// timeout, and finds its job in Nomad (a duplicate) or its task terminal.
// The new bridge's first allocation list reconciles running tasks.

// Lease is the leader lease that gates the bridge; *lease.Lease satisfies
// it. Run must call lead once per term won, with a context cancelled when
// the term ends, and return when ctx ends.
type Lease interface {
	Run(ctx context.Context, lead func(ctx context.Context, term lease.Term) error) error
	State() lease.State
}

var _ Lease = (*lease.Lease)(nil)

// Metrics of the lease, reported every MetricsInterval by active and standby
// bridges alike (so that CloudWatch's Maximum over the installation's
// series is 0 exactly when no bridge leads).
const (
	// MetricLeaseLeader is 1 while this bridge holds the lease, else 0.
	MetricLeaseLeader = "orbit.bridge.lease.leader"
	// MetricLeaseAcquired counts terms won (a takeover or a restart).
	MetricLeaseAcquired = "orbit.bridge.lease.acquired"
)

// LeaseState returns the lease's state, and false when the bridge runs
// without a lease (always active).
func (b *Bridge) LeaseState() (lease.State, bool) {
	if b.cfg.Lease == nil {
		return lease.State{}, false
	}
	return b.cfg.Lease.State(), true
}

// runLeased runs the bridge's loops only while it holds the lease.
func (b *Bridge) runLeased(ctx context.Context) error {
	b.log.Info("nomadbridge standing by for the lease", "holder", b.cfg.Lease.State().Holder)
	var wg sync.WaitGroup
	gctx, stop := context.WithCancel(ctx)
	wg.Go(func() { b.leaseGaugeLoop(gctx) })
	err := b.cfg.Lease.Run(ctx, func(tctx context.Context, term lease.Term) error {
		log := b.log.With("lease_token", term.Token)
		log.Info("leading: the bridge is active", "valid_until", term.ValidUntil)
		b.cfg.Metrics.Count(MetricLeaseAcquired, 1)
		b.cfg.Metrics.Gauge(MetricLeaseLeader, 1)
		ended := make(chan time.Time, 1)
		unwatch := context.AfterFunc(tctx, func() { ended <- b.cfg.Clock.Now() })
		err := b.runActive(tctx)
		unwatch()
		b.cfg.Metrics.Gauge(MetricLeaseLeader, 0)
		stopped := []any{}
		select {
		case at := <-ended:
			stopped = append(stopped, "stopped_in", b.cfg.Clock.Now().Sub(at))
		default:
		}
		log.Info("no longer leading: the bridge stands by", stopped...)
		return err
	})
	stop()
	wg.Wait()
	return err
}

func (b *Bridge) leaseGaugeLoop(ctx context.Context) {
	for {
		v := 0.0
		if b.cfg.Lease.State().Leader {
			v = 1
		}
		b.cfg.Metrics.Gauge(MetricLeaseLeader, v)
		if !b.sleep(ctx, b.cfg.MetricsInterval) {
			return
		}
	}
}
