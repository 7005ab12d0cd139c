package nomadbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// Why a task waits, told to the runner API (POST /task/waiting) so that the
// user sees it on the job instead of a silent "queued":
//
//	dispatch: Nomad unreachable ──▶ "Nomad unreachable since 10:02:13 UTC"
//	     the message is held (Extend); nomadGate probes Nomad every
//	     ProbeInterval and, when it answers, releases every held message at
//	     once: dispatch resumes within a probe of Nomad's return
//	Nomad /v1/evaluations?filter=blocked (blocking queries) ──▶ evalWatchLoop
//	     a blocked evaluation of an Orbit job ──▶ its failed placement:
//	     "no client with resource class large has room: memory exhausted on
//	     1 of 1 nodes" | "node drained: node-1" | …
//
// Reports are hints: a failed report is logged and not retried.

// WaitReporter is the optional part of a TaskReporter that says why a task
// waits; *runner.Client has it.
type WaitReporter interface {
	Waiting(ctx context.Context, w runner.TaskWaiting) error
}

var _ WaitReporter = (*runner.Client)(nil)

// NomadEvaluations is the part of *api.Evaluations the bridge uses.
type NomadEvaluations interface {
	List(q *api.QueryOptions) ([]*api.Evaluation, *api.QueryMeta, error)
}

var _ NomadEvaluations = (*api.Evaluations)(nil)

// maxDispatchBackoff caps the wait between dispatch attempts of a held
// message; the gate releases it sooner when Nomad answers.
const maxDispatchBackoff = 5 * time.Second

// nomadGate is whether Nomad answers, as dispatch found out.
type nomadGate struct {
	mu     sync.Mutex
	since  time.Time     // when Nomad stopped answering
	back   chan struct{} // closed when Nomad answers again; nil while it does
	probes sync.WaitGroup
}

// nomadDown records that Nomad did not answer; it returns since when, and a
// channel closed once Nomad answers again. The first call of an outage
// starts the probe.
func (b *Bridge) nomadDown(ctx context.Context) (time.Time, <-chan struct{}) {
	g := &b.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.back == nil {
		g.since, g.back = b.cfg.Clock.Now(), make(chan struct{})
		b.log.Warn("Nomad unreachable: holding tasks until it answers", "nomad", b.cfg.Nomad.Addr,
			"probe_every", b.cfg.ProbeInterval)
		back := g.back
		g.probes.Go(func() { b.probeNomad(ctx, back) })
	}
	return g.since, g.back
}

// nomadAnswered releases the messages held while Nomad was unreachable.
func (b *Bridge) nomadAnswered() {
	g := &b.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.back != nil {
		b.log.Info("Nomad answers again: releasing held tasks", "unreachable_for", b.cfg.Clock.Now().Sub(g.since))
		close(g.back)
		g.back = nil
	}
}

// probeNomad asks Nomad for one job every ProbeInterval until it answers
// (or back is closed by another success, or ctx ends).
func (b *Bridge) probeNomad(ctx context.Context, back <-chan struct{}) {
	for b.sleep(ctx, b.cfg.ProbeInterval) {
		select {
		case <-back:
			return
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, healthTimeout)
		q := b.queryOpts(pctx)
		q.PerPage = 1
		_, _, err := b.cfg.Nomad.Jobs.List(q)
		cancel()
		if err == nil {
			b.nomadAnswered()
			return
		}
	}
}

// unreachableReason is the waiting reason of an outage that began at since.
func unreachableReason(since time.Time) string {
	return "Nomad unreachable since " + since.UTC().Format("15:04:05") + " UTC"
}

// holdForNomad is process's wait after a failed dispatch: on an
// unreachable Nomad it tells the task why it waits (once per outage) and
// also wakes when Nomad answers. It reports whether ctx is still alive.
func (b *Bridge) holdForNomad(ctx context.Context, log *slog.Logger, m queue.Message, err error, wait time.Duration, told *time.Time) bool {
	var ne *NomadError
	if !errors.As(err, &ne) || !ne.Unreachable {
		return b.sleep(ctx, wait)
	}
	since, back := b.nomadDown(ctx)
	if !since.Equal(*told) {
		*told = since
		if msg, derr := runqueue.Decode(m.Body); derr == nil {
			b.tellWaiting(ctx, log, b.cfg.RunnerClient(msg.Token), runner.TaskWaiting{Reason: unreachableReason(since), Since: since})
		}
	}
	select {
	case <-ctx.Done():
		return false
	case <-back:
		return true
	case <-b.cfg.Clock.After(wait):
		return true
	}
}

// tellWaiting reports why a task waits, if its reporter can.
func (b *Bridge) tellWaiting(ctx context.Context, log *slog.Logger, rep TaskReporter, w runner.TaskWaiting) {
	wr, ok := rep.(WaitReporter)
	if !ok {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, runnerCheckTimeout)
	defer cancel()
	if err := wr.Waiting(wctx, w); err != nil && !errors.Is(err, runner.ErrTaskGone) && ctx.Err() == nil {
		log.Warn("cannot tell the runner API why the task waits", "reason", w.Reason, "error", err)
		return
	}
	log.Info("task waits", "reason", w.Reason)
}

