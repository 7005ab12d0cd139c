package store_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// tickingStore is a store on each driver whose clock moves a second on
// every reading, so that records stamped one after the other sort apart.
func forEachDriverTicking(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			var mu sync.Mutex
			clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			fn(t, store.New(d.open(t), func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				clock = clock.Add(time.Second)
				return clock
			}))
		})
	}
}

func unfinishedJobNames(t *testing.T, st *store.Store, s status.Job) []string {
	t.Helper()
	var names []string
	for cursor := ""; ; {
		jobs, next, err := st.UnfinishedJobs(t.Context(), s, cursor, 1)
		require.NoError(t, err)
		for _, j := range jobs {
			assert.Equal(t, s, j.Status, "job %s listed under %s", j.Name, s)
			names = append(names, j.Name)
		}
		if next == "" {
			return names
		}
		cursor = next
	}
}

// TestUnfinishedJobs: a job is listed under its status while it is not
// terminal, oldest first, through every kind of write (create, Update,
// Transition), and leaves the list on the transition that finishes it;
// a finished history is not listed at all.
func TestUnfinishedJobs(t *testing.T) {
	forEachDriverTicking(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		done := st.Now()
		require.NoError(t, st.CreateWorkflow(ctx, store.Workflow{ID: "old", PipelineID: "p0", Status: status.WorkflowSuccess, CreatedAt: st.Now(), StoppedAt: &done},
			[]store.Job{{ID: "old-build", WorkflowID: "old", Name: "old-build", Status: status.JobSuccess}}))
		require.NoError(t, st.CreateWorkflow(ctx, store.Workflow{ID: "wf", PipelineID: "p1", Status: status.WorkflowRunning, CreatedAt: st.Now()},
			[]store.Job{
				{ID: "j1", WorkflowID: "wf", Name: "build", Status: status.JobBlocked},
				{ID: "j2", WorkflowID: "wf", Name: "lint", Status: status.JobBlocked},
				{ID: "j3", WorkflowID: "wf", Name: "hold", Type: "approval", Status: status.JobBlocked},
			}))
		to := func(name string, s status.Job) {
			t.Helper()
			_, err := st.TransitionJob(ctx, "wf", name, func(*store.Job) (status.Job, error) { return s, nil })
			require.NoError(t, err)
		}
		assert.ElementsMatch(t, []string{"build", "lint", "hold"}, unfinishedJobNames(t, st, status.JobBlocked))

		to("lint", status.JobQueued)
		to("build", status.JobQueued)
		assert.Equal(t, []string{"hold"}, unfinishedJobNames(t, st, status.JobBlocked))
		assert.Equal(t, []string{"lint", "build"}, unfinishedJobNames(t, st, status.JobQueued), "the longest queued first")

		// a write that changes no status keeps the job where it is
		_, err := st.UpdateJob(ctx, "wf", "lint", func(j *store.Job) error { j.Message = "waiting for a machine"; return nil })
		require.NoError(t, err)
		_, err = st.AssignJobNumber(ctx, mustJob(t, st, "j2"))
		require.NoError(t, err)
		assert.Equal(t, []string{"lint", "build"}, unfinishedJobNames(t, st, status.JobQueued))

		to("lint", status.JobRunning)
		to("hold", status.JobOnHold)
		assert.Equal(t, []string{"build"}, unfinishedJobNames(t, st, status.JobQueued))
		assert.Equal(t, []string{"lint"}, unfinishedJobNames(t, st, status.JobRunning))
		assert.Equal(t, []string{"hold"}, unfinishedJobNames(t, st, status.JobOnHold))
		assert.Empty(t, unfinishedJobNames(t, st, status.JobBlocked))

		// an infrastructure retry queues it again, at the back
		to("lint", status.JobQueued)
		assert.Equal(t, []string{"build", "lint"}, unfinishedJobNames(t, st, status.JobQueued))

		// a refused transition leaves the index as it was
		_, err = st.TransitionJob(ctx, "wf", "hold", func(*store.Job) (status.Job, error) { return status.JobFailed, nil })
		require.ErrorIs(t, err, store.ErrStale)
		assert.Equal(t, []string{"hold"}, unfinishedJobNames(t, st, status.JobOnHold))

		to("build", status.JobCanceled)
		to("lint", status.JobRunning)
		to("lint", status.JobSuccess)
		to("hold", status.JobSuccess)
		for _, s := range []status.Job{status.JobBlocked, status.JobQueued, status.JobRunning, status.JobOnHold} {
			assert.Empty(t, unfinishedJobNames(t, st, s), "nothing %s once every job finished", s)
		}

		// a deleted job leaves the index with its record
		require.NoError(t, st.CreateWorkflow(ctx, store.Workflow{ID: "wf2", PipelineID: "p2", Status: status.WorkflowRunning, CreatedAt: st.Now()},
			[]store.Job{{ID: "j4", WorkflowID: "wf2", Name: "stuck", Status: status.JobBlocked}}))
		_, err = st.TransitionJob(ctx, "wf2", "stuck", func(*store.Job) (status.Job, error) { return status.JobQueued, nil })
		require.NoError(t, err)
		require.Equal(t, []string{"stuck"}, unfinishedJobNames(t, st, status.JobQueued))
		require.NoError(t, st.DeleteJob(ctx, mustJob(t, st, "j4")))
		assert.Empty(t, unfinishedJobNames(t, st, status.JobQueued))

		_, _, err = st.UnfinishedJobs(ctx, status.JobSuccess, "", 0)
		assert.Error(t, err, "a terminal status has no index")
	})
}

