package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// boltStore is a store on the embedded driver: the rules are the store's,
// not the driver's, so one driver is enough.
func boltStore(t *testing.T) *store.Store { return store.New(drivers[0].open(t), nil) }

// TestTransitionJob pins the job rules and stamps through the store's API.
func TestTransitionJob(t *testing.T) {
	tests := []struct {
		name     string
		from, to status.Job
		ok       bool
		stamped  string // "queued", "started", "stopped" or ""
	}{
		{name: "blocked to queued", from: status.JobBlocked, to: status.JobQueued, ok: true, stamped: "queued"},
		{name: "queued to running", from: status.JobQueued, to: status.JobRunning, ok: true, stamped: "started"},
		{name: "running to success", from: status.JobRunning, to: status.JobSuccess, ok: true, stamped: "stopped"},
		{name: "running back to queued (infrastructure retry)", from: status.JobRunning, to: status.JobQueued, ok: true, stamped: "queued"},
		{name: "on_hold approved", from: status.JobOnHold, to: status.JobSuccess, ok: true, stamped: "stopped"},
		{name: "blocked to not_run", from: status.JobBlocked, to: status.JobNotRun, ok: true, stamped: "stopped"},
		{name: "blocked cannot run", from: status.JobBlocked, to: status.JobRunning},
		{name: "a terminal job never changes", from: status.JobSuccess, to: status.JobFailed},
		{name: "canceled stays canceled", from: status.JobCanceled, to: status.JobRunning},
		{name: "on_hold cannot fail", from: status.JobOnHold, to: status.JobFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := boltStore(t)
			ctx := context.Background()
			w := store.Workflow{ID: "wf", PipelineID: "p", Status: status.WorkflowRunning, CreatedAt: st.Now()}
			require.NoError(t, st.CreateWorkflow(ctx, w, []store.Job{{ID: "j", WorkflowID: "wf", Name: "build", Status: tc.from}}))
			got, err := st.TransitionJob(ctx, "wf", "build", func(j *store.Job) (status.Job, error) {
				j.Message = "changed"
				return tc.to, nil
			})
			stored, gerr := st.GetJob(ctx, "j")
			require.NoError(t, gerr)
			if !tc.ok {
				assert.ErrorIs(t, err, store.ErrStale)
				assert.Equal(t, tc.from, stored.Status)
				assert.Empty(t, stored.Message, "a refused transition writes nothing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.to, got.Status)
			assert.Equal(t, tc.to, stored.Status)
			assert.Equal(t, "changed", stored.Message)
			assert.Equal(t, tc.stamped == "queued", stored.QueuedAt != nil, "QueuedAt")
			assert.Equal(t, tc.stamped == "started", stored.StartedAt != nil, "StartedAt")
			assert.Equal(t, tc.stamped == "stopped", stored.StoppedAt != nil, "StoppedAt")
		})
	}
}

// TestTransitionTask pins the task rules and stamps.
func TestTransitionTask(t *testing.T) {
	tests := []struct {
		name     string
		from, to status.Job
		ok       bool
	}{
		{name: "queued to running", from: status.JobQueued, to: status.JobRunning, ok: true},
		{name: "running to failed", from: status.JobRunning, to: status.JobFailed, ok: true},
		{name: "queued to canceled", from: status.JobQueued, to: status.JobCanceled, ok: true},
		{name: "never back to queued", from: status.JobRunning, to: status.JobQueued},
		{name: "a finished task stays finished", from: status.JobSuccess, to: status.JobInfrastructureFail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := boltStore(t)
			ctx := context.Background()
			_, err := st.CreateTask(ctx, store.Task{ID: "t", Status: tc.from})
			require.NoError(t, err)
			_, err = st.TransitionTask(ctx, "t", func(*store.Task) (status.Job, error) { return tc.to, nil })
			stored, gerr := st.GetTask(ctx, "t")
			require.NoError(t, gerr)
			if !tc.ok {
				assert.ErrorIs(t, err, store.ErrStale)
				assert.Equal(t, tc.from, stored.Status)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.to, stored.Status)
			assert.Equal(t, tc.to == status.JobRunning, stored.StartedAt != nil, "StartedAt")
			assert.Equal(t, tc.to.Terminal(), stored.StoppedAt != nil, "StoppedAt")
		})
	}
}

