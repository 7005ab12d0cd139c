package conductor

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/orchestrator"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// fakeOrchestrator records what the conductor asks of the state machines;
// the test plays the machines' part by calling the handlers itself.
type fakeOrchestrator struct {
	mu       sync.Mutex
	started  map[string][]string // machine → execution names
	inputs   map[string]json.RawMessage
	released map[string]string // token → output or "FAIL:<error>"
}

func newFakeOrchestrator() *fakeOrchestrator {
	return &fakeOrchestrator{started: map[string][]string{}, inputs: map[string]json.RawMessage{}, released: map[string]string{}}
}

func (f *fakeOrchestrator) StartExecution(_ context.Context, arn, name string, input json.RawMessage) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.inputs[arn+"/"+name]; !ok {
		f.started[arn] = append(f.started[arn], name)
	}
	f.inputs[arn+"/"+name] = input
	return arn + ":" + name, nil
}

func (f *fakeOrchestrator) SendTaskSuccess(_ context.Context, token string, out json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.released[token]; ok {
		return orchestrator.Wrap(orchestrator.ErrTaskTimedOut, fmt.Errorf("fake: %s answered", token))
	}
	f.released[token] = string(out)
	return nil
}

func (f *fakeOrchestrator) SendTaskFailure(_ context.Context, token, name, cause string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released[token] = "FAIL:" + name
	return nil
}

func (f *fakeOrchestrator) SendTaskHeartbeat(context.Context, string) error { return nil }

func (f *fakeOrchestrator) StopExecution(context.Context, string, string, string) error { return nil }

func (f *fakeOrchestrator) DescribeExecution(_ context.Context, arn string) (orchestrator.Execution, error) {
	return orchestrator.Execution{}, orchestrator.Wrap(orchestrator.ErrExecutionDoesNotExist, fmt.Errorf("fake: %s", arn))
}

func (f *fakeOrchestrator) startedOf(machine string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.started[machine]...)
}

type fakeSource map[string]string // revision → config

func (f fakeSource) ResolveRevision(_ context.Context, _, ref string) (string, error) {
	if ref == "missing" {
		return "", vcs.ErrRevisionNotFound
	}
	return "rev-" + ref, nil
}

func (f fakeSource) FileAt(_ context.Context, _, rev, _ string) ([]byte, error) {
	src, ok := f[rev]
	if !ok {
		return nil, vcs.ErrFileNotFound
	}
	return []byte(src), nil
}

type fakeQueue struct {
	mu   sync.Mutex
	msgs []runqueue.Message
}

func (q *fakeQueue) Send(_ context.Context, body []byte, _ queue.SendOptions) (string, error) {
	m, err := runqueue.Decode(body)
	if err != nil {
		return "", err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m)
	return m.TaskID, nil
}

type harness struct {
	t     *testing.T
	c     *Conductor
	st    *store.Store
	orch  *fakeOrchestrator
	queue *fakeQueue
}

const diamond = `version: 2.1
jobs:
  build: {docker: [{image: cimg/base:stable}], steps: [checkout, {run: make}]}
  test-a: {docker: [{image: cimg/base:stable}], steps: [{run: make test-a}]}
  test-b: {docker: [{image: cimg/base:stable}], parallelism: 2, steps: [{run: make test-b}]}
  deploy: {docker: [{image: cimg/base:stable}], steps: [{run: make deploy}]}
workflows:
  main:
    jobs:
      - build
      - test-a: {requires: [build]}
      - test-b: {requires: [build]}
      - deploy: {requires: [test-a, test-b]}
`

func newHarness(t *testing.T, src fakeSource) *harness {
	t.Helper()
	return newHarnessClock(t, src, nil)
}

// newHarnessClock is newHarness with the store's clock (nil: time.Now).
func newHarnessClock(t *testing.T, src fakeSource, now func() time.Time) *harness {
	t.Helper()
	kvs, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { kvs.Close() })
	st := store.New(kvs, now)
	tokens, err := runner.NewTokens(make([]byte, 32), nil)
	require.NoError(t, err)
	h := &harness{t: t, st: st, orch: newFakeOrchestrator(), queue: &fakeQueue{}}
	h.c, err = New(Config{Store: st, Orchestrator: h.orch, Source: src, RunQueue: h.queue, Tokens: tokens,
		Machines: Machines{Pipeline: "pipeline", Workflow: "workflow", Job: "job"}})
	require.NoError(t, err)
	_, err = st.CreateProject(context.Background(), store.Project{Slug: "local/acme/app", Name: "app", VCS: "local", RepoURL: "/repo", DefaultBranch: "main"})
	require.NoError(t, err)
	return h
}

