package nomadbridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/runner"
)

// Jobs Nomad forgot. Once dispatch has registered a task's job it deletes
// the run-queue message, so from then on Nomad is the only record that the
// task should run. Nomad can lose that record: a dev agent keeps its
// server state in memory and comes back empty after a restart, a cluster
// can be rebuilt from scratch, an operator can purge a job by hand. The
// watch would then never see an allocation to report, and the task would
// stay queued or running for ever.
//
// So the watch keeps every job it expects (registered by this bridge, or
// tracked from the allocation list) that has no allocation in Nomad's last
// list as pending. The lost-job loop asks Nomad for each pending job after
// LostJobCheck (a consistent read, not a stale one): a job that exists is
// waiting for room (asked again later, backing off to lostJobMaxEvery); a
// job Nomad answers 404 for is reported infrastructure_fail, which the job
// machine retries as a new attempt.
//
//	registered ──▶ pending ──alloc listed──▶ tracked (watch.go)
//	tracked ──allocs gone, not by us──▶ pending
//	pending ──Jobs.Info 404──▶ infrastructure_fail "Nomad no longer has…"

// lostJobMaxEvery caps how rarely a pending job that exists is asked
// about again.
const lostJobMaxEvery = 5 * time.Minute

type pendingJob struct {
	tj    *trackedJob
	due   time.Time     // when to ask Nomad
	every time.Duration // current interval between asks
}

// expectJob records a job dispatch just registered: the watch takes it
// from here without looking it up, and the lost-job loop follows it until
// its first allocation is listed.
func (b *Bridge) expectJob(tj *trackedJob) {
	w := &b.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.jobs[tj.id] != nil {
		return
	}
	b.pendLocked(tj)
}

// pendLocked makes tj pending; w.mu is held.
func (b *Bridge) pendLocked(tj *trackedJob) {
	w := &b.watch
	if w.pending[tj.id] == nil && !tj.over.Load() && tj.reporter != nil {
		w.pending[tj.id] = &pendingJob{tj: tj, due: b.cfg.Clock.Now().Add(b.cfg.LostJobCheck), every: b.cfg.LostJobCheck}
	}
}

// lostJobLoop asks Nomad about due pending jobs every LostJobCheck.
func (b *Bridge) lostJobLoop(ctx context.Context) {
	for b.sleep(ctx, b.cfg.LostJobCheck) {
		b.checkPending(ctx)
	}
}

// checkPending asks Nomad about every due pending job, a few at a time.
func (b *Bridge) checkPending(ctx context.Context) {
	w := &b.watch
	now := b.cfg.Clock.Now()
	var due []*pendingJob
	w.mu.Lock()
	for _, p := range w.pending {
		if !now.Before(p.due) && !w.inflight[p.tj.id] {
			due = append(due, p)
		}
	}
	w.mu.Unlock()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, p := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b.checkLost(ctx, p)
		})
	}
	wg.Wait()
}

// checkLost asks Nomad whether p's job still exists and reports the task
// infrastructure_fail when Nomad no longer has it.
func (b *Bridge) checkLost(ctx context.Context, p *pendingJob) {
	w := &b.watch
	tj := p.tj
	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	q := b.queryOpts(nctx)
	q.AllowStale = false // a lagging follower must not make a job look lost
	_, _, err := b.cfg.Nomad.Jobs.Info(tj.id, q)
	cancel()
	if !isNotFound(err) {
		if err != nil && ctx.Err() == nil {
			b.stats.nomadErrors.Add(1)
			tj.log.Warn("ask Nomad about a job with no allocation", "error", b.nomadErr("look up job "+tj.id, err))
		}
		w.mu.Lock()
		if err == nil { // it waits for room: ask less often
			p.every = min(2*p.every, lostJobMaxEvery)
		}
		p.due = b.cfg.Clock.Now().Add(p.every)
		w.mu.Unlock()
		return
	}
	w.mu.Lock()
	if w.pending[tj.id] != p {
		w.mu.Unlock() // an allocation appeared meanwhile
		return
	}
	w.mu.Unlock()
	res := runner.TaskResult{Status: runner.StatusInfrastructureFail, Message: fmt.Sprintf(
		"Nomad no longer has the task's job %s: its servers lost their state (a restarted dev agent or a rebuilt cluster) or the job was purged outside Orbit", tj.id)}
	err = tj.reporter.Finish(ctx, res)
	var ae *runner.APIError
	switch {
	case err == nil:
		b.stats.reported.Add(1)
		b.stats.lost.Add(1)
		tj.log.Error("Nomad lost the task's job: reported infrastructure_fail")
	case errors.Is(err, runner.ErrTaskGone):
		tj.log.Info("Nomad no longer has the job of a task that is already terminal")
	case errors.As(err, &ae) && !ae.Temporary():
		tj.log.Error("runner API refused the lost job's outcome", "error", err)
	default:
		if ctx.Err() == nil {
			tj.log.Warn("cannot report a lost job; will retry", "error", err)
		}
		return
	}
	w.mu.Lock()
	if w.pending[tj.id] == p {
		delete(w.pending, tj.id)
	}
	w.mu.Unlock()
}