// TestTransitionWorkflowAndPipeline pins the workflow and pipeline rules.
func TestTransitionWorkflowAndPipeline(t *testing.T) {
	workflows := []struct {
		name     string
		from, to status.Workflow
		ok       bool
	}{
		{name: "running to on_hold", from: status.WorkflowRunning, to: status.WorkflowOnHold, ok: true},
		{name: "failing to failed", from: status.WorkflowFailing, to: status.WorkflowFailed, ok: true},
		{name: "failing never back to running", from: status.WorkflowFailing, to: status.WorkflowRunning},
		{name: "a finished workflow stays finished", from: status.WorkflowSuccess, to: status.WorkflowCanceled},
	}
	for _, tc := range workflows {
		t.Run("workflow "+tc.name, func(t *testing.T) {
			st := boltStore(t)
			ctx := context.Background()
			require.NoError(t, st.CreateWorkflow(ctx, store.Workflow{ID: "wf", PipelineID: "p", Status: tc.from, CreatedAt: st.Now()}, nil))
			_, err := st.TransitionWorkflow(ctx, "wf", func(*store.Workflow) (status.Workflow, error) { return tc.to, nil })
			stored, gerr := st.GetWorkflow(ctx, "wf")
			require.NoError(t, gerr)
			if !tc.ok {
				assert.ErrorIs(t, err, store.ErrStale)
				assert.Equal(t, tc.from, stored.Status)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.to, stored.Status)
			assert.Equal(t, tc.to.Terminal(), stored.StoppedAt != nil, "StoppedAt")
		})
	}
	pipelines := []struct {
		name string
		to   []status.Pipeline // from pending, in order
		ok   []bool
	}{
		{name: "pending to created", to: []status.Pipeline{status.PipelineCreated}, ok: []bool{true}},
		{name: "pending to errored", to: []status.Pipeline{status.PipelineErrored}, ok: []bool{true}},
		{name: "created is final", to: []status.Pipeline{status.PipelineCreated, status.PipelineErrored}, ok: []bool{true, false}},
		{name: "errored is final", to: []status.Pipeline{status.PipelineErrored, status.PipelinePending}, ok: []bool{true, false}},
	}
	for _, tc := range pipelines {
		t.Run("pipeline "+tc.name, func(t *testing.T) {
			st := boltStore(t)
			ctx := context.Background()
			p, err := st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: "local/acme/api"})
			require.NoError(t, err)
			want := p.State
			for i, to := range tc.to {
				_, err := st.TransitionPipeline(ctx, p.ID, func(*store.Pipeline) (status.Pipeline, error) { return to, nil })
				if tc.ok[i] {
					require.NoError(t, err, "step %d", i)
					want = to
				} else {
					assert.ErrorIs(t, err, store.ErrStale, "step %d", i)
				}
			}
			got, err := st.GetPipeline(ctx, p.ID)
			require.NoError(t, err)
			assert.Equal(t, want, got.State)
		})
	}
}

// TestStatusChangesOnlyThroughTransitions: the Update methods refuse a
// function that changes a status, and a decision that sets the status
// itself is refused too.
func TestStatusChangesOnlyThroughTransitions(t *testing.T) {
	st := boltStore(t)
	ctx := context.Background()
	require.NoError(t, st.CreateWorkflow(ctx, store.Workflow{ID: "wf", PipelineID: "p", Status: status.WorkflowRunning, CreatedAt: st.Now()},
		[]store.Job{{ID: "j", WorkflowID: "wf", Name: "build", Status: status.JobBlocked}}))
	_, err := st.UpdateJob(ctx, "wf", "build", func(j *store.Job) error { j.Status = status.JobQueued; return nil })
	assert.ErrorIs(t, err, store.ErrStatusWrite)
	_, err = st.UpdateWorkflow(ctx, "wf", func(w *store.Workflow) error { w.Status = status.WorkflowFailed; return nil })
	assert.ErrorIs(t, err, store.ErrStatusWrite)
	_, err = st.TransitionJob(ctx, "wf", "build", func(j *store.Job) (status.Job, error) {
		j.Status = status.JobQueued
		return status.JobQueued, nil
	})
	assert.ErrorIs(t, err, store.ErrStatusWrite)
	j, err := st.GetJob(ctx, "j")
	require.NoError(t, err)
	assert.Equal(t, status.JobBlocked, j.Status)
}
