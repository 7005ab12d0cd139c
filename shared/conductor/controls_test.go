package conductor

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

const approvalConfig = `version: 2.1
jobs:
  build: {docker: [{image: cimg/base:stable}], steps: [{run: make}]}
  deploy: {docker: [{image: cimg/base:stable}], steps: [{run: make deploy}]}
workflows:
  main:
    jobs:
      - build
      - hold: {type: approval, requires: [build]}
      - deploy: {requires: [hold]}
`

const statusMapConfig = `version: 2.1
jobs:
  build: {docker: [{image: cimg/base:stable}], steps: [{run: make}]}
  step: {docker: [{image: cimg/base:stable}], steps: [{run: "true"}]}
workflows:
  main:
    jobs:
      - build
      - step: {name: on-success, requires: [build]}
      - step: {name: on-failure, requires: [{build: failed}]}
      - step: {name: on-either, requires: [{build: [success, failed]}]}
      - step: {name: on-cancel, requires: [{build: canceled}]}
      - step: {name: always, requires: [{build: terminal}]}
`

const singleConfig = `version: 2.1
jobs:
  build: {docker: [{image: cimg/base:stable}], parallelism: 2, steps: [{run: make}]}
workflows:
  main:
    jobs: [build]
`

// started reports whether the conductor started the job's execution.
func (h *harness) started(j store.Job) bool {
	return slices.Contains(h.orch.startedOf("job"), j.ID)
}

// begin sets up a pipeline of the config and starts its workflow.
func (h *harness) begin() string {
	h.t.Helper()
	_, wid := h.setup("main")
	require.NotEmpty(h.t, wid)
	h.call(Request{Action: "start_workflow", WorkflowID: wid})
	h.call(Request{Action: "wait_workflow", WorkflowID: wid, TaskToken: "wf-" + wid})
	return wid
}

func TestRequiresStatusMaps(t *testing.T) {
	const (
		run    = "runs"
		notRun = "not_run"
	)
	tests := []struct {
		name     string
		build    func(h *harness, wid string) // brings build to its outcome
		want     map[string]string
		workflow status.Workflow
	}{
		{
			name:  "success",
			build: func(h *harness, wid string) { h.runJob(wid, "build", status.JobSuccess) },
			want: map[string]string{"on-success": run, "on-failure": notRun, "on-either": run,
				"on-cancel": notRun, "always": run},
			workflow: status.WorkflowRunning,
		},
		{
			name:  "failed",
			build: func(h *harness, wid string) { h.runJob(wid, "build", status.JobFailed) },
			want: map[string]string{"on-success": notRun, "on-failure": run, "on-either": run,
				"on-cancel": notRun, "always": run},
			workflow: status.WorkflowFailing,
		},
		{
			name: "timedout counts as failed",
			build: func(h *harness, wid string) {
				h.dispatch(wid, "build")
				h.finishError(wid, "build", "States.Timeout", "")
			},
			want: map[string]string{"on-success": notRun, "on-failure": run, "on-either": run,
				"on-cancel": notRun, "always": run},
			workflow: status.WorkflowFailing,
		},
		{
			name: "infrastructure_fail counts as failed",
			build: func(h *harness, wid string) {
				h.dispatch(wid, "build")
				h.finishError(wid, "build", ErrInfrastructureFail, "allocation lost")
			},
			want: map[string]string{"on-success": notRun, "on-failure": run, "on-either": run,
				"on-cancel": notRun, "always": run},
			workflow: status.WorkflowFailing,
		},
		{
			name: "canceled",
			build: func(h *harness, wid string) {
				h.dispatch(wid, "build")
				h.startTasks(wid, "build")
				require.NoError(h.t, h.c.CancelJob(context.Background(), h.jobs(wid)["build"].ID))
			},
			want: map[string]string{"on-success": notRun, "on-failure": notRun, "on-either": notRun,
				"on-cancel": run, "always": run},
			workflow: status.WorkflowRunning,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fakeSource{"rev-main": statusMapConfig})
			wid := h.begin()
			tt.build(h, wid)
			jobs := h.jobs(wid)
			for name, want := range tt.want {
				j := jobs[name]
				if want == run {
					assert.Equal(t, status.JobBlocked, j.Status, name)
					assert.True(t, h.started(j), "%s should have started", name)
				} else {
					assert.Equal(t, status.JobNotRun, j.Status, name)
					assert.False(t, h.started(j), "%s should not have started", name)
				}
			}
			assert.Equal(t, tt.workflow, h.workflow(wid).Status)
		})
	}
}

