package taskfiles

import (
	"context"
	"fmt"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/store"
)

// StoreTasks resolves tasks from Orbit's records.
type StoreTasks struct {
	Store *store.Store
}

var _ Tasks = StoreTasks{}

// TaskContext implements Tasks.
func (s StoreTasks) TaskContext(ctx context.Context, taskID string) (TaskContext, error) {
	t, err := s.Store.GetTask(ctx, taskID)
	if err != nil {
		return TaskContext{}, err
	}
	if t.Status.Terminal() {
		return TaskContext{}, fmt.Errorf("task %s: %w", taskID, runner.ErrTaskTerminal)
	}
	j, err := s.Store.GetJob(ctx, t.JobID)
	if err != nil {
		return TaskContext{}, err
	}
	p, err := s.Store.GetPipeline(ctx, t.PipelineID)
	if err != nil {
		return TaskContext{}, err
	}
	proj, err := s.Store.GetProject(ctx, t.ProjectSlug)
	if err != nil {
		return TaskContext{}, err
	}
	jobs, err := s.Store.ListJobs(ctx, t.WorkflowID)
	if err != nil {
		return TaskContext{}, err
	}
	attempts, workflows := splitUpstream(Upstream(j.Name, jobs), t.WorkflowID)
	return TaskContext{
		TaskID: t.ID, ProjectSlug: t.ProjectSlug, JobNumber: j.Number, JobName: j.Name,
		Attempt: t.Attempt, Index: t.Index, WorkflowID: t.WorkflowID,
		Branch: p.VCS.Branch, DefaultBranch: proj.DefaultBranch,
		Upstream: attempts, UpstreamWorkflows: workflows,
	}, nil
}

// Upstream returns the jobs that the named job requires, directly or
// through others, each with the run whose workspace layers count: the
// job's current attempt in its workflow, or, for a job whose result a
// rerun kept, the run that produced the result (store.Job.ResultOf).
func Upstream(name string, jobs []store.Job) map[string]store.JobRun {
	byName := map[string]store.Job{}
	for _, j := range jobs {
		byName[j.Name] = j
	}
	out := map[string]store.JobRun{}
	var visit func(n string)
	visit = func(n string) {
		for _, r := range byName[n].Requires {
			if _, done := out[r.Name]; done {
				continue
			}
			if up, ok := byName[r.Name]; ok {
				run := store.JobRun{WorkflowID: up.WorkflowID, Attempt: up.Attempt}
				if up.ResultOf != nil {
					run = *up.ResultOf
				}
				out[r.Name] = run
				visit(r.Name)
			}
		}
	}
	visit(name)
	return out
}

// splitUpstream turns Upstream's runs into TaskContext's attempts and
// other-workflow map (nil when every layer is in the task's workflow).
func splitUpstream(runs map[string]store.JobRun, workflowID string) (map[string]int, map[string]string) {
	attempts := make(map[string]int, len(runs))
	var workflows map[string]string
	for name, r := range runs {
		attempts[name] = r.Attempt
		if r.WorkflowID != workflowID {
			if workflows == nil {
				workflows = map[string]string{}
			}
			workflows[name] = r.WorkflowID
		}
	}
	return attempts, workflows
}
