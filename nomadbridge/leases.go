package nomadbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// Machine and macos tasks on leased VMs (Config.Pool):
//
//	dispatch ──▶ Pool.Lease(task, agent env) ──ok──▶ track, Delete the message
//	                 ├─ ErrUnknownClass, ErrRefused ──▶ POST /task/finish
//	                 │                     infrastructure_fail (the pool's reason), Delete
//	                 ├─ ErrUnavailable ──▶ Extend(backoff): redelivered later; the
//	                 │                     worker moves on (capacity may take long)
//	                 └─ other error ──▶ kept and retried in place, as Nomad errors
//
//	leaseLoop: Pool.Leases every PoolInterval (the first list after a start
//	re-learns every lease of this bridge's runner URL, with its token)
//	     running   ──▶ POST /task/heartbeat each HeartbeatInterval
//	                   410 (task over: finished, canceled) ──▶ Release
//	     stopped / expired ──▶ GET /task: 410 ──▶ Release (the agent reported)
//	                           live ──▶ POST /task/finish infrastructure_fail
//	                                    ──▶ Release (the job machine retries)
//
// Every step is idempotent: Lease by task ID, Finish (first terminal result
// wins), Release. A failed step is retried at the next list.

// poolCallTimeout bounds each VM pool call.
const poolCallTimeout = 30 * time.Second

// needsVM reports whether an executor's tasks need a VM.
func needsVM(executor string) bool { return executor == "machine" || executor == "macos" }

// trackedLease is a VM lease of one of this bridge's tasks.
type trackedLease struct {
	id       string
	log      *slog.Logger
	reporter TaskReporter // nil when the lease's request carries no token
	// gen is the lease list generation when the lease was tracked: a list
	// that started later and lacks it means it was released.
	gen uint64
	// lease is the lease as last seen (leaseState.mu).
	lease vmpool.Lease
	// over is set once the task is known to be terminal, or its early end
	// reported: what is left is Release.
	over atomic.Bool
}

// leaseState is what the bridge knows of its VM leases.
type leaseState struct {
	mu       sync.Mutex
	leases   map[string]*trackedLease // by lease ID
	inflight map[string]bool          // lease IDs being ended
	gen      uint64
	kick     chan struct{} // list again now
	workers  sync.WaitGroup
}

func (s *leaseState) init() {
	s.leases = map[string]*trackedLease{}
	s.inflight = map[string]bool{}
	s.kick = make(chan struct{}, 1)
}

func (s *leaseState) wait() { s.workers.Wait() }

func (s *leaseState) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// leaseVM hands a machine or macos task to the VM pool. Like dispatch, a
// nil error means the message was dealt with.
func (b *Bridge) leaseVM(ctx context.Context, log *slog.Logger, m queue.Message, msg runqueue.Message,
	rep TaskReporter, place runner.TaskPlacement) (*slog.Logger, error) {
	req := vmpool.Request{
		TaskID:        msg.TaskID,
		ProjectSlug:   msg.ProjectSlug,
		Purpose:       vmpool.Machine,
		Image:         msg.Image,
		ResourceClass: msg.ResourceClass,
		// DLC volumes are the project's: the pool never gives one to
		// another project's VM.
		DockerLayerCaching: msg.DockerLayerCaching,
		Env:                b.jobSpec.agentEnv(msg),
		Meta:               taskMeta(msg),
	}
	if place.SSH {
		// A rerun with SSH: the VM's agent listens on the VM service's SSH
		// port, which a pool with public VMs opens (ec2pool/access.go).
		req.Env[agent.EnvSSHAddr] = net.JoinHostPort("", strconv.Itoa(vmpool.SSHPort))
	}
	lease, ok, err := b.leaseFor(ctx, log, m, msg, rep, req, false)
	if !ok {
		return log, err
	}
	log = log.With("lease_id", lease.ID)
	b.track(lease, log, rep, msg, m)
	b.delete(ctx, log, m)
	return log, nil
}