func TestApproval(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": approvalConfig})
	ctx := context.Background()
	wid := h.begin()
	h.runJob(wid, "build", status.JobSuccess)
	jobs := h.jobs(wid)
	hold := jobs["hold"]
	assert.Equal(t, status.JobOnHold, hold.Status)
	assert.Equal(t, "approval", hold.Type)
	assert.False(t, h.started(hold), "an approval job has no execution")
	assert.Equal(t, status.JobBlocked, jobs["deploy"].Status)
	assert.False(t, h.started(jobs["deploy"]))
	assert.Equal(t, status.WorkflowOnHold, h.workflow(wid).Status)

	// Only the approval job of this workflow can be approved.
	assert.ErrorIs(t, h.c.Approve(ctx, wid, jobs["build"].ID), ErrNotAllowed)
	assert.ErrorIs(t, h.c.Approve(ctx, wid, "00000000-0000-0000-0000-000000000000"), store.ErrNotFound)
	assert.ErrorIs(t, h.c.Approve(ctx, "no-such-workflow", hold.ID), store.ErrNotFound)

	require.NoError(t, h.c.Approve(ctx, wid, hold.ID))
	err := h.c.Approve(ctx, wid, hold.ID)
	assert.ErrorIs(t, err, ErrNotAllowed, "approving twice is refused")
	assert.ErrorContains(t, err, "already approved")
	jobs = h.jobs(wid)
	assert.Equal(t, status.JobSuccess, jobs["hold"].Status)
	assert.NotNil(t, jobs["hold"].StoppedAt)
	assert.True(t, h.started(jobs["deploy"]), "deploy runs once approved")
	assert.Equal(t, status.WorkflowRunning, h.workflow(wid).Status)

	h.runJob(wid, "deploy", status.JobSuccess)
	assert.Equal(t, status.WorkflowSuccess, h.workflow(wid).Status)
	assert.JSONEq(t, `{"status":"success"}`, h.released("wf-"+wid))
}

func TestCancelWorkflowCancelsTheHold(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": approvalConfig})
	ctx := context.Background()
	wid := h.begin()
	h.runJob(wid, "build", status.JobSuccess)
	require.Equal(t, status.WorkflowOnHold, h.workflow(wid).Status)

	require.NoError(t, h.c.CancelWorkflow(ctx, wid))
	jobs := h.jobs(wid)
	assert.Equal(t, status.JobSuccess, jobs["build"].Status, "a finished job keeps its result")
	assert.Equal(t, status.JobCanceled, jobs["hold"].Status)
	assert.Equal(t, status.JobCanceled, jobs["deploy"].Status)
	assert.False(t, h.started(jobs["deploy"]))
	w := h.workflow(wid)
	assert.Equal(t, status.WorkflowCanceled, w.Status)
	assert.NotNil(t, w.StoppedAt)
	assert.JSONEq(t, `{"status":"canceled"}`, h.released("wf-"+wid))
	// The hold can no longer be approved.
	assert.ErrorIs(t, h.c.Approve(ctx, wid, jobs["hold"].ID), ErrNotAllowed)
}

