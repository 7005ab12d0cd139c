package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/testenv"
	"github.com/orbit-ci/orbit/shared/vcs/localgit"
)

// Secrets seeded into records; no response may contain them.
const (
	workflowToken = "wf-task-token-SECRET-4f1d"
	jobToken      = "job-task-token-SECRET-9a2c"
)

// fakeTrigger creates pipelines through the store, as the conductor does,
// without starting executions.
type fakeTrigger struct {
	st  *store.Store
	err error // returned instead when set

	mu   sync.Mutex
	reqs []conductor.TriggerRequest
}

func (f *fakeTrigger) Trigger(ctx context.Context, req conductor.TriggerRequest) (store.Pipeline, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	if f.err != nil {
		return store.Pipeline{}, f.err
	}
	if req.Branch != "" && req.Tag != "" {
		return store.Pipeline{}, fmt.Errorf("%w: give branch or tag, not both", conductor.ErrBadTrigger)
	}
	proj, err := f.st.GetProject(ctx, req.ProjectSlug)
	if err != nil {
		return store.Pipeline{}, err
	}
	if req.Branch == "" && req.Tag == "" {
		req.Branch = proj.DefaultBranch
	}
	return f.st.CreatePipeline(ctx, store.Pipeline{
		ProjectSlug: proj.Slug,
		Trigger:     store.Trigger{Type: req.TriggerType, Actor: req.Actor},
		VCS:         store.PipelineVCS{OriginRepositoryURL: proj.RepoURL, Branch: req.Branch, Tag: req.Tag},
		Parameters:  req.Parameters,
	})
}

type env struct {
	t       *testing.T
	h       *api.Handler
	st      *store.Store
	trigger *fakeTrigger
	logs    *testenv.Buffer
	// acc keeps the users; admin is the first user (an instance admin)
	// and token their API token, which do sends unless told otherwise.
	acc   *accounts.Service
	admin *accounts.User
	token string
	kv    kv.Store
	// contract validates every response do receives (contract_test.go).
	contract *contract
}