// leaseFor asks the pool for req. ok is false when the message was dealt
// with (the task reported infrastructure_fail for good, or left for
// redelivery: err nil) or must be retried (err). With anyImage, an image
// the pool does not know is served by its default image (the lease's
// Request.Image says which served).
func (b *Bridge) leaseFor(ctx context.Context, log *slog.Logger, m queue.Message, msg runqueue.Message,
	rep TaskReporter, req vmpool.Request, anyImage bool) (vmpool.Lease, bool, error) {
	pctx, cancel := context.WithTimeout(ctx, poolCallTimeout)
	lease, err := b.cfg.Pool.Lease(pctx, req)
	if errors.Is(err, vmpool.ErrUnknownClass) && anyImage && req.Image != "" {
		log.Info("the VM pool has no such image: its default image serves the task", "purpose", req.Purpose, "image", req.Image)
		req.Image = ""
		lease, err = b.cfg.Pool.Lease(pctx, req)
	}
	cancel()
	switch {
	case errors.Is(err, vmpool.ErrUnknownClass), errors.Is(err, vmpool.ErrRefused):
		res := runner.TaskResult{Status: runner.StatusInfrastructureFail, Message: fmt.Sprintf(
			"cannot run the task: the VM pool has no %s VM with image %s and resource class %s (%v)",
			req.Purpose, orDefault(req.Image, "default"), orDefault(req.ResourceClass, "medium"), err)}
		if errors.Is(err, vmpool.ErrRefused) {
			res.Message = "cannot run the task: " + err.Error()
		}
		if ferr := rep.Finish(ctx, res); ferr != nil && !errors.Is(ferr, runner.ErrTaskGone) {
			return vmpool.Lease{}, false, fmt.Errorf("report unplaceable task: %w", ferr)
		}
		b.stats.unplaceable.Add(1)
		log.Error("no VM of the task's class: reported infrastructure_fail", "purpose", req.Purpose, "image", req.Image,
			"resource_class", req.ResourceClass, "error", err)
		b.delete(ctx, log, m)
		return vmpool.Lease{}, false, nil
	case errors.Is(err, vmpool.ErrUnavailable):
		b.stats.poolUnavailable.Add(1)
		b.redeliverLater(ctx, log, m, err)
		return vmpool.Lease{}, false, nil
	case err != nil && ctx.Err() != nil:
		return vmpool.Lease{}, false, ctx.Err()
	case err != nil:
		b.stats.poolErrors.Add(1)
		return vmpool.Lease{}, false, fmt.Errorf("lease a VM: %w", err)
	}
	return lease, true, nil
}

// track tracks a lease dispatch made and counts it.
func (b *Bridge) track(lease vmpool.Lease, log *slog.Logger, rep TaskReporter, msg runqueue.Message, m queue.Message) {
	if b.trackLease(lease, log, rep) {
		b.stats.duplicates.Add(1)
		log.Info("the task already has its VM: duplicate message", "purpose", lease.Request.Purpose)
		return
	}
	b.stats.leased.Add(1)
	log.Info("task leased a VM", "purpose", lease.Request.Purpose, "executor", msg.Executor, "image", lease.Request.Image,
		"resource_class", msg.ResourceClass, "expires_at", lease.ExpiresAt, "receive_count", m.ReceiveCount)
}

// redeliverLater leaves a message whose task found no VM to be received
// again after a backoff that grows with its receive count: the dispatch
// worker moves on to other tasks (docker tasks are not held up behind
// machine tasks while the pool is exhausted), and the task is retried at
// the queue's pace, not in a loop.
func (b *Bridge) redeliverLater(ctx context.Context, log *slog.Logger, m queue.Message, err error) {
	wait := b.cfg.MinBackoff
	for i := 1; i < m.ReceiveCount && wait < b.cfg.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, b.cfg.MaxBackoff)
	log.Info("no VM available now: leaving the message for redelivery", "error", err,
		"retry_in", wait, "receive_count", m.ReceiveCount)
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nomadCallTimeout)
	defer cancel()
	if err := b.cfg.Queue.Extend(ectx, m.Receipt, wait); err != nil && !errors.Is(err, queue.ErrReceiptInvalid) {
		log.Warn("set the message's redelivery time (it is redelivered after its visibility timeout)", "error", err)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def + " (default)"
	}
	return s
}