func TestCancelWorkflowStopsRunningJobs(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": diamond})
	ctx := context.Background()
	wid := h.begin()
	h.runJob(wid, "build", status.JobSuccess)
	tokA := h.dispatch(wid, "test-a")
	h.startTasks(wid, "test-a")
	tokB := h.dispatch(wid, "test-b") // queued: its tasks have not started

	require.NoError(t, h.c.CancelWorkflow(ctx, wid))
	jobs := h.jobs(wid)
	assert.Equal(t, status.JobSuccess, jobs["build"].Status)
	for _, name := range []string{"test-a", "test-b", "deploy"} {
		assert.Equal(t, status.JobCanceled, jobs[name].Status, name)
		assert.NotNil(t, jobs[name].StoppedAt, name)
		assert.Empty(t, jobs[name].TaskToken, name)
	}
	assert.Equal(t, status.WorkflowCanceled, h.workflow(wid).Status)
	assert.JSONEq(t, `{"status":"canceled"}`, h.released("wf-"+wid))
	// Each job execution is completed with "canceled".
	assert.JSONEq(t, `{"status":"canceled"}`, h.released(tokA))
	assert.JSONEq(t, `{"status":"canceled"}`, h.released(tokB))
	// Their tasks are terminal: the runner API answers 410 for them, on
	// which the bridge deregisters their Nomad jobs.
	for _, name := range []string{"test-a", "test-b"} {
		j := jobs[name]
		for i := range j.Parallelism {
			task := h.task(j, i)
			assert.Equal(t, status.JobCanceled, task.Status, "%s task %d", name, i)
			_, err := h.c.TaskSpec(ctx, task.ID)
			assert.ErrorIs(t, err, runner.ErrTaskTerminal)
			assert.ErrorIs(t, h.c.TaskHeartbeat(ctx, task.ID), runner.ErrTaskTerminal)
		}
	}

	// Late events change nothing: the agent's report, the job machines'
	// Finish states, a second cancel.
	require.NoError(t, h.c.TaskFinished(ctx, h.task(jobs["test-a"], 0).ID, runner.TaskResult{Status: "success"}))
	h.finishReleased(wid, "test-a", tokA)
	h.finishReleased(wid, "test-b", tokB)
	h.call(Request{Action: "finalize_workflow", WorkflowID: wid, Input: json.RawMessage(`{}`)})
	require.NoError(t, h.c.CancelWorkflow(ctx, wid))
	jobs = h.jobs(wid)
	assert.Equal(t, status.JobCanceled, jobs["test-a"].Status)
	assert.Equal(t, status.JobCanceled, jobs["test-b"].Status)
	assert.Equal(t, status.JobCanceled, h.task(jobs["test-a"], 0).Status)
	assert.Equal(t, status.WorkflowCanceled, h.workflow(wid).Status)

	// A workflow that finished otherwise cannot be canceled.
	h2 := newHarness(t, fakeSource{"rev-main": singleConfig})
	wid2 := h2.begin()
	h2.runJob(wid2, "build", status.JobSuccess)
	assert.ErrorIs(t, h2.c.CancelWorkflow(ctx, wid2), ErrNotAllowed)
	assert.Equal(t, status.WorkflowSuccess, h2.workflow(wid2).Status)
}

// A job whose execution was started but not yet dispatched when its
// workflow was canceled completes at once, without enqueuing anything.
func TestCancelBeforeDispatch(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": singleConfig})
	ctx := context.Background()
	wid := h.begin()
	require.True(t, h.started(h.jobs(wid)["build"]))
	require.NoError(t, h.c.CancelWorkflow(ctx, wid))
	assert.Equal(t, status.JobCanceled, h.jobs(wid)["build"].Status)

	h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: "build", TaskToken: "late"})
	assert.JSONEq(t, `{"status":"canceled"}`, h.released("late"))
	assert.Empty(t, h.queue.msgs, "nothing is enqueued for a canceled job")
	assert.Zero(t, h.jobs(wid)["build"].Attempt)
	h.finishReleased(wid, "build", "late")
	assert.Equal(t, status.JobCanceled, h.jobs(wid)["build"].Status)
}