// newEnv builds the handler on a real bbolt kv in a temporary directory.
func newEnv(t *testing.T, opts ...func(*api.Config)) *env {
	t.Helper()
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "orbit.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	st := store.New(db, nil)
	logs := &testenv.Buffer{}
	ft := &fakeTrigger{st: st}
	acc, err := accounts.New(db, accounts.Config{SessionKey: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	admin, err := acc.SignIn(t.Context(), accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: "admin", Login: "admin"})
	require.NoError(t, err)
	token, _, err := acc.CreateToken(t.Context(), admin.ID, "tests")
	require.NoError(t, err)
	cfg := api.Config{
		Store:    st,
		Trigger:  ft,
		Projects: localgit.Repos{},
		Accounts: acc,
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version:  "1.2.3-test",
	}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := api.New(cfg)
	require.NoError(t, err)
	return &env{t: t, h: h, st: st, trigger: ft, logs: logs, acc: acc, admin: admin, token: token, kv: db, contract: newContract(t, h)}
}

// anonymous is a header pair for do that sends no credential.
var anonymous = []string{"Circle-Token", ""}

// do sends a request; headers come in name, value pairs.
func (e *env) do(method, target, body string, headers ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Header.Set("Circle-Token", e.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if req.Header.Get("Circle-Token") == "" {
		req.Header.Del("Circle-Token")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if body != "" {
		req.Body = io.NopCloser(strings.NewReader(body)) // the contract checks the body the handler took
	}
	e.contract.check(e.t, req, rec)
	return rec
}

// decodeBody decodes a JSON response into a generic map or slice.
func decodeBody[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"), rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

type obj = map[string]any

// gitRepo makes a git repository at dir/<parent>/<name> and returns its path.
func gitRepo(t *testing.T, parent, name string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: following a repository needs it")
	}
	dir := filepath.Join(t.TempDir(), parent, name)
	out, err := exec.Command("git", "init", "--initial-branch=trunk", dir).CombinedOutput()
	require.NoError(t, err, string(out))
	return dir
}

// seeded is a pipeline with one workflow of three jobs:
//
//	build (docker/large, parallelism 2, success; task 0 has two steps with output)
//	  └─ test (running, job #2)
//	       └─ hold (approval, blocked)
type seeded struct {
	project               store.Project
	pipeline              store.Pipeline
	workflow              store.Workflow
	build, test, hold     store.Job
	task0, task1          string
	start, checkout, fail time.Time
}

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func at(sec int) *time.Time {
	t := t0.Add(time.Duration(sec) * time.Second)
	return &t
}

func seed(t *testing.T, st *store.Store) seeded {
	t.Helper()
	ctx := context.Background()
	var s seeded
	var err error
	s.project, err = st.CreateProject(ctx, store.Project{Slug: "local/acme/api", Name: "api", VCS: "local",
		RepoURL: "/src/acme/api", DefaultBranch: "main"})
	require.NoError(t, err)
	s.pipeline, err = st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: s.project.Slug,
		Trigger: store.Trigger{Type: "api", Actor: "alice"},
		VCS:     store.PipelineVCS{OriginRepositoryURL: s.project.RepoURL, Branch: "main"}})
	require.NoError(t, err)
	require.NoError(t, st.PutPipelineConfig(ctx, s.pipeline.ID, store.PipelineConfig{
		Source: "version: 2.1\njobs: {}\n", Plan: json.RawMessage(`{"version":"2.1","workflows":[]}`)}))
	s.pipeline, err = st.TransitionPipeline(ctx, s.pipeline.ID, func(p *store.Pipeline) (status.Pipeline, error) {
		p.VCS.Revision = "0123456789abcdef0123456789abcdef01234567"
		return status.PipelineCreated, nil
	})
	require.NoError(t, err)

	s.workflow = store.Workflow{ID: uuid.NewString(), Name: "build-and-test", PipelineID: s.pipeline.ID,
		PipelineNumber: s.pipeline.Number, ProjectSlug: s.project.Slug, Status: status.WorkflowRunning,
		CreatedAt: t0, TaskToken: workflowToken}
	spec, err := json.Marshal(config.JobInvocation{Name: "build", JobName: "build", Contexts: []string{"org-global"},
		Job: &config.Job{Executor: config.Executor{Type: "docker", ResourceClass: "large"}, Parallelism: 2}})
	require.NoError(t, err)
	jobs := []store.Job{
		{ID: uuid.NewString(), Name: "build", Type: "build", Status: status.JobBlocked, Parallelism: 2, Spec: spec},
		{ID: uuid.NewString(), Name: "test", Type: "build", Status: status.JobBlocked, Parallelism: 1,
			Requires: []store.Requirement{{Name: "build", Statuses: []status.Job{status.JobSuccess}}}},
		{ID: uuid.NewString(), Name: "hold", Type: "approval", Status: status.JobBlocked,
			Requires: []store.Requirement{{Name: "test"}}},
	}
	for i := range jobs {
		jobs[i].WorkflowID, jobs[i].PipelineID, jobs[i].ProjectSlug = s.workflow.ID, s.pipeline.ID, s.project.Slug
	}
	require.NoError(t, st.CreateWorkflow(ctx, s.workflow, jobs))

	s.build = finishJob(t, st, jobs[0], func(j *store.Job) {
		j.Status, j.Attempt, j.TaskToken = status.JobSuccess, 1, jobToken
		j.QueuedAt, j.StartedAt, j.StoppedAt = at(0), at(1), at(66)
		j.Tasks = []status.Job{status.JobSuccess, status.JobSuccess}
	})
	s.test = finishJob(t, st, jobs[1], func(j *store.Job) {
		j.Status, j.Attempt, j.TaskToken = status.JobRunning, 1, jobToken
		j.QueuedAt, j.StartedAt = at(70), at(71)
	})
	s.hold = jobs[2]

	s.task0, s.task1 = store.TaskID(s.build.ID, 1, 0), store.TaskID(s.build.ID, 1, 1)
	for i, id := range []string{s.task0, s.task1} {
		_, err := st.CreateTask(ctx, store.Task{ID: id, JobID: s.build.ID, JobName: "build", WorkflowID: s.workflow.ID,
			PipelineID: s.pipeline.ID, ProjectSlug: s.project.Slug, Index: i, Attempt: 1, Status: status.JobSuccess})
		require.NoError(t, err)
	}
	putStep(t, st, s.task0, 0, "Checkout code", "checkout", status.StepSuccess, 0, 1, 3)
	putStep(t, st, s.task0, 1, "go test ./...", "run", status.StepFailed, 1, 3, 65)
	putStep(t, st, s.task1, 0, "Checkout code", "checkout", status.StepSuccess, 0, 1, 2)
	for seq, chunk := range []string{
		"\x1b[31mFAIL\x1b[0m <script>alert(1)</script>\n",
		"--- FAIL: TestThing\n",
		"exit status 1\n",
	} {
		require.NoError(t, st.AppendOutput(ctx, s.task0, 1, seq, []byte(chunk)))
	}
	require.NoError(t, st.AppendOutput(ctx, s.task0, 0, 0, []byte("Cloning into '.'...\n")))
	return s
}

func finishJob(t *testing.T, st *store.Store, j store.Job, fn func(*store.Job)) store.Job {
	t.Helper()
	ctx := context.Background()
	j, err := st.AssignJobNumber(ctx, j)
	require.NoError(t, err)
	// fn may set the status: it goes through TransitionJob, as every
	// status change must, by way of queued and running when the rules
	// want them first (a fixture's job jumps from blocked to its outcome).
	want := j
	fn(&want)
	for _, via := range []status.Job{status.JobQueued, status.JobRunning} {
		if j.Status != want.Status && !j.Status.CanTransition(want.Status) && j.Status.CanTransition(via) {
			j, err = st.TransitionJob(ctx, j.WorkflowID, j.Name, func(*store.Job) (status.Job, error) { return via, nil })
			require.NoError(t, err)
		}
	}
	j, err = st.TransitionJob(ctx, j.WorkflowID, j.Name, func(*store.Job) (status.Job, error) { return want.Status, nil })
	require.NoError(t, err)
	// Then the fixture's own times and fields replace the stamps.
	j, err = st.UpdateJob(ctx, j.WorkflowID, j.Name, func(cur *store.Job) error {
		fn(cur)
		return nil
	})
	require.NoError(t, err)
	return j
}

func putStep(t *testing.T, st *store.Store, taskID string, n int, name, typ string, s status.Step, exit, from, to int) {
	t.Helper()
	_, err := st.PutStep(context.Background(), taskID, n, func(step *store.Step) error {
		step.Name, step.Type, step.Status = name, typ, s
		step.ExitCode = &exit
		step.StartedAt, step.StoppedAt = *at(from), at(to)
		return nil
	})
	require.NoError(t, err)
}

// calls returns the trigger requests so far.
func (f *fakeTrigger) calls() []conductor.TriggerRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]conductor.TriggerRequest(nil), f.reqs...)
}