// trackLease remembers a lease dispatch made; it reports whether the bridge
// knew it already.
func (b *Bridge) trackLease(l vmpool.Lease, log *slog.Logger, rep TaskReporter) bool {
	s := &b.leases
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[l.ID] != nil {
		return true
	}
	s.leases[l.ID] = &trackedLease{id: l.ID, log: log, reporter: rep, gen: s.gen, lease: l}
	return false
}

// adoptLease makes a tracked lease of one listed by the pool; nil when the
// lease is not this bridge's (another Orbit installation's, or not a
// build agent's: its agents report to another runner URL).
func (b *Bridge) adoptLease(l vmpool.Lease) *trackedLease {
	r := l.Request
	if r.Env[agent.EnvRunnerURL] != b.cfg.RunnerURL {
		return nil
	}
	idx, _ := strconv.Atoi(r.Meta[MetaTaskIndex])
	tl := &trackedLease{id: l.ID, lease: l, log: b.log.With("pipeline_id", r.Meta[MetaPipelineID],
		"workflow_id", r.Meta[MetaWorkflowID], "job_id", r.Meta[MetaJobID], "task_index", idx,
		"task_id", r.TaskID, "lease_id", l.ID)}
	if tok := r.Env[agent.EnvTaskToken]; tok != "" {
		tl.reporter = b.cfg.RunnerClient(tok)
	} else {
		tl.log.Error("VM lease has no task token: its task's outcome cannot be reported")
	}
	return tl
}

// leaseLoop lists the pool's leases every PoolInterval (at once when
// poked) and ends those whose task or VM is over. The first list after a
// start is the reconciliation.
func (b *Bridge) leaseLoop(ctx context.Context) {
	wait := b.cfg.MinBackoff
	for ctx.Err() == nil {
		next := b.cfg.PoolInterval
		if err := b.syncLeases(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			b.stats.poolErrors.Add(1)
			b.log.Error("list the VM pool's leases", "error", err, "retry_in", wait)
			next, wait = min(wait, next), b.nextBackoff(wait)
		} else {
			wait = b.cfg.MinBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-b.leases.kick:
		case <-b.cfg.Clock.After(next):
		}
	}
}

// syncLeases brings the tracked leases in line with the pool's list and
// starts ending those whose VM stopped, whose lease expired or whose task
// is over.
func (b *Bridge) syncLeases(ctx context.Context) error {
	s := &b.leases
	s.mu.Lock()
	s.gen++
	gen := s.gen
	s.mu.Unlock()

	pctx, cancel := context.WithTimeout(ctx, poolCallTimeout)
	list, err := b.cfg.Pool.Leases(pctx)
	cancel()
	if err != nil {
		return err
	}
	now := b.cfg.Clock.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	listed := map[string]bool{}
	for _, l := range list {
		tl := s.leases[l.ID]
		if tl == nil {
			if tl = b.adoptLease(l); tl == nil {
				continue
			}
			tl.gen = gen
			s.leases[l.ID] = tl
			tl.log.Info("VM lease found in the pool", "state", l.State)
		}
		listed[l.ID] = true
		tl.lease = l
	}
	for id, tl := range s.leases {
		if !listed[id] {
			if tl.gen < gen && !s.inflight[id] {
				delete(s.leases, id) // released behind the bridge's back
			}
			continue
		}
		why := leaseEnd(tl.lease, now)
		if (why == "" && !tl.over.Load()) || s.inflight[id] {
			continue
		}
		s.inflight[id] = true
		s.workers.Add(1)
		go b.endLease(ctx, tl, why)
	}
	return nil
}

