package insights

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

var _ store.Observer = (*Insights)(nil)

// WorkflowChanged implements store.Observer: a workflow that ended (other
// than not_run) becomes a run of its day's bucket. Errors are logged, never
// returned to the writer.
func (in *Insights) WorkflowChanged(ctx context.Context, from status.Workflow, w store.Workflow) {
	if err := in.RecordWorkflow(ctx, w); err != nil {
		in.log.WarnContext(ctx, "insights: workflow run not recorded", "workflow_id", w.ID, "error", err)
	}
}

// JobChanged implements store.Observer: a build job that ended (other than
// not_run) becomes a run of its day's bucket, and its test results are
// recorded.
func (in *Insights) JobChanged(ctx context.Context, from status.Job, j store.Job) {
	if err := in.RecordJob(ctx, j); err != nil {
		in.log.WarnContext(ctx, "insights: job run not recorded", "job_id", j.ID, "error", err)
	}
}

// RecordWorkflow records w if it has ended; recording it again changes
// nothing.
func (in *Insights) RecordWorkflow(ctx context.Context, w store.Workflow) error {
	if !w.Status.Terminal() || w.Status == status.WorkflowNotRun || w.StoppedAt == nil {
		return nil
	}
	p, err := in.records.GetPipeline(ctx, w.PipelineID)
	if err != nil {
		return err
	}
	jobs, err := in.records.ListJobs(ctx, w.ID)
	if err != nil {
		return err
	}
	r := Run{ID: w.ID, Workflow: w.Name, Branch: p.VCS.Branch, Status: string(w.Status), At: w.CreatedAt.UTC(),
		StoppedAt: w.StoppedAt.UTC(), Duration: w.StoppedAt.Sub(w.CreatedAt).Seconds(), PipelineNumber: p.Number}
	for _, j := range jobs {
		if j.Type == "approval" {
			r.Approval = true
			continue
		}
		r.Credits += jobCredits(j.Spec, j.Parallelism, jobDuration(j))
	}
	if _, err := in.add(ctx, pk(w.ProjectSlug, "WF"), esc(w.Name)+"#"+esc(r.Branch), r); err != nil {
		return err
	}
	return in.remember(ctx, w.ProjectSlug, w.Name, r.Branch)
}

// RecordJob records j if it is a build job that has ended, and its test
// results; recording it again changes nothing.
func (in *Insights) RecordJob(ctx context.Context, j store.Job) error {
	if !j.Status.Terminal() || j.Status == status.JobNotRun || j.Type == "approval" || j.StoppedAt == nil {
		return nil
	}
	wf, err := in.records.GetWorkflow(ctx, j.WorkflowID)
	if err != nil {
		return err
	}
	p, err := in.records.GetPipeline(ctx, j.PipelineID)
	if err != nil {
		return err
	}
	r := Run{ID: j.ID, Attempt: j.Attempt, Workflow: wf.Name, Job: j.Name, WorkflowID: j.WorkflowID, Branch: p.VCS.Branch,
		Status: string(j.Status), At: j.CreatedAt.UTC(), StoppedAt: j.StoppedAt.UTC(), Parallelism: j.Parallelism,
		PipelineNumber: p.Number}
	if j.StartedAt != nil {
		r.Started, r.At = true, j.StartedAt.UTC()
		r.Duration = jobDuration(j)
		if j.QueuedAt != nil {
			// An infrastructure retry queues the job again after it first
			// started (StartedAt keeps the first start): no queue time then.
			r.Queue = max(0, j.StartedAt.Sub(*j.QueuedAt).Seconds())
		}
	}
	r.Credits = jobCredits(j.Spec, j.Parallelism, r.Duration)
	if _, err := in.add(ctx, pk(j.ProjectSlug, "JOB", esc(wf.Name)), esc(j.Name)+"#"+esc(r.Branch), r); err != nil {
		return err
	}
	if in.tests == nil || j.Number == 0 {
		return nil
	}
	return in.recordTests(ctx, j, wf, p)
}

func jobDuration(j store.Job) float64 {
	if j.StartedAt == nil || j.StoppedAt == nil {
		return 0
	}
	return j.StoppedAt.Sub(*j.StartedAt).Seconds()
}

// maxBranches bounds the branches remembered per workflow (CircleCI's
// branches endpoint answers at most 5,000).
const maxBranches = 5000

// names is the NAMES item: every workflow seen and its branches.
type names struct {
	Workflows map[string][]string `json:"workflows"`
}

// remember adds workflow and branch to the project's NAMES item.
func (in *Insights) remember(ctx context.Context, slug, workflow, branch string) error {
	for range maxAttempts {
		var n names
		cond := kv.Condition{IfNotExists: true}
		it, err := in.kv.Get(ctx, pk(slug), "NAMES")
		switch {
		case err == nil:
			if err := json.Unmarshal(it.Data, &n); err != nil {
				return fmt.Errorf("decode names of %s: %w", slug, err)
			}
			cond = kv.Condition{IfVersion: it.Version}
		case !errors.Is(err, kv.ErrNotFound):
			return err
		}
		if n.Workflows == nil {
			n.Workflows = map[string][]string{}
		}
		bs, seen := n.Workflows[workflow]
		if seen && (branch == "" || slices.Contains(bs, branch) || len(bs) >= maxBranches) {
			return nil
		}
		if bs == nil {
			bs = []string{}
		}
		if branch != "" {
			bs = append(bs, branch)
			slices.Sort(bs)
		}
		n.Workflows[workflow] = bs
		data, err := json.Marshal(n)
		if err != nil {
			return err
		}
		_, err = in.kv.Put(ctx, kv.Item{PK: pk(slug), SK: "NAMES", Data: data}, cond)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("names of %s: too much contention", slug)
}