// evalWatchLoop follows Nomad's blocked evaluations (blocking queries, the
// same index rules as the allocation watch) and tells each waiting Orbit
// task why Nomad cannot place it. Idle, it holds one query open.
func (b *Bridge) evalWatchLoop(ctx context.Context) {
	if b.cfg.Nomad.Evaluations == nil {
		return
	}
	idx := newWatchIndex(b.cfg.MinBackoff, b.cfg.MaxBackoff)
	told := map[string]string{} // Nomad job ID → reason told
	for ctx.Err() == nil {
		q := b.queryOpts(ctx)
		q.WaitIndex, q.WaitTime = idx.next(), b.cfg.WatchWait
		q.Filter = `Status == "blocked"`
		start := b.cfg.Clock.Now()
		evals, meta, err := b.cfg.Nomad.Evaluations.List(q)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := idx.failed()
			b.log.Debug("watch blocked evaluations", "error", b.nomadErr("list evaluations", err), "retry_in", wait)
			if !b.sleep(ctx, wait) {
				return
			}
			continue
		}
		var got uint64
		if meta != nil {
			got = meta.LastIndex
		}
		pause, _ := idx.answered(got, b.cfg.Clock.Now().Sub(start), q.WaitTime)
		b.explainBlocked(ctx, evals, told)
		if pause > 0 && !b.sleep(ctx, pause) {
			return
		}
	}
}

// explainBlocked reports the reason of each blocked Orbit job not told yet.
func (b *Bridge) explainBlocked(ctx context.Context, evals []*api.Evaluation, told map[string]string) {
	blocked := map[string]*api.Evaluation{}
	for _, e := range evals {
		if e.Status == "blocked" && len(e.FailedTGAllocs) > 0 {
			if prev := blocked[e.JobID]; prev == nil || e.CreateIndex > prev.CreateIndex {
				blocked[e.JobID] = e
			}
		}
	}
	for id := range told {
		if blocked[id] == nil {
			delete(told, id)
		}
	}
	var nodes []*api.NodeListStub
	nodesRead := false
	for _, jobID := range slices.Sorted(maps.Keys(blocked)) {
		e := blocked[jobID]
		tj, err := b.lookupJob(ctx, jobID)
		if err != nil || tj == nil || tj.reporter == nil {
			continue // purged meanwhile, or not Orbit's: the next answer tells
		}
		if !nodesRead && needsNodes(e) && b.cfg.Nomad.Nodes != nil {
			nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
			nodes, _, _ = b.cfg.Nomad.Nodes.List(b.queryOpts(nctx))
			cancel()
			nodesRead = true
		}
		reason := placementReason(tj.class, e.FailedTGAllocs, nodes)
		if told[jobID] == reason {
			continue
		}
		told[jobID] = reason
		since := time.Unix(0, e.CreateTime)
		if e.CreateTime == 0 {
			since = b.cfg.Clock.Now()
		}
		b.tellWaiting(ctx, tj.log, tj.reporter, runner.TaskWaiting{Reason: reason, Since: since})
	}
}

func needsNodes(e *api.Evaluation) bool {
	for _, m := range e.FailedTGAllocs {
		if m != nil && m.NodesEvaluated == 0 {
			return true
		}
	}
	return false
}

// placementReason says in one line why Nomad could not place a task of
// resource class rc, from the failed allocation metrics of its blocked
// evaluation and, when no node was evaluated, the node list (to name
// drained or ineligible nodes).
func placementReason(rc string, failed map[string]*api.AllocationMetric, nodes []*api.NodeListStub) string {
	var m *api.AllocationMetric
	for _, g := range slices.Sorted(maps.Keys(failed)) {
		if failed[g] != nil {
			m = failed[g]
			break
		}
	}
	if m == nil {
		return fmt.Sprintf("no client with resource class %s can place the task", rc)
	}
	if m.NodesEvaluated == 0 {
		var drained, ineligible, down []string
		for _, n := range nodes {
			switch {
			case n.Drain:
				drained = append(drained, n.Name)
			case n.SchedulingEligibility == api.NodeSchedulingIneligible:
				ineligible = append(ineligible, n.Name)
			case n.Status != api.NodeStatusReady:
				down = append(down, n.Name+" ("+n.Status+")")
			}
		}
		switch {
		case len(drained) > 0:
			return "node drained: " + strings.Join(drained, ", ") + " (no other client can take the task)"
		case len(ineligible) > 0:
			return "node ineligible for new builds: " + strings.Join(ineligible, ", ")
		case len(down) > 0:
			return "no Nomad client is ready: " + strings.Join(down, ", ")
		}
		return "no Nomad client in the job's datacenters"
	}
	if m.NodesExhausted > 0 {
		dims := slices.Sorted(maps.Keys(m.DimensionExhausted))
		return fmt.Sprintf("no client with resource class %s has room: %s exhausted on %d of %d nodes",
			rc, strings.Join(dims, ", "), m.NodesExhausted, m.NodesEvaluated)
	}
	why := append(slices.Sorted(maps.Keys(m.ConstraintFiltered)), slices.Sorted(maps.Keys(m.ClassFiltered))...)
	if ResourceClasses[rc].GPUs > 0 && m.NodesFiltered == m.NodesEvaluated {
		for _, c := range why {
			if class, ok := strings.CutPrefix(c, "${node.class} regexp "); ok {
				return fmt.Sprintf("no client offers resource class %s: it needs a GPU client (node class matching %s), and none of the %d nodes is one",
					rc, class, m.NodesEvaluated)
			}
		}
	}
	if len(why) > 0 {
		return fmt.Sprintf("no client with resource class %s: %d of %d nodes filtered out by %s",
			rc, m.NodesFiltered, m.NodesEvaluated, strings.Join(why, "; "))
	}
	return fmt.Sprintf("no client with resource class %s can place the task (%d nodes evaluated)", rc, m.NodesEvaluated)
}
