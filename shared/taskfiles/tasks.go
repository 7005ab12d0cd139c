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
	return TaskContext{
		TaskID: t.ID, ProjectSlug: t.ProjectSlug, JobNumber: j.Number, JobName: j.Name,
		Attempt: t.Attempt, Index: t.Index, WorkflowID: t.WorkflowID,
		Branch: p.VCS.Branch, DefaultBranch: proj.DefaultBranch,
		Upstream: Upstream(j.Name, jobs),
	}, nil
}

// Upstream returns the jobs that the named job requires, directly or
// through others, with their current attempts.
func Upstream(name string, jobs []store.Job) map[string]int {
	byName := map[string]store.Job{}
	for _, j := range jobs {
		byName[j.Name] = j
	}
	out := map[string]int{}
	var visit func(n string)
	visit = func(n string) {
		for _, r := range byName[n].Requires {
			if _, done := out[r.Name]; done {
				continue
			}
			if up, ok := byName[r.Name]; ok {
				out[r.Name] = up.Attempt
				visit(r.Name)
			}
		}
	}
	visit(name)
	return out
}
