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
	jobs := []store.Job{
		{Name: "build", Attempt: 1},
		{Name: "lint", Attempt: 1},
		{Name: "test", Attempt: 2, Requires: req("build")},
		{Name: "deploy", Attempt: 1, Requires: req("test", "lint", "ghost")},
		{Name: "cycle-a", Requires: req("cycle-b")},
		{Name: "cycle-b", Requires: req("cycle-a")},
	}
	tests := []struct {
		name string
		want map[string]int
	}{
		{"build", map[string]int{}},
		{"test", map[string]int{"build": 1}},
		{"deploy", map[string]int{"test": 2, "build": 1, "lint": 1}},
		{"cycle-a", map[string]int{"cycle-b": 0, "cycle-a": 0}},
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

	_, err = st.UpdateTask(ctx, "j-test-1-1", func(t *store.Task) error { t.Status = status.JobCanceled; return nil })
	require.NoError(t, err)
	_, err = taskfiles.StoreTasks{Store: st}.TaskContext(ctx, "j-test-1-1")
	assert.ErrorIs(t, err, runner.ErrTaskTerminal)
}
