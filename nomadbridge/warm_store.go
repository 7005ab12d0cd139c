package nomadbridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// warmTask is what the bridge records in Nomad when a warm agent accepts a
// task: one Nomad variable per task (path warmVarPath), created with
// check-and-set so that a task is taken by one warm agent only, read back
// by a restarted bridge, deleted once the warm job is gone.
type warmTask struct {
	WarmJob, Claim, Token string
	// TaskJob is the Nomad job ID the task would have cold (NomadJobID).
	TaskJob                               string
	TaskID, JobID, PipelineID, WorkflowID string
	Index                                 int
}

func (t warmTask) items() api.VariableItems {
	return api.VariableItems{"warm_job": t.WarmJob, "claim": t.Claim, "token": t.Token, "task_job": t.TaskJob,
		"task_id": t.TaskID, "job_id": t.JobID, "pipeline_id": t.PipelineID, "workflow_id": t.WorkflowID,
		"task_index": strconv.Itoa(t.Index)}
}

func warmTaskOf(it api.VariableItems) (warmTask, error) {
	t := warmTask{WarmJob: it["warm_job"], Claim: it["claim"], Token: it["token"], TaskJob: it["task_job"],
		TaskID: it["task_id"], JobID: it["job_id"], PipelineID: it["pipeline_id"], WorkflowID: it["workflow_id"]}
	t.Index, _ = strconv.Atoi(it["task_index"])
	if t.WarmJob == "" || t.Token == "" || t.TaskJob == "" {
		return t, errors.New("warm task variable lacks warm_job, token or task_job")
	}
	return t, nil
}

// warmVarPrefix holds the pool's variables.
func (p *warmPool) warmVarPrefix() string { return "orbit/warm/" + p.name + "/" }

// warmVarPath is the variable of a task (by its Nomad job ID, hashed:
// variable paths allow fewer characters than job IDs).
func (p *warmPool) warmVarPath(taskJob string) string {
	sum := sha256.Sum256([]byte(taskJob))
	return p.warmVarPrefix() + hex.EncodeToString(sum[:16])
}

// errWarmTaken: another warm agent already has the task.
var errWarmTaken = errors.New("the task is already on a warm agent")

// recordWarm creates t's variable; errWarmTaken when it exists.
func (b *Bridge) recordWarm(ctx context.Context, t warmTask) error {
	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	defer cancel()
	path := b.warm.warmVarPath(t.TaskJob)
	_, _, err := b.cfg.Nomad.Variables.CheckedCreate(&api.Variable{Path: path, Items: t.items()}, b.writeOpts(nctx))
	var cas api.ErrCASConflict
	if errors.As(err, &cas) {
		return errWarmTaken
	}
	if err != nil {
		b.stats.nomadErrors.Add(1)
		// The write may have happened: take it back, so that a restarted
		// bridge does not think the agent busy.
		b.forgetWarm(ctx, t)
		return b.nomadErr("record warm task "+path, err)
	}
	return nil
}

// forgetWarm deletes t's variable (best effort: a leftover is deleted by
// the next recovery, as its warm job is gone).
func (b *Bridge) forgetWarm(ctx context.Context, t warmTask) {
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nomadCallTimeout)
	defer cancel()
	if _, err := b.cfg.Nomad.Variables.Delete(b.warm.warmVarPath(t.TaskJob), b.writeOpts(nctx)); err != nil && !isNotFound(err) {
		b.log.Warn("delete the variable of a finished warm task", "nomad_job_id", t.WarmJob, "error", err)
	}
}

// listWarmJobs lists the pool's warm jobs in Nomad, by ID with their
// status.
func (b *Bridge) listWarmJobs(ctx context.Context) (map[string]string, error) {
	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	defer cancel()
	q := b.queryOpts(nctx)
	q.Prefix = b.warm.warmJobPrefix()
	stubs, _, err := b.cfg.Nomad.Jobs.List(q)
	if err != nil {
		b.stats.nomadErrors.Add(1)
		return nil, b.nomadErr("list warm jobs", err)
	}
	out := map[string]string{}
	for _, s := range stubs {
		if strings.HasPrefix(s.ID, q.Prefix) {
			out[s.ID] = s.Status
		}
	}
	return out, nil
}