func (h *harness) call(req Request) Reply {
	h.t.Helper()
	payload, err := json.Marshal(req)
	require.NoError(h.t, err)
	out, err := h.c.Handle(context.Background(), payload)
	require.NoError(h.t, err, req.Action)
	var r Reply
	require.NoError(h.t, json.Unmarshal(out, &r))
	return r
}

func (h *harness) jobs(wid string) map[string]store.Job {
	h.t.Helper()
	jobs, err := h.st.ListJobs(context.Background(), wid)
	require.NoError(h.t, err)
	m := map[string]store.Job{}
	for _, j := range jobs {
		m[j.Name] = j
	}
	return m
}

// runJob plays a job machine: dispatch, every task reports the outcome
// (per task index), then finish_job with what the conductor released.
func (h *harness) runJob(wid, name string, outcomes ...status.Job) {
	h.t.Helper()
	ctx := context.Background()
	token := h.dispatch(wid, name)
	j := h.jobs(wid)[name]
	for i := range j.Parallelism {
		id := store.TaskID(j.ID, j.Attempt, i)
		require.NoError(h.t, h.c.TaskStarted(ctx, id, runner.TaskStart{Host: "test"}))
		out := outcomes[0]
		if i < len(outcomes) {
			out = outcomes[i]
		}
		require.NoError(h.t, h.c.TaskFinished(ctx, id, runner.TaskResult{Status: string(out)}))
		// A duplicated report is a no-op.
		require.NoError(h.t, h.c.TaskFinished(ctx, id, runner.TaskResult{Status: "success"}))
	}
	h.finishReleased(wid, name, token)
}

// dispatch plays a job machine's Dispatch state for the job's next attempt
// and returns its task token.
func (h *harness) dispatch(wid, name string) string {
	h.t.Helper()
	j := h.jobs(wid)[name]
	token := fmt.Sprintf("job-%s-%s-%d", wid, name, j.Attempt+1)
	h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: name, TaskToken: token})
	j = h.jobs(wid)[name]
	require.Equal(h.t, status.JobQueued, j.Status)
	require.NotZero(h.t, j.Number)
	return token
}

// startTasks reports every task of the job's current attempt started.
func (h *harness) startTasks(wid, name string) store.Job {
	h.t.Helper()
	j := h.jobs(wid)[name]
	for i := range j.Parallelism {
		require.NoError(h.t, h.c.TaskStarted(context.Background(), store.TaskID(j.ID, j.Attempt, i), runner.TaskStart{Host: "test"}))
	}
	return h.jobs(wid)[name]
}

// released is what the conductor completed a task token with ("" if
// nothing yet).
func (h *harness) released(token string) string {
	h.orch.mu.Lock()
	defer h.orch.mu.Unlock()
	return h.orch.released[token]
}

// finishReleased plays the job machine's Finish state with the output the
// conductor released the Dispatch token with.
func (h *harness) finishReleased(wid, name, token string) {
	h.t.Helper()
	released := h.released(token)
	require.NotEmpty(h.t, released, "job %s was not released", name)
	require.False(h.t, strings.HasPrefix(released, "FAIL:"), "job %s was released with a failure: %s", name, released)
	input, _ := json.Marshal(map[string]json.RawMessage{"result": json.RawMessage(released)})
	h.call(Request{Action: "finish_job", WorkflowID: wid, JobName: name, Input: input})
}

// finishError plays the job machine's Finish state after its Dispatch
// state caught an error (States.Timeout, InfrastructureFail after the
// retries).
func (h *harness) finishError(wid, name, errName, cause string) {
	h.t.Helper()
	input, _ := json.Marshal(map[string]any{"error": StateError{Error: errName, Cause: cause}})
	h.call(Request{Action: "finish_job", WorkflowID: wid, JobName: name, Input: input})
}

func (h *harness) workflow(wid string) store.Workflow {
	h.t.Helper()
	w, err := h.st.GetWorkflow(context.Background(), wid)
	require.NoError(h.t, err)
	return w
}

func (h *harness) task(j store.Job, index int) store.Task {
	h.t.Helper()
	t, err := h.st.GetTask(context.Background(), store.TaskID(j.ID, j.Attempt, index))
	require.NoError(h.t, err)
	return t
}

func (h *harness) setup(branch string) (store.Pipeline, string) {
	h.t.Helper()
	ctx := context.Background()
	p, err := h.c.Trigger(ctx, TriggerRequest{ProjectSlug: "local/acme/app", Branch: branch})
	require.NoError(h.t, err)
	assert.Equal(h.t, []string{p.ID}, h.orch.startedOf("pipeline"))
	if !h.call(Request{Action: "fetch_config", PipelineID: p.ID}).OK {
		return p, ""
	}
	if !h.call(Request{Action: "compile", PipelineID: p.ID}).OK {
		return p, ""
	}
	h.call(Request{Action: "create_workflows", PipelineID: p.ID})
	wfs := h.orch.startedOf("workflow")
	require.Len(h.t, wfs, 1)
	return p, wfs[0]
}

