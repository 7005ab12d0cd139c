package taskfiles_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/taskfiles"
)

func req(names ...string) []store.Requirement {
	var out []store.Requirement
	for _, n := range names {
		out = append(out, store.Requirement{Name: n})
	}
	return out
}

func TestUpstream(t *testing.T) {
	kept := func(wid string, attempt int) *store.JobRun { return &store.JobRun{WorkflowID: wid, Attempt: attempt} }
	// A rerun (wf-2) of wf-1 that kept build and lint: their results, and
	// layers, come from the runs that produced them.
	jobs := []store.Job{
		{Name: "build", WorkflowID: "wf-2", ResultOf: kept("wf-1", 1)},
		{Name: "lint", WorkflowID: "wf-2", ResultOf: kept("wf-0", 2)}, // kept by wf-1 already
		{Name: "test", WorkflowID: "wf-2", Attempt: 2, Requires: req("build")},
		{Name: "deploy", WorkflowID: "wf-2", Attempt: 1, Requires: req("test", "lint", "ghost")},
		{Name: "cycle-a", WorkflowID: "wf-2", Requires: req("cycle-b")},
		{Name: "cycle-b", WorkflowID: "wf-2", Requires: req("cycle-a")},
	}
	tests := []struct {
		name string
		want map[string]store.JobRun
	}{
		{"build", map[string]store.JobRun{}},
		{"test", map[string]store.JobRun{"build": {WorkflowID: "wf-1", Attempt: 1}}},
		{"deploy", map[string]store.JobRun{
			"test":  {WorkflowID: "wf-2", Attempt: 2},
			"build": {WorkflowID: "wf-1", Attempt: 1},
			"lint":  {WorkflowID: "wf-0", Attempt: 2},
		}},
		{"cycle-a", map[string]store.JobRun{"cycle-b": {WorkflowID: "wf-2"}, "cycle-a": {WorkflowID: "wf-2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, taskfiles.Upstream(tt.name, jobs))
		})
	}
}

func TestStoreTasks(t *testing.T) {
	ctx := context.Background()
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "orbit.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	st := store.New(db, nil)
	_, err = st.CreateProject(ctx, store.Project{Slug: "local/acme/api", Name: "api", DefaultBranch: "trunk"})
	require.NoError(t, err)
	p, err := st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: "local/acme/api", VCS: store.PipelineVCS{Branch: "feature"}})
	require.NoError(t, err)
	wf := store.Workflow{ID: "wf", PipelineID: p.ID, ProjectSlug: "local/acme/api"}
	jobs := []store.Job{
		{ID: "j-build", Name: "build", WorkflowID: "wf", PipelineID: p.ID, ProjectSlug: "local/acme/api", Status: status.JobBlocked},
		{ID: "j-test", Name: "test", WorkflowID: "wf", PipelineID: p.ID, ProjectSlug: "local/acme/api", Status: status.JobBlocked,
			Requires: req("build")},
	}
	require.NoError(t, st.CreateWorkflow(ctx, wf, jobs))
	j, err := st.AssignJobNumber(ctx, jobs[1])
	require.NoError(t, err)
	_, err = st.CreateTask(ctx, store.Task{ID: "j-test-1-1", JobID: "j-test", JobName: "test", WorkflowID: "wf",
		PipelineID: p.ID, ProjectSlug: "local/acme/api", Index: 1, Attempt: 1, Status: status.JobRunning})
	require.NoError(t, err)

	tc, err := taskfiles.StoreTasks{Store: st}.TaskContext(ctx, "j-test-1-1")
	require.NoError(t, err)
	assert.Equal(t, taskfiles.TaskContext{TaskID: "j-test-1-1", ProjectSlug: "local/acme/api", JobNumber: j.Number,
		JobName: "test", Attempt: 1, Index: 1, WorkflowID: "wf", Branch: "feature", DefaultBranch: "trunk",
		Upstream: map[string]int{"build": 0}}, tc)

	// A rerun that kept build: its layers are the first run's.
	rerun := store.Workflow{ID: "wf-rerun", PipelineID: p.ID, ProjectSlug: "local/acme/api", RerunOf: "wf"}
	require.NoError(t, st.CreateWorkflow(ctx, rerun, []store.Job{
		{ID: "r-build", Name: "build", WorkflowID: "wf-rerun", PipelineID: p.ID, ProjectSlug: "local/acme/api",
			Status: status.JobSuccess, ResultOf: &store.JobRun{WorkflowID: "wf", Attempt: 1}},
		{ID: "r-lint", Name: "lint", WorkflowID: "wf-rerun", PipelineID: p.ID, ProjectSlug: "local/acme/api",
			Status: status.JobSuccess, Attempt: 2},
		{ID: "r-test", Name: "test", WorkflowID: "wf-rerun", PipelineID: p.ID, ProjectSlug: "local/acme/api",
			Status: status.JobQueued, Attempt: 1, Requires: req("build", "lint")},
	}))
	_, err = st.CreateTask(ctx, store.Task{ID: "r-test-1-0", JobID: "r-test", JobName: "test", WorkflowID: "wf-rerun",
		PipelineID: p.ID, ProjectSlug: "local/acme/api", Attempt: 1, Status: status.JobRunning})
	require.NoError(t, err)
	tc, err = taskfiles.StoreTasks{Store: st}.TaskContext(ctx, "r-test-1-0")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"build": 1, "lint": 2}, tc.Upstream)
	assert.Equal(t, map[string]string{"build": "wf"}, tc.UpstreamWorkflows)

	_, err = st.TransitionTask(ctx, "j-test-1-1", func(*store.Task) (status.Job, error) { return status.JobCanceled, nil })
	require.NoError(t, err)
	_, err = taskfiles.StoreTasks{Store: st}.TaskContext(ctx, "j-test-1-1")
	assert.ErrorIs(t, err, runner.ErrTaskTerminal)
}
