package conductor

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// TestJobEvents drives one job through every event the conductor handles,
// from each status it can be in, and checks where the job and its workflow
// end up. Late and duplicated events must change nothing.
func TestJobEvents(t *testing.T) {
	ctx := context.Background()
	type op func(h *harness, wid string)
	var (
		dispatch = func(h *harness, wid string) { h.dispatch(wid, "build") }
		startAll = func(h *harness, wid string) { h.startTasks(wid, "build") }
		finish   = func(s status.Job) op {
			return func(h *harness, wid string) {
				j := h.jobs(wid)["build"]
				for i := range j.Parallelism {
					require.NoError(t, h.c.TaskFinished(ctx, store.TaskID(j.ID, j.Attempt, i), runner.TaskResult{Status: string(s)}))
				}
				if r := h.released(tokenOf(j)); r != "" && r[0] == '{' {
					h.finishReleased(wid, "build", tokenOf(j))
				}
			}
		}
		cancelJob = func(h *harness, wid string) {
			_ = h.c.CancelJob(ctx, h.jobs(wid)["build"].ID)
		}
		cancelWorkflow = func(h *harness, wid string) { _ = h.c.CancelWorkflow(ctx, wid) }
		timeout        = func(h *harness, wid string) { h.finishError(wid, "build", "States.Timeout", "") }
		infraExhausted = func(h *harness, wid string) { h.finishError(wid, "build", ErrInfrastructureFail, "lost") }
	)
	tests := []struct {
		name     string
		before   []op
		event    op
		job      status.Job
		attempt  int
		workflow status.Workflow
	}{
		{name: "blocked, dispatch: queued", event: dispatch, job: status.JobQueued, attempt: 1, workflow: status.WorkflowRunning},
		{name: "queued, task started: running", before: []op{dispatch}, event: startAll, job: status.JobRunning, attempt: 1, workflow: status.WorkflowRunning},
		{name: "running, tasks succeed: success", before: []op{dispatch, startAll}, event: finish(status.JobSuccess), job: status.JobSuccess, attempt: 1, workflow: status.WorkflowSuccess},
		{name: "running, tasks fail: failed", before: []op{dispatch, startAll}, event: finish(status.JobFailed), job: status.JobFailed, attempt: 1, workflow: status.WorkflowFailed},
		{name: "queued, tasks fail without starting: failed", before: []op{dispatch}, event: finish(status.JobFailed), job: status.JobFailed, attempt: 1, workflow: status.WorkflowFailed},
		{name: "running, infrastructure_fail: retried as attempt 2", before: []op{dispatch, startAll, finish(status.JobInfrastructureFail)}, event: dispatch, job: status.JobQueued, attempt: 2, workflow: status.WorkflowRunning},
		{name: "running, retries exhausted: infrastructure_fail", before: []op{dispatch, startAll}, event: infraExhausted, job: status.JobInfrastructureFail, attempt: 1, workflow: status.WorkflowFailed},
		{name: "running, timeout: timedout", before: []op{dispatch, startAll}, event: timeout, job: status.JobTimedOut, attempt: 1, workflow: status.WorkflowFailed},
		{name: "queued, timeout: timedout", before: []op{dispatch}, event: timeout, job: status.JobTimedOut, attempt: 1, workflow: status.WorkflowFailed},
		{name: "blocked, cancel job: canceled", event: cancelJob, job: status.JobCanceled, workflow: status.WorkflowCanceled},
		{name: "queued, cancel job: canceled", before: []op{dispatch}, event: cancelJob, job: status.JobCanceled, attempt: 1, workflow: status.WorkflowCanceled},
		{name: "running, cancel job: canceled", before: []op{dispatch, startAll}, event: cancelJob, job: status.JobCanceled, attempt: 1, workflow: status.WorkflowCanceled},
		{name: "running, cancel workflow: canceled", before: []op{dispatch, startAll}, event: cancelWorkflow, job: status.JobCanceled, attempt: 1, workflow: status.WorkflowCanceled},
		{name: "success, cancel: stays success", before: []op{dispatch, startAll, finish(status.JobSuccess)}, event: cancelJob, job: status.JobSuccess, attempt: 1, workflow: status.WorkflowSuccess},
		{name: "success, late timeout: stays success", before: []op{dispatch, startAll, finish(status.JobSuccess)}, event: timeout, job: status.JobSuccess, attempt: 1, workflow: status.WorkflowSuccess},
		{name: "canceled, late success: stays canceled", before: []op{dispatch, startAll, cancelJob}, event: finish(status.JobSuccess), job: status.JobCanceled, attempt: 1, workflow: status.WorkflowCanceled},
		{name: "canceled, late dispatch: stays canceled", before: []op{dispatch, cancelJob}, event: func(h *harness, wid string) {
			h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: "build", TaskToken: "late"})
		}, job: status.JobCanceled, attempt: 1, workflow: status.WorkflowCanceled},
		{name: "timedout, late success: stays timedout", before: []op{dispatch, startAll, timeout}, event: finish(status.JobSuccess), job: status.JobTimedOut, attempt: 1, workflow: status.WorkflowFailed},
		{name: "failed, late cancel workflow: stays failed", before: []op{dispatch, startAll, finish(status.JobFailed)}, event: cancelWorkflow, job: status.JobFailed, attempt: 1, workflow: status.WorkflowFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fakeSource{"rev-main": singleConfig})
			wid := h.begin()
			for _, o := range tt.before {
				o(h, wid)
			}
			tt.event(h, wid)
			j := h.jobs(wid)["build"]
			assert.Equal(t, tt.job, j.Status)
			assert.Equal(t, tt.attempt, j.Attempt)
			assert.Equal(t, tt.workflow, h.workflow(wid).Status)
			if j.Status.Terminal() {
				assert.NotNil(t, j.StoppedAt)
				for i := range j.Parallelism {
					if task, err := h.st.GetTask(ctx, store.TaskID(j.ID, j.Attempt, i)); err == nil {
						assert.True(t, task.Status.Terminal(), "task %d of a finished job is %s", i, task.Status)
					}
				}
			}
		})
	}
}

// tokenOf is the token harness.dispatch gave the job's current attempt.
func tokenOf(j store.Job) string {
	return fmt.Sprintf("job-%s-%s-%d", j.WorkflowID, j.Name, j.Attempt)
}