// warmRecover rebuilds the pool from Nomad after a start: the pool's warm
// jobs, busy for those with a task variable. Dead idle jobs are purged and
// variables whose warm job is gone deleted.
func (b *Bridge) warmRecover(ctx context.Context) error {
	p := b.warm
	jobs, err := b.listWarmJobs(ctx)
	if err != nil {
		return err
	}
	now := b.cfg.Clock.Now()
	found := map[string]*warmAgent{}
	for id, status := range jobs {
		nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
		job, _, err := b.cfg.Nomad.Jobs.Info(id, b.queryOpts(nctx))
		cancel()
		switch {
		case isNotFound(err):
			continue
		case err != nil:
			return b.nomadErr("look up warm job "+id, err)
		case job == nil || job.Meta[MetaWarmClass] == "" || job.Meta[MetaWarmPool] != p.name:
			continue
		}
		found[id] = &warmAgent{id: id, class: job.Meta[MetaWarmClass], seen: now, retired: status == "dead"}
	}
	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	defer cancel()
	metas, _, err := b.cfg.Nomad.Variables.PrefixList(p.warmVarPrefix(), b.queryOpts(nctx))
	if err != nil {
		return b.nomadErr("list warm task variables", err)
	}
	var stale []warmTask
	busy := 0
	for _, vm := range metas {
		v, _, err := b.cfg.Nomad.Variables.Read(vm.Path, b.queryOpts(nctx))
		if errors.Is(err, api.ErrVariablePathNotFound) || isNotFound(err) {
			continue
		} else if err != nil {
			return b.nomadErr("read warm task variable "+vm.Path, err)
		}
		t, err := warmTaskOf(v.Items)
		if err != nil {
			b.log.Error("malformed warm task variable: ignoring it", "path", vm.Path, "error", err)
			continue
		}
		a := found[t.WarmJob]
		if a == nil {
			stale = append(stale, t)
			continue
		}
		a.state, a.task, a.retired = warmBusy, &t, false
		busy++
	}
	p.mu.Lock()
	for id, a := range found {
		p.agents[id] = a
		if a.task != nil {
			p.byTask[a.task.TaskJob] = id
		}
	}
	p.mu.Unlock()
	for _, t := range stale {
		b.forgetWarm(ctx, t)
	}
	b.log.Info("warm agents recovered", "warm_jobs", len(found), "busy", busy, "stale_variables", len(stale))
	return nil
}

// warmLoop recovers the pool, then keeps it at size until ctx ends, when
// it purges the idle warm jobs (busy ones finish their task).
func (b *Bridge) warmLoop(ctx context.Context) {
	p := b.warm
	wait := b.cfg.MinBackoff
	for {
		err := b.warmRecover(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		b.log.Error("recover warm agents from Nomad", "error", err, "retry_in", wait)
		if !b.sleep(ctx, wait) {
			return
		}
		wait = b.nextBackoff(wait)
	}
	// The idle period counts from now: recovery may have taken a while.
	p.mu.Lock()
	for c := range p.cfg.Agents {
		p.demand[c] = b.cfg.Clock.Now()
	}
	p.mu.Unlock()
	close(p.ready)
	for {
		b.warmReconcile(ctx)
		select {
		case <-ctx.Done():
			b.warmShutdown(ctx)
			return
		case <-p.kick:
		case <-b.cfg.Clock.After(p.cfg.Interval):
		}
	}
}

// warmReady waits until the pool is recovered (at once without one); false
// when ctx ended first.
func (b *Bridge) warmReady(ctx context.Context) bool {
	if b.warm == nil {
		return true
	}
	select {
	case <-b.warm.ready:
		return true
	case <-ctx.Done():
		return false
	}
}

// warmReconcile brings the pool in line with Nomad and the configuration:
// it forgets warm jobs Nomad no longer has (deleting their task's
// variable), retires idle agents that stopped polling or exceed the
// class's target (0 after IdleAfter without a task), purges retired ones
// and registers new ones up to the target.
func (b *Bridge) warmReconcile(ctx context.Context) {
	p := b.warm
	jobs, err := b.listWarmJobs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("list warm jobs", "error", err)
		}
		return
	}
	now := b.cfg.Clock.Now()
	stale := 4 * p.cfg.ClaimWait
	var gone []warmTask
	var purge []*warmAgent
	register := map[string]int{}
	p.mu.Lock()
	for id, a := range p.agents {
		// Registration runs in this goroutine, so every agent here was
		// in Nomad before the list: one missing from it was purged.
		if _, ok := jobs[id]; !ok {
			delete(p.agents, id)
			p.removeWaiting(a)
			if a.task != nil {
				delete(p.byTask, a.task.TaskJob)
				gone = append(gone, *a.task)
			}
			continue
		}
		if a.state == warmStarting && !a.retired && now.Sub(a.seen) > stale {
			b.log.Warn("warm agent stopped polling: replacing it", "nomad_job_id", id, "resource_class", a.class)
			p.retire(a)
		}
	}
	classes := map[string]bool{}
	for c := range p.cfg.Agents {
		classes[c] = true
	}
	idle := map[string][]*warmAgent{}
	for _, a := range p.agents {
		classes[a.class] = true
		if !a.retired && (a.state == warmStarting || a.state == warmWaiting) {
			idle[a.class] = append(idle[a.class], a)
		}
	}
	for c := range classes {
		target := p.cfg.Agents[c]
		if p.idleFor(c, now) {
			target = 0
		}
		have := idle[c]
		if len(have) < target {
			register[c] = target - len(have)
		}
		// Retire the surplus, those not polling first.
		for i := 0; len(have)-i > target; i++ {
			p.retire(have[i])
		}
	}
	for _, a := range p.agents {
		if a.retired {
			purge = append(purge, a)
		}
	}
	p.mu.Unlock()

	for _, t := range gone {
		b.forgetWarm(ctx, t)
	}
	for _, a := range purge {
		if err := b.purge(ctx, a.id); err != nil {
			if ctx.Err() == nil {
				b.log.Warn("purge a retired warm job; will retry", "nomad_job_id", a.id, "error", err)
			}
			continue
		}
		p.retired.Add(1)
		p.mu.Lock()
		delete(p.agents, a.id)
		p.mu.Unlock()
		b.log.Info("warm agent retired", "nomad_job_id", a.id, "resource_class", a.class)
	}
	for c, n := range register {
		for range n {
			if err := b.registerWarm(ctx, c); err != nil {
				if ctx.Err() == nil {
					b.log.Warn("register a warm agent; will retry", "resource_class", c, "error", err)
				}
				break
			}
		}
	}
	s := b.WarmStats()
	for c := range classes {
		b.cfg.Metrics.Gauge(MetricWarmIdle, float64(s.Idle[c]), classDim(c))
		b.cfg.Metrics.Gauge(MetricWarmBusy, float64(s.Busy[c]), classDim(c))
	}
}