func TestDiamondWithFailure(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": diamond})
	p, wid := h.setup("main")
	ctx := context.Background()

	h.call(Request{Action: "start_workflow", WorkflowID: wid})
	h.call(Request{Action: "wait_workflow", WorkflowID: wid, TaskToken: "wf"})
	jobs := h.jobs(wid)
	assert.Equal(t, []string{jobs["build"].ID}, h.orch.startedOf("job"), "only build starts")
	for _, n := range []string{"test-a", "test-b", "deploy"} {
		assert.Equal(t, status.JobBlocked, jobs[n].Status, n)
	}

	h.runJob(wid, "build", status.JobSuccess)
	assert.ElementsMatch(t, []string{jobs["build"].ID, jobs["test-a"].ID, jobs["test-b"].ID}, h.orch.startedOf("job"))

	h.runJob(wid, "test-b", status.JobSuccess, status.JobFailed) // node 1 of 2 fails
	w, err := h.st.GetWorkflow(ctx, wid)
	require.NoError(t, err)
	assert.Equal(t, status.WorkflowFailing, w.Status, "failing while test-a has not finished")

	h.runJob(wid, "test-a", status.JobSuccess)
	jobs = h.jobs(wid)
	assert.Equal(t, status.JobSuccess, jobs["build"].Status)
	assert.Equal(t, status.JobSuccess, jobs["test-a"].Status)
	assert.Equal(t, status.JobFailed, jobs["test-b"].Status)
	assert.Equal(t, status.JobNotRun, jobs["deploy"].Status)
	w, err = h.st.GetWorkflow(ctx, wid)
	require.NoError(t, err)
	assert.Equal(t, status.WorkflowFailed, w.Status)
	assert.JSONEq(t, `{"status":"failed"}`, h.orch.released["wf"])

	h.call(Request{Action: "finalize_workflow", WorkflowID: wid, Input: json.RawMessage(`{"workflow_id":"x"}`)})
	w, err = h.st.GetWorkflow(ctx, wid)
	require.NoError(t, err)
	assert.Equal(t, status.WorkflowFailed, w.Status)
	assert.NotNil(t, w.StoppedAt)
	assert.Empty(t, w.TaskToken)
	p, err = h.st.GetPipeline(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, status.PipelineCreated, p.State)
	assert.Equal(t, "rev-main", p.VCS.Revision)
}

func TestTaskSpecEnvironment(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": diamond})
	_, wid := h.setup("main")
	h.call(Request{Action: "start_workflow", WorkflowID: wid})
	h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: "build", TaskToken: "t"})
	require.Len(t, h.queue.msgs, 1)
	msg := h.queue.msgs[0]
	assert.Equal(t, "docker", msg.Executor)
	assert.Equal(t, "cimg/base:stable", msg.Image)
	assert.Contains(t, msg.NomadJobID(), "-0-build-acme-app-1")

	spec, err := h.c.TaskSpec(context.Background(), msg.TaskID)
	require.NoError(t, err)
	env := map[string]string{}
	for _, e := range spec.Environment {
		env[e.Name] = e.Value
	}
	for k, v := range map[string]string{
		"CI": "true", "CIRCLECI": "true", "CIRCLE_BRANCH": "main", "CIRCLE_SHA1": "rev-main",
		"CIRCLE_BUILD_NUM": "1", "CIRCLE_JOB": "build", "CIRCLE_WORKFLOW_ID": wid,
		"CIRCLE_WORKING_DIRECTORY": "~/project", "CIRCLE_NODE_INDEX": "0", "CIRCLE_NODE_TOTAL": "1",
		"CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "app",
	} {
		assert.Equal(t, v, env[k], k)
	}
	require.Len(t, spec.Steps, 2)
	assert.Equal(t, runner.StepCheckout, spec.Steps[0].Type)
	assert.Equal(t, "make", spec.Steps[1].Command)

	// Dispatching again (a retried or resumed Dispatch state) re-sends only
	// the tasks that have not started, for the same attempt.
	require.NoError(t, h.c.TaskStarted(context.Background(), msg.TaskID, runner.TaskStart{}))
	h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: "build", TaskToken: "t2"})
	assert.Len(t, h.queue.msgs, 1)
	assert.Equal(t, 1, h.jobs(wid)["build"].Attempt)

	// A finished task's spec is gone.
	require.NoError(t, h.c.TaskFinished(context.Background(), msg.TaskID, runner.TaskResult{Status: "success"}))
	_, err = h.c.TaskSpec(context.Background(), msg.TaskID)
	assert.ErrorIs(t, err, runner.ErrTaskTerminal)
}

