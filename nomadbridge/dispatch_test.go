package nomadbridge_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// unit is a bridge wired to fakes.
type unit struct {
	ev     *events
	q      recQueue
	jobs   *fakeJobs
	allocs *fakeAllocs
	runner *fakeRunner
	logs   *testenv.Buffer
	bridge *nomadbridge.Bridge
	stop   func()
	// cfg is the bridge's configuration, for a restart.
	cfg nomadbridge.Config
}

func newUnit(t *testing.T, mod ...func(*nomadbridge.Config)) *unit {
	t.Helper()
	u := &unit{ev: &events{}, allocs: newFakeAllocs(), runner: newFakeRunner(), logs: &testenv.Buffer{}}
	u.q = newQueue(t, u.ev)
	u.jobs = newFakeJobs(t, u.ev)
	cfg := nomadbridge.Config{
		Queue:             u.q,
		Nomad:             nomadbridge.Nomad{Jobs: u.jobs, Allocations: u.allocs, Addr: "http://10.0.0.1:4646"},
		RunnerURL:         "http://127.0.0.1:1/runner/v1",
		RunnerClient:      u.runner.client,
		Agent:             nomadbridge.AgentCommand{Path: "/usr/local/bin/orbit", Args: []string{"agent"}},
		Concurrency:       2,
		ReceiveWait:       50 * time.Millisecond,
		MinBackoff:        5 * time.Millisecond,
		MaxBackoff:        20 * time.Millisecond,
		HeartbeatInterval: time.Hour,
		WatchWait:         time.Second,
		Logger:            testLogger(t, u.logs),
	}
	for _, f := range mod {
		f(&cfg)
	}
	b, err := nomadbridge.New(cfg)
	require.NoError(t, err)
	u.bridge, u.cfg = b, cfg
	return u
}

// restart replaces the (stopped) bridge with a new one of the same
// configuration, as after a crash.
func (u *unit) restart(t *testing.T) {
	t.Helper()
	b, err := nomadbridge.New(u.cfg)
	require.NoError(t, err)
	u.bridge = b
	u.start(t)
}

func (u *unit) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.bridge.Run(ctx) }()
	var once sync.Once
	var stop func()
	u.stop = func() { once.Do(stop) }
	stop = func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(u.stop)
}

func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, append([]any{msg}, args...)...)
}

func TestDispatchRegistersThenDeletes(t *testing.T) {
	u := newUnit(t)
	m := message("t1")
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
	assert.Equal(t, []string{"register", "delete"}, u.ev.all(), "deleted only after Register")
	job := u.jobs.get(m.NomadJobID())
	require.NotNil(t, job)
	assert.Equal(t, "t1", job.Meta[nomadbridge.MetaTaskID])
	assert.Equal(t, int64(1), u.bridge.Stats().Registered)
	assert.Contains(t, u.logs.String(), "pipeline_id=pipe-t1")
	assert.Contains(t, u.logs.String(), "task_index=0")
	assert.NotContains(t, u.logs.String(), m.Token, "the token is never logged")
}

func TestDispatchNomadUnreachableKeepsTheMessage(t *testing.T) {
	u := newUnit(t)
	u.jobs.registerErr = func(n int) error {
		if n <= 3 {
			return errUnreachable
		}
		return nil
	}
	send(t, u.q, encode(t, message("t1")))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted once Nomad is back")
	ev := u.ev.all()
	assert.Equal(t, []string{"register-error", "extend", "register-error", "extend", "register-error", "extend",
		"register", "delete"}, ev)
	assert.Contains(t, u.logs.String(), "nomad unreachable at http://10.0.0.1:4646: register job")
	assert.Equal(t, int64(3), u.bridge.Stats().NomadErrors)
	assert.Equal(t, int64(1), u.bridge.Stats().Received, "retried in place, not redelivered")
}

