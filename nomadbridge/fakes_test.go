package nomadbridge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/fakepool"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/queue/boltqueue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// events is an ordered record of what fakes were asked to do.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, s)
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

func (e *events) count(s string) int {
	n := 0
	for _, x := range e.all() {
		if x == s {
			n++
		}
	}
	return n
}

// recQueue records Extend and Delete calls of a real boltqueue.
type recQueue struct {
	queue.Queue
	ev *events
}

func (q recQueue) Extend(ctx context.Context, receipt string, d time.Duration) error {
	q.ev.add("extend")
	return q.Queue.Extend(ctx, receipt, d)
}

func (q recQueue) Delete(ctx context.Context, receipt string) error {
	q.ev.add("delete")
	return q.Queue.Delete(ctx, receipt)
}

func newQueue(t *testing.T, ev *events) recQueue {
	t.Helper()
	q, err := boltqueue.Open(filepath.Join(t.TempDir(), "q.db"), "run", boltqueue.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	return recQueue{Queue: q, ev: ev}
}

// nomad404 is the error the real client returns for a missing job.
func nomad404(t *testing.T) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "job not found", http.StatusNotFound)
	}))
	defer srv.Close()
	c, err := api.NewClient(&api.Config{Address: srv.URL})
	require.NoError(t, err)
	_, _, err = c.Jobs().Info("missing", nil)
	require.Error(t, err)
	return err
}

var errUnreachable = &url.Error{Op: "Put", URL: "http://10.0.0.1:4646/v1/jobs", Err: syscall.ECONNREFUSED}

// fakeJobs is an in-memory *api.Jobs.
type fakeJobs struct {
	mu          sync.Mutex
	jobs        map[string]*api.Job
	notFound    error
	registerErr func(n int) error // n counts Register calls from 1
	registers   int
	ev          *events
	status      map[string]*api.JobListStub
	listErr     error
}

func newFakeJobs(t *testing.T, ev *events) *fakeJobs {
	return &fakeJobs{jobs: map[string]*api.Job{}, notFound: nomad404(t), ev: ev}
}

// List lists the jobs as running, or as the status set by setStatus.
func (f *fakeJobs) List(*api.QueryOptions) ([]*api.JobListStub, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, nil, f.listErr
	}
	var out []*api.JobListStub
	for id := range f.jobs {
		st := f.status[id]
		if st == nil {
			st = &api.JobListStub{Status: "running"}
		}
		c := *st
		c.ID = id
		out = append(out, &c)
	}
	return out, &api.QueryMeta{}, nil
}

func (f *fakeJobs) setStatus(id string, st *api.JobListStub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == nil {
		f.status = map[string]*api.JobListStub{}
	}
	f.status[id] = st
}

// EnforceRegister registers only a job that does not exist (index 0), with
// the real client's error otherwise.
func (f *fakeJobs) EnforceRegister(job *api.Job, index uint64, q *api.WriteOptions) (*api.JobRegisterResponse, *api.WriteMeta, error) {
	f.mu.Lock()
	_, exists := f.jobs[*job.ID]
	f.mu.Unlock()
	if index == 0 && exists {
		f.ev.add("register-exists")
		return nil, nil, fmt.Errorf("Unexpected response code: 500 (%s 0: job already exists)", api.RegisterEnforceIndexErrPrefix)
	}
	return f.Register(job, q)
}

func (f *fakeJobs) Register(job *api.Job, _ *api.WriteOptions) (*api.JobRegisterResponse, *api.WriteMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registers++
	if f.registerErr != nil {
		if err := f.registerErr(f.registers); err != nil {
			f.ev.add("register-error")
			return nil, nil, err
		}
	}
	f.jobs[*job.ID] = job
	f.ev.add("register")
	return &api.JobRegisterResponse{}, &api.WriteMeta{}, nil
}

func (f *fakeJobs) Info(id string, _ *api.QueryOptions) (*api.Job, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return nil, nil, f.notFound
	}
	return j, &api.QueryMeta{}, nil
}