// leaseEnd says why a lease's VM cannot be running its task any more: it
// stopped, or its lease expired ("" while it runs).
func leaseEnd(l vmpool.Lease, now time.Time) string {
	switch {
	case l.State == vmpool.Stopped:
		reason := l.Reason
		if reason == "" {
			reason = "the pool gave no reason"
		}
		return fmt.Sprintf("the task's VM (lease %s) stopped before the task ended: %s", l.ID, reason)
	case !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt):
		return fmt.Sprintf("the task's VM lease %s expired at %s before the task ended", l.ID,
			l.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return ""
}

// endLease reports a task whose VM ended before it did as
// infrastructure_fail, then releases the lease. On failure it leaves the
// lease for the next list to retry.
func (b *Bridge) endLease(ctx context.Context, tl *trackedLease, why string) {
	s := &b.leases
	defer s.workers.Done()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, tl.id)
		s.mu.Unlock()
	}()
	log := tl.log
	if !tl.over.Load() && why != "" && tl.reporter != nil {
		if !b.reportLeaseEnd(ctx, tl, why) {
			return
		}
	}
	tl.over.Store(true)

	pctx, cancel := context.WithTimeout(ctx, poolCallTimeout)
	err := b.cfg.Pool.Release(pctx, tl.id)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			b.stats.poolErrors.Add(1)
			log.Warn("release the VM lease; will retry", "error", err)
		}
		return
	}
	b.stats.released.Add(1)
	log.Info("VM lease released")
	s.mu.Lock()
	delete(s.leases, tl.id)
	s.mu.Unlock()
}

// reportLeaseEnd asks the runner API whether the task is over and, when it
// is not, reports it infrastructure_fail with why. It returns false when
// it must be tried again.
func (b *Bridge) reportLeaseEnd(ctx context.Context, tl *trackedLease, why string) bool {
	log := tl.log
	cctx, cancel := context.WithTimeout(ctx, runnerCheckTimeout)
	_, err := tl.reporter.Placement(cctx)
	cancel()
	var ae *runner.APIError
	switch {
	case errors.Is(err, runner.ErrTaskGone):
		log.Info("task is over: releasing its VM")
		return true
	case errors.As(err, &ae) && !ae.Temporary():
		log.Error("runner API refused to tell whether the task is over; releasing its VM", "error", err)
		return true
	case err != nil:
		if ctx.Err() == nil {
			log.Warn("cannot ask the runner API whether the task is over; will retry", "error", err)
		}
		return false
	}
	res := runner.TaskResult{Status: runner.StatusInfrastructureFail, Message: why}
	err = tl.reporter.Finish(ctx, res)
	switch {
	case err == nil:
		b.stats.reported.Add(1)
		log.Error("the task's VM ended before the task: reported infrastructure_fail", "reason", why)
	case errors.Is(err, runner.ErrTaskGone):
		log.Info("task was already terminal")
	case errors.As(err, &ae) && !ae.Temporary():
		log.Error("runner API refused the outcome; releasing the VM anyway", "error", err)
	default:
		if ctx.Err() == nil {
			log.Warn("cannot report the task outcome; will retry", "error", err)
		}
		return false
	}
	return true
}

// runningLeases are the leases whose tasks get heartbeats: VM running,
// lease not expired, task not known to be over.
func (b *Bridge) runningLeases() []*trackedLease {
	s := &b.leases
	now := b.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*trackedLease
	for _, tl := range s.leases {
		if tl.reporter != nil && !tl.over.Load() && !s.inflight[tl.id] && leaseEnd(tl.lease, now) == "" {
			out = append(out, tl)
		}
	}
	return out
}

func (b *Bridge) heartbeatLease(ctx context.Context, tl *trackedLease) {
	hctx, cancel := context.WithTimeout(ctx, max(b.cfg.HeartbeatInterval, runnerCheckTimeout))
	defer cancel()
	err := tl.reporter.Heartbeat(hctx)
	switch {
	case err == nil:
		b.stats.heartbeats.Add(1)
	case errors.Is(err, runner.ErrTaskGone):
		tl.log.Info("task is terminal in the runner API while its VM runs: releasing the VM")
		tl.over.Store(true)
		b.leases.poke()
	case ctx.Err() == nil:
		tl.log.Warn("heartbeat failed", "error", err)
	}
}