func TestCancelJob(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": diamond})
	ctx := context.Background()
	wid := h.begin()
	h.runJob(wid, "build", status.JobSuccess)
	tokA := h.dispatch(wid, "test-a")
	a := h.startTasks(wid, "test-a")
	tokB := h.dispatch(wid, "test-b")
	h.startTasks(wid, "test-b")

	require.NoError(t, h.c.CancelJob(ctx, a.ID))
	require.NoError(t, h.c.CancelJob(ctx, a.ID), "cancelling a canceled job is a no-op")
	jobs := h.jobs(wid)
	assert.Equal(t, status.JobCanceled, jobs["test-a"].Status)
	assert.Equal(t, status.JobCanceled, h.task(jobs["test-a"], 0).Status)
	assert.JSONEq(t, `{"status":"canceled"}`, h.released(tokA))
	assert.Equal(t, status.JobRunning, jobs["test-b"].Status, "the other jobs go on")
	assert.Equal(t, status.JobNotRun, jobs["deploy"].Status, "a dependent of a canceled job does not run")
	assert.Equal(t, status.WorkflowRunning, h.workflow(wid).Status)

	h.finishReleased(wid, "test-a", tokA)
	for i := range 2 {
		require.NoError(t, h.c.TaskFinished(ctx, h.task(jobs["test-b"], i).ID, runner.TaskResult{Status: "success"}))
	}
	h.finishReleased(wid, "test-b", tokB)
	jobs = h.jobs(wid)
	assert.Equal(t, status.JobSuccess, jobs["test-b"].Status)
	assert.False(t, h.started(jobs["deploy"]))
	assert.Equal(t, status.WorkflowCanceled, h.workflow(wid).Status)

	assert.ErrorIs(t, h.c.CancelJob(ctx, jobs["build"].ID), ErrNotAllowed, "a finished job cannot be canceled")
	assert.ErrorIs(t, h.c.CancelJob(ctx, "00000000-0000-0000-0000-000000000000"), store.ErrNotFound)
}

func TestJobTimeoutStopsItsTasks(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": singleConfig})
	ctx := context.Background()
	wid := h.begin()
	var in jobInput
	require.NoError(t, json.Unmarshal(h.orch.inputs["job/"+h.jobs(wid)["build"].ID], &in))
	assert.Equal(t, int64(5*3600), in.TimeoutSeconds, "the job machine times the job out after the job timeout")

	h.dispatch(wid, "build")
	j := h.startTasks(wid, "build")
	require.NoError(t, h.c.TaskFinished(ctx, h.task(j, 0).ID, runner.TaskResult{Status: "success"}))
	// The Dispatch state times out and its Catch goes to Finish.
	h.finishError(wid, "build", "States.Timeout", "")
	j = h.jobs(wid)["build"]
	assert.Equal(t, status.JobTimedOut, j.Status)
	assert.Contains(t, j.Message, "time limit")
	assert.Equal(t, status.JobSuccess, h.task(j, 0).Status, "a finished task keeps its outcome")
	assert.Equal(t, status.JobTimedOut, h.task(j, 1).Status, "the task still running is stopped")
	assert.ErrorIs(t, h.c.TaskHeartbeat(ctx, h.task(j, 1).ID), runner.ErrTaskTerminal)
	assert.Equal(t, status.WorkflowFailed, h.workflow(wid).Status)

	// The agent's late report changes nothing.
	require.NoError(t, h.c.TaskFinished(ctx, h.task(j, 1).ID, runner.TaskResult{Status: "success"}))
	assert.Equal(t, status.JobTimedOut, h.jobs(wid)["build"].Status)
	assert.Equal(t, status.JobTimedOut, h.task(j, 1).Status)
}