// registerWarm places one new warm agent of class.
func (b *Bridge) registerWarm(ctx context.Context, class string) error {
	p := b.warm
	id := p.newWarmID(class)
	a := &warmAgent{id: id, class: class, seen: b.cfg.Clock.Now()}
	p.mu.Lock()
	p.agents[id] = a
	p.mu.Unlock()
	nctx, cancel := context.WithTimeout(ctx, nomadCallTimeout)
	defer cancel()
	_, _, err := b.cfg.Nomad.Jobs.Register(b.jobSpec.warmJob(id, class, p.name, p.cfg.ClaimURL, p.cfg.Secret), b.writeOpts(nctx))
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		delete(p.agents, id)
		b.stats.nomadErrors.Add(1)
		return b.nomadErr("register warm job "+id, err)
	}
	a.seen = b.cfg.Clock.Now()
	p.registered.Add(1)
	b.log.Info("warm agent registered", "nomad_job_id", id, "resource_class", class)
	return nil
}

// warmShutdown purges the idle warm jobs when the bridge stops.
func (b *Bridge) warmShutdown(ctx context.Context) {
	p := b.warm
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var idle []string
	p.mu.Lock()
	for id, a := range p.agents {
		if a.state == warmStarting || a.state == warmWaiting || a.retired {
			p.retire(a)
			idle = append(idle, id)
		}
	}
	p.mu.Unlock()
	for _, id := range idle {
		if err := b.purge(sctx, id); err != nil {
			b.log.Warn("purge an idle warm job at shutdown", "nomad_job_id", id, "error", err)
			continue
		}
		p.mu.Lock()
		delete(p.agents, id)
		p.mu.Unlock()
	}
	if len(idle) > 0 {
		b.log.Info("idle warm agents purged at shutdown", "count", len(idle))
	}
}

// WarmTasks maps the warm jobs that run a task, of every Orbit
// installation on the cluster, to their task's id (for `orbit admin
// nodes`).
func WarmTasks(ctx context.Context, vars NomadVariables, region string) (map[string]string, error) {
	q := (&api.QueryOptions{Region: region}).WithContext(ctx)
	metas, _, err := vars.PrefixList("orbit/warm/", q)
	if err != nil {
		return nil, fmt.Errorf("list warm agents' tasks: %w", err)
	}
	out := map[string]string{}
	for _, m := range metas {
		v, _, err := vars.Read(m.Path, q)
		if errors.Is(err, api.ErrVariablePathNotFound) || isNotFound(err) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("read warm agent task %s: %w", m.Path, err)
		}
		if t, err := warmTaskOf(v.Items); err == nil {
			out[t.WarmJob] = t.TaskID
		}
	}
	return out, nil
}
