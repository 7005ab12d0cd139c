package nomadbridge

import (
	"github.com/hashicorp/nomad/api"
)

// The watch's view of warm jobs: an idle warm job is nobody's task (the
// watch leaves it alone, as a job that is not Orbit's); once its agent
// accepted a task it is that task's job, followed like a cold one:
// heartbeats while it runs, the outcome from its exit code, purged once
// reported (and when the task is canceled).

// warmTracked is the watch's record of a busy warm job.
func (b *Bridge) warmTracked(id string, t *warmTask) *trackedJob {
	return &trackedJob{id: id, reporter: b.cfg.RunnerClient(t.Token),
		log: b.log.With("pipeline_id", t.PipelineID, "workflow_id", t.WorkflowID, "job_id", t.JobID,
			"task_index", t.Index, "task_id", t.TaskID, "nomad_job_id", id, "warm", true)}
}

// trackWarm makes the watch follow warm job id as t's job from now on.
func (b *Bridge) trackWarm(id string, t *warmTask) {
	tj := b.warmTracked(id, t)
	w := &b.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.foreign, id)
	w.jobs[id] = tj
}

// lookupWarm is lookupJob for a warm job: its task's record when busy,
// nil when idle or not this pool's.
func (b *Bridge) lookupWarm(id string) *trackedJob {
	p := b.warm
	if p == nil {
		return nil
	}
	p.mu.Lock()
	a := p.agents[id]
	p.mu.Unlock()
	if a == nil || a.task == nil {
		return nil
	}
	return b.warmTracked(id, a.task)
}

// warmObserve retires idle warm agents whose allocation ended (the agent
// crashed, was killed or exited when retired): the pool replaces them.
func (b *Bridge) warmObserve(allocs []*api.AllocationListStub) {
	p := b.warm
	if p == nil {
		return
	}
	ended := 0
	p.mu.Lock()
	for _, al := range allocs {
		a := p.agents[al.JobID]
		if a == nil || a.retired || !terminal(al) || (a.state != warmStarting && a.state != warmWaiting) {
			continue
		}
		b.log.Info("idle warm agent ended: replacing it", "nomad_job_id", a.id, "client_status", al.ClientStatus)
		p.retire(a)
		ended++
	}
	p.mu.Unlock()
	if ended > 0 {
		p.poke()
	}
}