func mustJob(t *testing.T, st *store.Store, id string) store.Job {
	t.Helper()
	j, err := st.GetJob(t.Context(), id)
	require.NoError(t, err)
	return j
}

// TestUnfinishedTasksAndWorkflows: the same index for tasks and
// workflows.
func TestUnfinishedTasksAndWorkflows(t *testing.T) {
	forEachDriverTicking(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		tasks := func(s status.Job) []string {
			t.Helper()
			ts, next, err := st.UnfinishedTasks(ctx, s, "", 0)
			require.NoError(t, err)
			require.Empty(t, next)
			return idsOf(ts, func(x store.Task) string { return x.ID })
		}
		workflows := func(s status.Workflow) []string {
			t.Helper()
			ws, next, err := st.UnfinishedWorkflows(ctx, s, "", 0)
			require.NoError(t, err)
			require.Empty(t, next)
			return idsOf(ws, func(x store.Workflow) string { return x.ID })
		}
		for _, id := range []string{"t1", "t2"} {
			_, err := st.CreateTask(ctx, store.Task{ID: id, JobID: "j", Status: status.JobQueued})
			require.NoError(t, err)
		}
		_, err := st.CreateTask(ctx, store.Task{ID: "t0", JobID: "j", Status: status.JobSuccess})
		require.NoError(t, err)
		assert.Equal(t, []string{"t1", "t2"}, tasks(status.JobQueued))
		_, err = st.TransitionTask(ctx, "t1", func(*store.Task) (status.Job, error) { return status.JobRunning, nil })
		require.NoError(t, err)
		_, err = st.UpdateTask(ctx, "t1", func(x *store.Task) error { x.Host = "node-1"; return nil })
		require.NoError(t, err)
		assert.Equal(t, []string{"t2"}, tasks(status.JobQueued))
		assert.Equal(t, []string{"t1"}, tasks(status.JobRunning))
		_, err = st.TransitionTask(ctx, "t1", func(*store.Task) (status.Job, error) { return status.JobFailed, nil })
		require.NoError(t, err)
		assert.Empty(t, tasks(status.JobRunning))

		for _, id := range []string{"w1", "w2"} {
			require.NoError(t, st.CreateWorkflow(ctx, store.Workflow{ID: id, PipelineID: "p", Status: status.WorkflowRunning, CreatedAt: st.Now()}, nil))
		}
		assert.Equal(t, []string{"w1", "w2"}, workflows(status.WorkflowRunning))
		_, err = st.TransitionWorkflow(ctx, "w1", func(*store.Workflow) (status.Workflow, error) { return status.WorkflowFailing, nil })
		require.NoError(t, err)
		_, err = st.UpdateWorkflow(ctx, "w1", func(w *store.Workflow) error { w.TaskToken = "token"; return nil })
		require.NoError(t, err)
		assert.Equal(t, []string{"w1"}, workflows(status.WorkflowFailing))
		_, err = st.TransitionWorkflow(ctx, "w1", func(*store.Workflow) (status.Workflow, error) { return status.WorkflowFailed, nil })
		require.NoError(t, err)
		_, err = st.TransitionWorkflow(ctx, "w2", func(*store.Workflow) (status.Workflow, error) { return status.WorkflowSuccess, nil })
		require.NoError(t, err)
		assert.Empty(t, workflows(status.WorkflowFailing))
		assert.Empty(t, workflows(status.WorkflowRunning))
		// the workflow is still listed by its pipeline (GSI1 is untouched)
		ws, err := st.ListWorkflows(ctx, "p")
		require.NoError(t, err)
		assert.Len(t, ws, 2)
	})
}