func TestDispatchRegisterErrorAtShutdownLosesNothing(t *testing.T) {
	u := newUnit(t)
	u.jobs.registerErr = func(int) error { return errUnreachable }
	send(t, u.q, encode(t, message("t1")))
	u.start(t)
	eventually(t, func() bool { return u.ev.count("register-error") >= 2 }, "register retried")
	u.stop()
	assert.Zero(t, u.ev.count("delete"))
	s, err := u.q.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, s.Visible+s.InFlight, "the message is still queued")
}

func TestDispatchMalformedMessagesAreDeleted(t *testing.T) {
	u := newUnit(t)
	send(t, u.q, []byte("not json"))
	send(t, u.q, []byte(`{"version":99,"task_id":"x","pipeline_id":"p","token":"t"}`))
	send(t, u.q, []byte(`{"version":1,"task_id":"x"}`))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "malformed messages deleted")
	assert.Equal(t, int64(3), u.bridge.Stats().Malformed)
	assert.Zero(t, u.ev.count("register"))
	assert.Contains(t, u.logs.String(), "malformed run-queue message")
	assert.Contains(t, u.logs.String(), "message_id=")
}

func TestDispatchTerminalTaskIsSkipped(t *testing.T) {
	u := newUnit(t)
	m := message("t1")
	u.runner.gone[m.Token] = true
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
	assert.Zero(t, u.ev.count("register"))
	assert.Equal(t, int64(1), u.bridge.Stats().Terminal)
}

func TestDispatchDuplicateIsIdempotent(t *testing.T) {
	u := newUnit(t, func(c *nomadbridge.Config) { c.Concurrency = 1 })
	m := message("t1")
	send(t, u.q, encode(t, m))
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "messages deleted")
	assert.Equal(t, 1, u.ev.count("register"))
	assert.Equal(t, 2, u.ev.count("delete"))
	assert.Equal(t, int64(1), u.bridge.Stats().Duplicates)
}

func TestDispatchUnknownResourceClass(t *testing.T) {
	u := newUnit(t)
	m := message("t1", func(m *runqueue.Message) { m.ResourceClass = "gpu.nvidia.huge" })
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
	assert.Zero(t, u.ev.count("register"))
	res := u.runner.results(m.Token)
	require.Len(t, res, 1)
	assert.Equal(t, runner.StatusInfrastructureFail, res[0].Status)
	assert.Contains(t, res[0].Message, `unknown resource class "gpu.nvidia.huge"`)
}

func TestNewValidates(t *testing.T) {
	ok := func() nomadbridge.Config {
		return nomadbridge.Config{Queue: newQueue(t, &events{}), Nomad: nomadbridge.Nomad{Jobs: &fakeJobs{}, Allocations: newFakeAllocs()},
			RunnerURL: "http://x", Agent: nomadbridge.AgentCommand{Path: "/bin/orbit"}}
	}
	tests := []struct {
		name string
		mod  func(*nomadbridge.Config)
		want string
	}{
		{"valid", func(*nomadbridge.Config) {}, ""},
		{"no queue", func(c *nomadbridge.Config) { c.Queue = nil }, "Queue"},
		{"no nomad", func(c *nomadbridge.Config) { c.Nomad = nomadbridge.Nomad{} }, "Nomad"},
		{"no runner url", func(c *nomadbridge.Config) { c.RunnerURL = "" }, "RunnerURL"},
		{"no agent", func(c *nomadbridge.Config) { c.Agent.Path = "" }, "Agent.Path"},
		{"docker driver", func(c *nomadbridge.Config) { c.Driver = "docker" }, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mod(&c)
			_, err := nomadbridge.New(c)
			if tt.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.want)
			}
		})
	}
}

// allocFor is a stub allocation of m's job.
func allocFor(m runqueue.Message, id, clientStatus string, events ...*api.TaskEvent) *api.AllocationListStub {
	return &api.AllocationListStub{
		ID: id, JobID: m.NomadJobID(), NodeName: "node-a", NodeID: "1234",
		DesiredStatus: api.AllocDesiredStatusRun, ClientStatus: clientStatus, CreateIndex: 10,
		TaskStates: map[string]*api.TaskState{nomadbridge.TaskName: {Events: events}},
	}
}