func (f *fakeJobs) Deregister(id string, purge bool, _ *api.WriteOptions) (string, *api.WriteMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.jobs[id]; !ok {
		return "", nil, f.notFound
	}
	if purge {
		delete(f.jobs, id)
	}
	f.ev.add("purge " + id)
	return "", &api.WriteMeta{}, nil
}

func (f *fakeJobs) get(id string) *api.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jobs[id]
}

// fakeAllocs is an in-memory allocation list with blocking queries.
type fakeAllocs struct {
	mu      sync.Mutex
	allocs  []*api.AllocationListStub
	index   uint64
	changed chan struct{}
}

func newFakeAllocs() *fakeAllocs { return &fakeAllocs{index: 1, changed: make(chan struct{})} }

func (f *fakeAllocs) List(q *api.QueryOptions) ([]*api.AllocationListStub, *api.QueryMeta, error) {
	f.mu.Lock()
	if q.WaitIndex > 0 && q.WaitIndex >= f.index {
		ch := f.changed
		f.mu.Unlock()
		t := time.NewTimer(q.WaitTime)
		select {
		case <-ch:
		case <-q.Context().Done():
		case <-t.C:
		}
		t.Stop()
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	if err := q.Context().Err(); err != nil {
		return nil, nil, err
	}
	out := slices.Clone(f.allocs)
	if q.Params["task_states"] == "false" { // as Nomad answers it
		for i, a := range out {
			c := *a
			c.TaskStates = nil
			out[i] = &c
		}
	}
	return out, &api.QueryMeta{LastIndex: f.index}, nil
}

// Info answers as Nomad does for one allocation: whole, with its task
// states.
func (f *fakeAllocs) Info(id string, _ *api.QueryOptions) (*api.Allocation, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.allocs {
		if a.ID == id {
			return &api.Allocation{ID: a.ID, JobID: a.JobID, NodeID: a.NodeID, NodeName: a.NodeName, TaskGroup: a.TaskGroup,
				DesiredStatus: a.DesiredStatus, DesiredDescription: a.DesiredDescription, ClientStatus: a.ClientStatus,
				ClientDescription: a.ClientDescription, TaskStates: a.TaskStates, CreateIndex: a.CreateIndex,
				ModifyIndex: a.ModifyIndex, CreateTime: a.CreateTime, ModifyTime: a.ModifyTime}, &api.QueryMeta{LastIndex: f.index}, nil
		}
	}
	return nil, nil, fmt.Errorf("fakeAllocs: no allocation %s (the tests read only listed ones)", id)
}

func (f *fakeAllocs) set(allocs ...*api.AllocationListStub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allocs = allocs
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
}

// fakeRunner records what the bridge reports per token.
type fakeRunner struct {
	mu         sync.Mutex
	gone       map[string]bool
	finishes   map[string][]runner.TaskResult
	heartbeats map[string]int
	finishErr  error
	waits      map[string][]runner.TaskWaiting
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{gone: map[string]bool{}, finishes: map[string][]runner.TaskResult{}, heartbeats: map[string]int{}}
}

func (f *fakeRunner) client(token string) nomadbridge.TaskReporter { return reporter{f, token} }

func (f *fakeRunner) results(token string) []runner.TaskResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.finishes[token])
}

func (f *fakeRunner) beats(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.heartbeats[token]
}

type reporter struct {
	f     *fakeRunner
	token string
}

func (r reporter) Placement(context.Context) (runner.TaskPlacement, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if r.f.gone[r.token] {
		return runner.TaskPlacement{}, runner.ErrTaskGone
	}
	return runner.TaskPlacement{}, nil
}

func (r reporter) Finish(_ context.Context, res runner.TaskResult) error {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if r.f.finishErr != nil {
		return r.f.finishErr
	}
	r.f.finishes[r.token] = append(r.f.finishes[r.token], res)
	return nil
}

