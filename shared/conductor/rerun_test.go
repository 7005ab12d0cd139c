package conductor

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

func TestRerun(t *testing.T) {
	ctx := context.Background()
	// failedDiamond runs the diamond with test-b failing.
	failedDiamond := func(t *testing.T) (*harness, string, map[string]store.Job) {
		h := newHarness(t, fakeSource{"rev-main": diamond})
		wid := h.begin()
		h.runJob(wid, "build", status.JobSuccess)
		h.runJob(wid, "test-a", status.JobSuccess)
		h.runJob(wid, "test-b", status.JobSuccess, status.JobFailed)
		require.Equal(t, status.WorkflowFailed, h.workflow(wid).Status)
		return h, wid, h.jobs(wid)
	}
	tests := []struct {
		name string
		req  func(old map[string]store.Job) RerunRequest
		// kept jobs keep status and number; the others are blocked anew,
		// or not_run at once when a kept result does not meet their
		// requirements.
		kept, started, notRun []string
	}{
		{name: "all", req: func(map[string]store.Job) RerunRequest { return RerunRequest{} },
			started: []string{"build"}},
		{name: "from failed", req: func(map[string]store.Job) RerunRequest { return RerunRequest{FromFailed: true} },
			kept: []string{"build", "test-a"}, started: []string{"test-b"}},
		{name: "one job and its dependents", req: func(old map[string]store.Job) RerunRequest {
			return RerunRequest{Jobs: []string{old["test-a"].ID}}
		}, kept: []string{"build", "test-b"}, started: []string{"test-a"}, notRun: []string{"deploy"}},
		{name: "the first job reruns everything after it", req: func(old map[string]store.Job) RerunRequest {
			return RerunRequest{Jobs: []string{old["build"].ID}, SparseTree: true}
		}, started: []string{"build"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, wid, old := failedDiamond(t)
			nid, err := h.c.Rerun(ctx, wid, tt.req(old))
			require.NoError(t, err)
			require.NotEqual(t, wid, nid)
			w := h.workflow(nid)
			assert.Equal(t, "main", w.Name)
			assert.Equal(t, h.workflow(wid).PipelineID, w.PipelineID, "a rerun is in the same pipeline")
			assert.Equal(t, wid, w.RerunOf)
			assert.Contains(t, h.orch.startedOf("workflow"), nid)

			h.call(Request{Action: "start_workflow", WorkflowID: nid})
			jobs := h.jobs(nid)
			require.Len(t, jobs, 4)
			for name, j := range jobs {
				assert.NotEqual(t, old[name].ID, j.ID, "%s is a new job record", name)
				switch {
				case slices.Contains(tt.kept, name):
					assert.Equal(t, old[name].Status, j.Status, name)
					assert.Equal(t, old[name].Number, j.Number, name)
					assert.False(t, h.started(j), "kept %s is not run again", name)
					assert.Equal(t, &store.JobRun{WorkflowID: wid, Attempt: old[name].Attempt}, j.ResultOf,
						"kept %s records the run whose result (and workspace) it keeps", name)
					continue
				case slices.Contains(tt.notRun, name):
					assert.Equal(t, status.JobNotRun, j.Status, name)
					assert.False(t, h.started(j), "%s cannot run", name)
				case slices.Contains(tt.started, name):
					assert.Equal(t, status.JobBlocked, j.Status, name)
					assert.True(t, h.started(j), "%s runs again", name)
				default:
					assert.Equal(t, status.JobBlocked, j.Status, name)
					assert.False(t, h.started(j), "%s waits for its requirements", name)
				}
				assert.Nil(t, j.ResultOf, "%s runs in the rerun", name)
			}
			assert.Equal(t, status.WorkflowFailed, h.workflow(wid).Status, "the old workflow is left as it was")
		})
	}

	t.Run("from failed reruns to success with new job numbers", func(t *testing.T) {
		h, wid, old := failedDiamond(t)
		nid, err := h.c.Rerun(ctx, wid, RerunRequest{FromFailed: true})
		require.NoError(t, err)
		h.call(Request{Action: "start_workflow", WorkflowID: nid})
		h.call(Request{Action: "wait_workflow", WorkflowID: nid, TaskToken: "wf-" + nid})
		h.runJob(nid, "test-b", status.JobSuccess)
		h.runJob(nid, "deploy", status.JobSuccess)
		jobs := h.jobs(nid)
		assert.Greater(t, jobs["test-b"].Number, old["test-b"].Number)
		assert.Equal(t, status.JobSuccess, jobs["deploy"].Status)
		assert.Equal(t, status.WorkflowSuccess, h.workflow(nid).Status)
	})

	t.Run("a rerun of a rerun keeps each result's origin", func(t *testing.T) {
		h, wid, old := failedDiamond(t)
		require.Equal(t, 1, old["build"].Attempt)
		// test-a runs again; build and the failed test-b are kept.
		nid, err := h.c.Rerun(ctx, wid, RerunRequest{Jobs: []string{old["test-a"].ID}})
		require.NoError(t, err)
		h.call(Request{Action: "start_workflow", WorkflowID: nid})
		h.call(Request{Action: "wait_workflow", WorkflowID: nid, TaskToken: "wf-" + nid})
		h.runJob(nid, "test-a", status.JobSuccess)
		require.Equal(t, status.WorkflowFailed, h.workflow(nid).Status)
		mid := h.jobs(nid)

		// From failed: test-b and deploy run; build (kept twice) still
		// leads to the first workflow, test-a to the rerun that ran it.
		nid2, err := h.c.Rerun(ctx, nid, RerunRequest{FromFailed: true})
		require.NoError(t, err)
		jobs := h.jobs(nid2)
		assert.Equal(t, &store.JobRun{WorkflowID: wid, Attempt: 1}, jobs["build"].ResultOf)
		assert.Equal(t, &store.JobRun{WorkflowID: nid, Attempt: mid["test-a"].Attempt}, jobs["test-a"].ResultOf)
		assert.Equal(t, 1, mid["test-a"].Attempt)
		assert.Equal(t, mid["test-a"].Number, jobs["test-a"].Number)
		assert.Nil(t, jobs["test-b"].ResultOf)
		assert.Nil(t, jobs["deploy"].ResultOf)
	})

	t.Run("refused", func(t *testing.T) {
		h, wid, old := failedDiamond(t)
		_, err := h.c.Rerun(ctx, wid, RerunRequest{FromFailed: true, Jobs: []string{old["build"].ID}})
		assert.ErrorIs(t, err, ErrNotAllowed, "from_failed and jobs together")
		_, err = h.c.Rerun(ctx, wid, RerunRequest{Jobs: []string{"00000000-0000-0000-0000-000000000000"}})
		assert.ErrorIs(t, err, ErrNotAllowed, "a job of another workflow")
		_, err = h.c.Rerun(ctx, wid, RerunRequest{SparseTree: true})
		assert.ErrorIs(t, err, ErrNotAllowed, "sparse_tree without jobs")
		_, err = h.c.Rerun(ctx, "no-such-workflow", RerunRequest{})
		assert.ErrorIs(t, err, store.ErrNotFound)

		nid, err := h.c.Rerun(ctx, wid, RerunRequest{})
		require.NoError(t, err)
		_, err = h.c.Rerun(ctx, nid, RerunRequest{})
		assert.ErrorIs(t, err, ErrNotAllowed, "a running workflow")

		h2 := newHarness(t, fakeSource{"rev-main": singleConfig})
		wid2 := h2.begin()
		h2.runJob(wid2, "build", status.JobSuccess)
		_, err = h2.c.Rerun(ctx, wid2, RerunRequest{FromFailed: true})
		assert.ErrorIs(t, err, ErrNotAllowed, "nothing failed")
	})
}