func TestInfrastructureFailRetriesThenGivesUp(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": singleConfig})
	ctx := context.Background()
	wid := h.begin()
	var number int64
	for attempt := 1; attempt <= 3; attempt++ {
		token := h.dispatch(wid, "build")
		j := h.startTasks(wid, "build")
		assert.Equal(t, attempt, j.Attempt)
		if number == 0 {
			number = j.Number
		}
		assert.Equal(t, number, j.Number, "every attempt keeps the job number")
		require.NoError(t, h.c.TaskFinished(ctx, h.task(j, 0).ID, runner.TaskResult{Status: "infrastructure_fail", Message: "allocation lost"}))
		require.NoError(t, h.c.TaskFinished(ctx, h.task(j, 1).ID, runner.TaskResult{Status: "success"}))
		assert.Equal(t, "FAIL:"+ErrInfrastructureFail, h.released(token))
		assert.Equal(t, status.WorkflowRunning, h.workflow(wid).Status, "a retried job is not a failure yet")
	}
	// The machine's Retry (MaxAttempts 2) is exhausted: its Catch finishes.
	h.finishError(wid, "build", ErrInfrastructureFail, "allocation lost")
	j := h.jobs(wid)["build"]
	assert.Equal(t, status.JobInfrastructureFail, j.Status)
	assert.Equal(t, 3, j.Attempt)
	assert.Equal(t, status.WorkflowFailed, h.workflow(wid).Status)
}

const scheduledConfig = `version: 2.1
jobs:
  build: {docker: [{image: cimg/base:stable}], steps: [{run: make}]}
  nightly: {docker: [{image: cimg/base:stable}], steps: [{run: make nightly}]}
workflows:
  push:
    jobs: [build]
  nightly:
    triggers:
      - schedule: {cron: "0 3 * * *", filters: {branches: {only: [main]}}}
    jobs: [nightly]
`

func TestScheduledPipelineRunsOnlyTheScheduledWorkflow(t *testing.T) {
	tests := []struct {
		name string
		req  TriggerRequest
		want []string
	}{
		{name: "push", req: TriggerRequest{Branch: "main"}, want: []string{"push"}},
		{name: "schedule", req: TriggerRequest{Branch: "main", TriggerType: "schedule", ScheduledWorkflow: "nightly"}, want: []string{"nightly"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fakeSource{"rev-main": scheduledConfig})
			ctx := context.Background()
			tt.req.ProjectSlug = "local/acme/app"
			p, err := h.c.Trigger(ctx, tt.req)
			require.NoError(t, err)
			assert.Equal(t, tt.req.ScheduledWorkflow, p.Trigger.ScheduledWorkflow)
			require.True(t, h.call(Request{Action: "fetch_config", PipelineID: p.ID}).OK)
			require.True(t, h.call(Request{Action: "compile", PipelineID: p.ID}).OK)
			h.call(Request{Action: "create_workflows", PipelineID: p.ID})
			wfs, err := h.st.ListWorkflows(ctx, p.ID)
			require.NoError(t, err)
			var names []string
			for _, w := range wfs {
				names = append(names, w.Name)
			}
			assert.Equal(t, tt.want, names)
		})
	}

	h := newHarness(t, fakeSource{})
	_, err := h.c.Trigger(context.Background(), TriggerRequest{ProjectSlug: "local/acme/app", TriggerType: "schedule"})
	assert.ErrorIs(t, err, ErrBadTrigger, "a schedule trigger names its workflow")
}

const noOpConfig = `version: 2.1
jobs:
  a: {docker: [{image: cimg/base:stable}], steps: [{run: "true"}]}
  b: {docker: [{image: cimg/base:stable}], steps: [{run: "true"}]}
  join: {type: no-op}
  after: {docker: [{image: cimg/base:stable}], steps: [{run: "true"}]}
workflows:
  main:
    jobs:
      - a
      - b
      - join: {requires: [a, b]}
      - after: {requires: [join]}
`

// A no-op job runs nothing: it succeeds once its requirements are met.
func TestNoOpJob(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": noOpConfig})
	wid := h.begin()
	h.runJob(wid, "a", status.JobSuccess)
	assert.Equal(t, status.JobBlocked, h.jobs(wid)["join"].Status)
	h.runJob(wid, "b", status.JobSuccess)
	jobs := h.jobs(wid)
	assert.Equal(t, status.JobSuccess, jobs["join"].Status)
	assert.False(t, h.started(jobs["join"]), "a no-op job has no execution")
	assert.True(t, h.started(jobs["after"]))
}