func (r reporter) Waiting(_ context.Context, w runner.TaskWaiting) error {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if r.f.waits == nil {
		r.f.waits = map[string][]runner.TaskWaiting{}
	}
	r.f.waits[r.token] = append(r.f.waits[r.token], w)
	return nil
}

func (f *fakeRunner) waiting(token string) []runner.TaskWaiting {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.waits[token])
}

func (r reporter) Heartbeat(context.Context) error {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if r.f.gone[r.token] {
		return runner.ErrTaskGone
	}
	r.f.heartbeats[r.token]++
	return nil
}

func testLogger(t *testing.T, w io.Writer) *slog.Logger {
	if testing.Verbose() {
		w = io.MultiWriter(w, tWriter{t})
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func message(taskID string, mod ...func(*runqueue.Message)) runqueue.Message {
	m := runqueue.Message{
		TaskID: taskID, JobID: "job-" + taskID, WorkflowID: "wf-1", PipelineID: "pipe-" + taskID,
		ProjectSlug: "gh/acme/app", JobNumber: 7, JobName: "build", Index: 0, Total: 1, Attempt: 1,
		Executor: "docker", Image: "cimg/base:stable", Token: "tok-" + taskID,
	}
	for _, f := range mod {
		f(&m)
	}
	return m
}

func send(t *testing.T, q queue.Queue, body []byte) {
	t.Helper()
	_, err := q.Send(context.Background(), body, queue.SendOptions{})
	require.NoError(t, err)
}

func encode(t *testing.T, m runqueue.Message) []byte {
	t.Helper()
	b, err := m.Encode()
	require.NoError(t, err)
	return b
}

func queueEmpty(q queue.Queue) bool {
	s, err := q.Stats(context.Background())
	return err == nil && s.Visible == 0 && s.InFlight == 0 && s.Delayed == 0
}

// recPool is a fakepool that records Lease and Release calls into events
// ("lease", "lease-unavailable", "lease-unknown", "lease-error", "release")
// and the requests of successful leases.
type recPool struct {
	*fakepool.Pool
	ev *events
	// leaseErr, when set, fails Lease call n (from 1) with its error.
	leaseErr func(n int) error

	mu     sync.Mutex
	calls  int
	leased []vmpool.Request
}

func newRecPool(t *testing.T, ev *events, cfg fakepool.Config) *recPool {
	p := fakepool.New(cfg)
	t.Cleanup(p.Close)
	return &recPool{Pool: p, ev: ev}
}

func (p *recPool) Lease(ctx context.Context, r vmpool.Request) (vmpool.Lease, error) {
	p.mu.Lock()
	p.calls++
	var err error
	if p.leaseErr != nil {
		err = p.leaseErr(p.calls)
	}
	p.mu.Unlock()
	var l vmpool.Lease
	if err == nil {
		l, err = p.Pool.Lease(ctx, r)
	}
	switch {
	case errors.Is(err, vmpool.ErrUnavailable):
		p.ev.add("lease-unavailable")
	case errors.Is(err, vmpool.ErrUnknownClass):
		p.ev.add("lease-unknown")
	case err != nil:
		p.ev.add("lease-error")
	default:
		p.ev.add("lease")
		p.mu.Lock()
		p.leased = append(p.leased, r)
		p.mu.Unlock()
	}
	return l, err
}

func (p *recPool) Release(ctx context.Context, id string) error {
	p.ev.add("release")
	return p.Pool.Release(ctx, id)
}

func (p *recPool) requests() []vmpool.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.leased)
}

// leaseOf is the pool's unreleased lease for a task.
func (p *recPool) leaseOf(t *testing.T, taskID string) (vmpool.Lease, bool) {
	t.Helper()
	ls, err := p.Leases(context.Background())
	require.NoError(t, err)
	for _, l := range ls {
		if l.Request.TaskID == taskID {
			return l, true
		}
	}
	return vmpool.Lease{}, false
}