// TestBackfillUnfinished: records written before the index existed (no
// index keys) are indexed by one backfill; a second is a no-op, and
// finished records are left alone.
func TestBackfillUnfinished(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			ctx := t.Context()
			db := d.open(t)
			st := store.New(db, nil)
			_, err := st.CreateProject(ctx, store.Project{Slug: "local/acme/api", Name: "api"})
			require.NoError(t, err)
			pipelines := 2
			if d.name == "boltkv" {
				pipelines = 102 // more than a page: the progress is recorded between pages
			}
			var last store.Pipeline
			for range pipelines {
				last, err = st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: "local/acme/api"})
				require.NoError(t, err)
			}
			now := st.Now()
			// as an older Orbit wrote them: the same records, no GSI2 keys
			raw := func(pk, sk, gsi1pk, gsi1sk string, v any) {
				t.Helper()
				b, err := json.Marshal(v)
				require.NoError(t, err)
				_, err = db.Put(ctx, kv.Item{PK: pk, SK: sk, GSI1PK: gsi1pk, GSI1SK: gsi1sk, Data: b}, kv.Condition{})
				require.NoError(t, err)
			}
			wfKey := func(w store.Workflow) (string, string, string, string) {
				return "WORKFLOW#" + w.ID, "META", "PIPELINE#" + w.PipelineID + "#WORKFLOWS", w.CreatedAt.Format(time.RFC3339Nano) + "#" + w.ID
			}
			running := store.Workflow{ID: "wf-running", PipelineID: last.ID, Status: status.WorkflowRunning, CreatedAt: now}
			done := store.Workflow{ID: "wf-done", PipelineID: last.ID, Status: status.WorkflowSuccess, CreatedAt: now, StoppedAt: &now}
			pk, sk, g1, g2 := wfKey(running)
			raw(pk, sk, g1, g2, running)
			pk, sk, g1, g2 = wfKey(done)
			raw(pk, sk, g1, g2, done)
			queued := store.Job{ID: "j-queued", WorkflowID: running.ID, Name: "build", Status: status.JobQueued, Parallelism: 1, Attempt: 1, QueuedAt: &now}
			raw("WORKFLOW#"+running.ID, "JOB#build", "", "", queued)
			raw("JOB#j-queued", "META", "", "", map[string]string{"workflow_id": running.ID, "name": "build"})
			raw("WORKFLOW#"+running.ID, "JOB#lint", "", "", store.Job{ID: "j-ok", WorkflowID: running.ID, Name: "lint", Status: status.JobSuccess})
			raw("TASK#"+store.TaskID("j-queued", 1, 0), "META", "", "", store.Task{ID: store.TaskID("j-queued", 1, 0), JobID: "j-queued", Status: status.JobQueued})

			jobs, _, err := st.UnfinishedJobs(ctx, status.JobQueued, "", 0)
			require.NoError(t, err)
			require.Empty(t, jobs, "not indexed before the backfill")

			n, err := st.BackfillUnfinished(ctx)
			require.NoError(t, err)
			assert.Equal(t, 3, n, "the running workflow, the queued job and its task")
			jobs, _, err = st.UnfinishedJobs(ctx, status.JobQueued, "", 0)
			require.NoError(t, err)
			require.Len(t, jobs, 1)
			assert.Equal(t, "j-queued", jobs[0].ID)
			tasks, _, err := st.UnfinishedTasks(ctx, status.JobQueued, "", 0)
			require.NoError(t, err)
			assert.Len(t, tasks, 1)
			wfs, _, err := st.UnfinishedWorkflows(ctx, status.WorkflowRunning, "", 0)
			require.NoError(t, err)
			assert.Len(t, wfs, 1)
			all, err := st.ListWorkflows(ctx, last.ID)
			require.NoError(t, err)
			assert.Len(t, all, 2, "the workflows keep their GSI1 keys")

			n, err = st.BackfillUnfinished(ctx)
			require.NoError(t, err)
			assert.Zero(t, n, "done once")
		})
	}
}

// idsOf lists the records' IDs in order.
func idsOf[T any](xs []T, id func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}
