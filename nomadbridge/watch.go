package nomadbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/runner"
)

// trackedJob is an Orbit Nomad job the watch knows.
type trackedJob struct {
	id       string // Nomad job ID
	log      *slog.Logger
	reporter TaskReporter // nil when the job carries no token
	class    string       // the task's resource class
	// over is set when the runner API said the task is terminal and the
	// bridge stopped the job: its allocation's end is then no news.
	over atomic.Bool
}

// watchState is what the watch remembers between allocation lists. Every
// set is rebuilt from Nomad's list, so it holds only what Nomad still has.
type watchState struct {
	mu       sync.Mutex
	jobs     map[string]*trackedJob // Orbit's jobs by Nomad job ID
	foreign  map[string]bool        // Nomad job IDs that are not Orbit's
	done     map[string]bool        // allocation IDs dealt with
	reported map[string]bool        // allocation IDs whose outcome was reported (purge pending)
	inflight map[string]bool        // Nomad job IDs being reported and purged
	running  map[string]*trackedJob // jobs with a running allocation: heartbeats
	pending  map[string]*pendingJob // Orbit's jobs with no allocation listed (lostjobs.go)
	retry    atomic.Bool            // something failed: list again soon
	workers  sync.WaitGroup
}

func (w *watchState) init() {
	w.jobs = map[string]*trackedJob{}
	w.foreign = map[string]bool{}
	w.done = map[string]bool{}
	w.reported = map[string]bool{}
	w.inflight = map[string]bool{}
	w.running = map[string]*trackedJob{}
	w.pending = map[string]*pendingJob{}
}

func (w *watchState) wait() { w.workers.Wait() }

// watchLoop follows the allocation list with blocking queries. The first
// query (index 0) answers at once with every allocation: that is the
// reconciliation after a restart. A failed query (Nomad restarting) starts
// over from index 0 after a backoff. watchIndex keeps every later query
// blocking, so an idle bridge costs Nomad one query per WatchWait.
func (b *Bridge) watchLoop(ctx context.Context) {
	idx := newWatchIndex(b.cfg.MinBackoff, b.cfg.MaxBackoff)
	for ctx.Err() == nil {
		q := b.queryOpts(ctx)
		// Without task states (their events are three quarters of the
		// list's bytes, and every change sends the whole list again): only
		// a finished allocation's outcome needs them (withTaskStates).
		q.Params = map[string]string{"task_states": "false"}
		q.WaitIndex = idx.next()
		q.WaitTime = b.cfg.WatchWait
		if b.watch.retry.Swap(false) {
			q.WaitTime = b.cfg.MinBackoff
		}
		start := b.cfg.Clock.Now()
		allocs, meta, err := b.cfg.Nomad.Allocations.List(q)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.stats.nomadErrors.Add(1)
			wait := idx.failed()
			b.log.Error("watch allocations", "error", b.nomadErr("list allocations", err), "retry_in", wait)
			if !b.sleep(ctx, wait) {
				return
			}
			continue
		}
		b.nomadAnswered()
		var got uint64
		if meta != nil {
			got = meta.LastIndex
		}
		pause, reset := idx.answered(got, b.cfg.Clock.Now().Sub(start), q.WaitTime)
		if reset {
			b.log.Warn("Nomad's allocation index went backwards (its state was reset): listing afresh",
				"index", got)
		}
		b.sync(ctx, allocs)
		if pause > 0 {
			b.log.Debug("allocation list answered early without news; pausing", "pause", pause)
			if !b.sleep(ctx, pause) {
				return
			}
		}
	}
}

func terminal(a *api.AllocationListStub) bool {
	switch a.ClientStatus {
	case api.AllocClientStatusComplete, api.AllocClientStatusFailed, api.AllocClientStatusLost:
		return true
	}
	return false
}