func TestInfrastructureFailRetriesAsNewAttempt(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": diamond})
	_, wid := h.setup("main")
	ctx := context.Background()
	h.call(Request{Action: "start_workflow", WorkflowID: wid})
	h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: "build", TaskToken: "a1"})
	first := h.queue.msgs[0]
	require.NoError(t, h.c.TaskFinished(ctx, first.TaskID, runner.TaskResult{Status: "infrastructure_fail", Message: "allocation lost"}))
	assert.Equal(t, "FAIL:"+ErrInfrastructureFail, h.orch.released["a1"])

	// The job machine's Retry calls dispatch again: a new attempt, new task.
	h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: "build", TaskToken: "a2"})
	require.Len(t, h.queue.msgs, 2)
	second := h.queue.msgs[1]
	assert.Equal(t, 2, second.Attempt)
	assert.NotEqual(t, first.TaskID, second.TaskID)
	assert.Equal(t, first.JobNumber, second.JobNumber, "a retry keeps the job number")
	assert.Contains(t, second.NomadJobID(), "-retry1")
	// The lost task's late success report changes nothing.
	require.NoError(t, h.c.TaskFinished(ctx, first.TaskID, runner.TaskResult{Status: "success"}))
	assert.Equal(t, []status.Job{""}, h.jobs(wid)["build"].Tasks)
}

func TestPipelineErrors(t *testing.T) {
	tests := []struct {
		name, branch, config, want string
	}{
		{name: "missing branch", branch: "missing", want: "revision not found"},
		{name: "no config file", branch: "empty", want: "cannot read .circleci/config.yml"},
		{name: "malformed yaml", branch: "bad", config: "version: 2.1\njobs:\n  build: [\n", want: ".circleci/config.yml:"},
		{name: "unknown required job", branch: "bad", config: "version: 2.1\njobs:\n  a: {docker: [{image: x}], steps: [checkout]}\nworkflows:\n  w:\n    jobs:\n      - a:\n          requires: [nope]\n", want: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fakeSource{}
			if tt.config != "" {
				src["rev-"+tt.branch] = tt.config
			}
			h := newHarness(t, src)
			p, wid := h.setup(tt.branch)
			assert.Empty(t, wid)
			p, err := h.st.GetPipeline(context.Background(), p.ID)
			require.NoError(t, err)
			assert.Equal(t, status.PipelineErrored, p.State)
			require.NotEmpty(t, p.Errors)
			assert.Contains(t, p.Errors[0].Message, tt.want)
		})
	}
}

func TestUnknownProject(t *testing.T) {
	h := newHarness(t, fakeSource{})
	_, err := h.c.Trigger(context.Background(), TriggerRequest{ProjectSlug: "local/nobody/none"})
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// TestConfigTooLarge is issue 9's defect 6: a config over the limit errors
// the pipeline at once with its size (no error for the machine to retry,
// nothing stored), and so does one whose stored form would be too large.
func TestConfigTooLarge(t *testing.T) {
	huge := "version: 2.1\n# " + strings.Repeat("x", 10_000_000) + "\n"
	// Under the file limit, but every '<' is stored as the six bytes
	// "\u003c", over the store's item limit.
	escaped := "version: 2.1\n# " + strings.Repeat("<", 200_000) + "\n"
	tests := []struct {
		name, src, wantMsg string
	}{
		{"10 MB file", huge, ".circleci/config.yml is 10.0 MB; the limit is 256 KiB"},
		{"stored form too large", escaped, "the limit is 350 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, fakeSource{"rev-main": tc.src})
			p, err := h.c.Trigger(t.Context(), TriggerRequest{ProjectSlug: "local/acme/app"})
			require.NoError(t, err)
			assert.False(t, h.call(Request{Action: "fetch_config", PipelineID: p.ID}).OK)
			got, err := h.st.GetPipeline(t.Context(), p.ID)
			require.NoError(t, err)
			assert.Equal(t, status.PipelineErrored, got.State)
			require.Len(t, got.Errors, 1)
			assert.Equal(t, "config", got.Errors[0].Type)
			assert.Contains(t, got.Errors[0].Message, tc.wantMsg)
			assert.NotContains(t, got.Errors[0].Message, "boltkv")
			_, err = h.st.GetPipelineConfig(t.Context(), p.ID)
			assert.ErrorIs(t, err, store.ErrNotFound, "nothing stored")
		})
	}
}