// sync brings the watch state in line with one allocation list: new
// terminal allocations of Orbit's jobs are reported and their jobs purged
// (in the background), running ones get heartbeats.
func (b *Bridge) sync(ctx context.Context, allocs []*api.AllocationListStub) {
	b.warmObserve(allocs)
	w := &b.watch
	byJob := map[string][]*api.AllocationListStub{}
	present := map[string]bool{}
	for _, a := range allocs {
		byJob[a.JobID] = append(byJob[a.JobID], a)
		present[a.ID] = true
	}

	w.mu.Lock()
	for id := range w.done {
		if !present[id] {
			delete(w.done, id)
		}
	}
	for id := range w.reported {
		if !present[id] {
			delete(w.reported, id)
		}
	}
	for id := range w.foreign {
		if byJob[id] == nil {
			delete(w.foreign, id)
		}
	}
	for id, tj := range w.jobs {
		if byJob[id] == nil {
			// Its allocations are gone but the job was not purged here
			// (finishJob forgets what it purged): Nomad may have lost it.
			delete(w.jobs, id)
			delete(w.running, id)
			if !w.inflight[id] {
				b.pendLocked(tj)
			}
		}
	}
	// Which jobs need a look?
	var unknown []string
	for jobID, as := range byJob {
		if p := w.pending[jobID]; p != nil {
			// Dispatched by this bridge (or tracked before): known.
			delete(w.pending, jobID)
			w.jobs[jobID] = p.tj
		}
		if w.foreign[jobID] || w.jobs[jobID] != nil {
			continue
		}
		if slices.ContainsFunc(as, func(a *api.AllocationListStub) bool { return !w.done[a.ID] }) {
			unknown = append(unknown, jobID)
		}
	}
	w.mu.Unlock()

	// Look unknown jobs up without holding the lock (network calls).
	found := map[string]*trackedJob{}
	gone := map[string]bool{}
	foreign := map[string]bool{}
	for _, jobID := range unknown {
		tj, err := b.lookupJob(ctx, jobID)
		switch {
		case isNotFound(err):
			gone[jobID] = true // purged: its allocations are history
		case err != nil:
			if ctx.Err() == nil {
				b.stats.nomadErrors.Add(1)
				b.log.Warn("look up the job of an allocation", "nomad_job_id", jobID,
					"error", b.nomadErr("look up job "+jobID, err))
				w.retry.Store(true)
			}
		case tj == nil:
			foreign[jobID] = true
		default:
			found[jobID] = tj
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	maps.Copy(w.foreign, foreign)
	for jobID := range gone {
		for _, a := range byJob[jobID] {
			w.done[a.ID] = true
		}
	}
	for jobID, tj := range found {
		w.jobs[jobID] = tj
	}
	for jobID, as := range byJob {
		tj := w.jobs[jobID]
		if tj == nil {
			continue
		}
		var first *api.AllocationListStub
		var ids []string
		running := false
		for _, a := range as {
			if w.done[a.ID] {
				continue
			}
			ids = append(ids, a.ID)
			if terminal(a) && (first == nil || a.CreateIndex < first.CreateIndex) {
				first = a
			}
			running = running || a.ClientStatus == api.AllocClientStatusRunning
		}
		switch {
		case first != nil:
			delete(w.running, jobID)
			if !w.inflight[jobID] {
				w.inflight[jobID] = true
				w.workers.Add(1)
				go b.finishJob(ctx, tj, first, ids)
			}
		case running:
			if w.running[jobID] == nil {
				tj.log.Info("allocation running")
			}
			w.running[jobID] = tj
		default:
			delete(w.running, jobID)
		}
	}
}

// lookupJob reads a job's meta and token; it returns nil, nil for a job
// that is not Orbit's, or is another Orbit installation's (its agents
// report to another runner URL).
func (b *Bridge) lookupJob(ctx context.Context, jobID string) (*trackedJob, error) {
	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	defer cancel()
	job, _, err := b.cfg.Nomad.Jobs.Info(jobID, b.queryOpts(nctx))
	if err != nil {
		return nil, err
	}
	if job != nil && job.Meta[MetaWarmClass] != "" {
		return b.lookupWarm(jobID), nil
	}
	if job == nil || job.Meta[MetaTaskID] == "" {
		return nil, nil
	}
	m := job.Meta
	idx, _ := strconv.Atoi(m[MetaTaskIndex])
	tj := &trackedJob{id: jobID, log: b.log.With("pipeline_id", m[MetaPipelineID], "workflow_id", m[MetaWorkflowID],
		"job_id", m[MetaJobID], "task_index", idx, "task_id", m[MetaTaskID], "nomad_job_id", jobID)}
	for _, g := range job.TaskGroups {
		for _, t := range g.Tasks {
			if url := t.Env[agent.EnvRunnerURL]; url != "" && url != b.cfg.RunnerURL {
				// Another Orbit installation shares this Nomad cluster (or
				// a test's): its jobs are not this bridge's to report,
				// heartbeat or purge.
				return nil, nil
			}
			if rc := t.Meta["orbit_resource_class"]; rc != "" && tj.class == "" {
				tj.class = rc
			}
			if tok := t.Env[agent.EnvTaskToken]; tok != "" && tj.reporter == nil {
				tj.reporter = b.cfg.RunnerClient(tok)
			}
		}
	}
	if tj.reporter == nil {
		tj.log.Error("Orbit job has no task token: its outcome cannot be reported")
	}
	return tj, nil
}

// withTaskStates returns the allocation with its task states, which the
// watch's list leaves out. An allocation Nomad has collected meanwhile is
// returned as listed (Outcome then says the agent's end is unknown).
func (b *Bridge) withTaskStates(ctx context.Context, a *api.AllocationListStub) (*api.AllocationListStub, error) {
	if a.TaskStates != nil {
		return a, nil
	}
	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	defer cancel()
	full, _, err := b.cfg.Nomad.Allocations.Info(a.ID, b.queryOpts(nctx))
	switch {
	case isNotFound(err):
		return a, nil
	case err != nil:
		return nil, err
	}
	c := *a
	c.TaskStates = full.TaskStates
	return &c, nil
}

// finishJob reports the outcome of a terminal allocation and purges the
// job. On failure it leaves things for the next sync to retry.
func (b *Bridge) finishJob(ctx context.Context, tj *trackedJob, a *api.AllocationListStub, allocIDs []string) {
	w := &b.watch
	defer w.workers.Done()
	defer func() {
		w.mu.Lock()
		delete(w.inflight, tj.id)
		w.mu.Unlock()
	}()
	a, err := b.withTaskStates(ctx, a)
	if err != nil {
		if ctx.Err() == nil {
			b.stats.nomadErrors.Add(1)
			tj.log.Warn("read the finished allocation; will retry", "error", b.nomadErr("read allocation", err))
			w.retry.Store(true)
		}
		return
	}
	res, _ := Outcome(a)
	log := tj.log.With("alloc_id", a.ID, "client_status", a.ClientStatus, "outcome", res.Status)

	w.mu.Lock()
	reported := w.reported[a.ID]
	w.mu.Unlock()
	if !reported && tj.reporter != nil && !tj.over.Load() {
		err := tj.reporter.Finish(ctx, res)
		var ae *runner.APIError
		switch {
		case err == nil:
			log.Info("task outcome reported from its allocation", "message", res.Message)
		case errors.Is(err, runner.ErrTaskGone):
			log.Info("task was already terminal")
		case errors.As(err, &ae) && !ae.Temporary():
			log.Error("runner API refused the outcome; purging the job anyway", "error", err)
		default:
			if ctx.Err() == nil {
				log.Warn("cannot report the task outcome; will retry", "error", err)
				w.retry.Store(true)
			}
			return
		}
		b.stats.reported.Add(1)
		w.mu.Lock()
		w.reported[a.ID] = true
		w.mu.Unlock()
	}

	if err := b.purge(ctx, tj.id); err != nil {
		if ctx.Err() == nil {
			log.Warn("purge the finished job; will retry", "error", err)
			w.retry.Store(true)
		}
		return
	}
	log.Info("finished Nomad job purged")
	w.mu.Lock()
	for _, id := range allocIDs {
		w.done[id] = true
	}
	delete(w.jobs, tj.id)
	delete(w.running, tj.id)
	delete(w.pending, tj.id)
	w.mu.Unlock()
}

func (b *Bridge) purge(ctx context.Context, jobID string) error {
	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	defer cancel()
	_, _, err := b.cfg.Nomad.Jobs.Deregister(jobID, true, b.writeOpts(nctx))
	if err != nil && !isNotFound(err) {
		b.stats.nomadErrors.Add(1)
		return b.nomadErr("purge job "+jobID, err)
	}
	b.stats.purged.Add(1)
	return nil
}

// heartbeatLoop sends a heartbeat for every running task each interval, on
// Nomad or on a leased VM. A task the runner API calls terminal (410:
// canceled, timed out, or already reported by its agent) has its Nomad job
// purged or its VM released, which stops the agent.
func (b *Bridge) heartbeatLoop(ctx context.Context) {
	for b.sleep(ctx, b.cfg.HeartbeatInterval) {
		w := &b.watch
		w.mu.Lock()
		jobs := make([]*trackedJob, 0, len(w.running))
		for _, tj := range w.running {
			if tj.reporter != nil {
				jobs = append(jobs, tj)
			}
		}
		w.mu.Unlock()
		var wg sync.WaitGroup
		for _, tj := range jobs {
			wg.Go(func() { b.heartbeat(ctx, tj) })
		}
		for _, tl := range b.runningLeases() {
			wg.Go(func() { b.heartbeatLease(ctx, tl) })
		}
		wg.Wait()
	}
}

func (b *Bridge) heartbeat(ctx context.Context, tj *trackedJob) {
	hctx, cancel := context.WithTimeout(ctx, max(b.cfg.HeartbeatInterval, runnerCheckTimeout))
	defer cancel()
	err := tj.reporter.Heartbeat(hctx)
	switch {
	case err == nil:
		b.stats.heartbeats.Add(1)
	case errors.Is(err, runner.ErrTaskGone):
		tj.log.Info("task is terminal in the runner API while its allocation runs: stopping its Nomad job")
		tj.over.Store(true)
		if err := b.purge(ctx, tj.id); err != nil && ctx.Err() == nil {
			tj.log.Warn("stop the job of a terminal task", "error", err)
		}
	case ctx.Err() == nil:
		tj.log.Warn("heartbeat failed", "error", err)
	}
}

// Outcome is the task result a terminal allocation stands for; ok is false
// while the allocation is not terminal.
//
//	lost                           ──▶ infrastructure_fail "allocation lost: node N down"
//	stopped by Nomad (Killing)     ──▶ infrastructure_fail "allocation stopped: …"
//	agent never ran                ──▶ infrastructure_fail with Nomad's last event
//	agent exit 0 / 1 / 3 / 4       ──▶ success / failed / canceled / infrastructure_fail
//	other exit code or a signal    ──▶ infrastructure_fail "build agent exited with …"
func Outcome(a *api.AllocationListStub) (res runner.TaskResult, ok bool) {
	if !terminal(a) {
		return runner.TaskResult{}, false
	}
	infra := func(format string, args ...any) (runner.TaskResult, bool) {
		return runner.TaskResult{Status: runner.StatusInfrastructureFail, Message: fmt.Sprintf(format, args...)}, true
	}
	node := a.NodeName
	if node == "" {
		node = a.NodeID
	}
	if a.ClientStatus == api.AllocClientStatusLost {
		return infra("allocation lost: node %s down", node)
	}
	var term *api.TaskEvent
	var last *api.TaskEvent
	killed := false
	if ts := a.TaskStates[TaskName]; ts != nil {
		for _, ev := range ts.Events {
			switch ev.Type {
			case api.TaskTerminated:
				term = ev
			case api.TaskKilling, api.TaskKilled:
				killed = true
			}
			if ev.DisplayMessage != "" {
				last = ev
			}
		}
	}
	why := a.DesiredDescription
	if why == "" {
		why = a.ClientDescription
	}
	if killed || (a.DesiredStatus != api.AllocDesiredStatusRun && term == nil) {
		return infra("allocation stopped by Nomad on node %s: %s", node, why)
	}
	if term == nil {
		msg := a.ClientDescription
		if last != nil {
			msg = last.Type + ": " + last.DisplayMessage
		}
		return infra("the build agent did not run on node %s: %s", node, msg)
	}
	if term.Signal != 0 {
		return infra("the build agent was killed by signal %d on node %s", term.Signal, node)
	}
	o, known := agent.OutcomeOfExitCode(term.ExitCode)
	switch {
	case !known:
		return infra("the build agent exited with code %d on node %s", term.ExitCode, node)
	case o == agent.OutcomeInfrastructureFail:
		return infra("the build agent could not do its work (exit code %d) on node %s", term.ExitCode, node)
	}
	return runner.TaskResult{Status: string(o)}, true
}
