package nomadbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// fakeVars is an in-memory *api.Variables.
type fakeVars struct {
	mu   sync.Mutex
	vars map[string]api.VariableItems
}

func (f *fakeVars) CheckedCreate(v *api.Variable, _ *api.WriteOptions) (*api.Variable, *api.WriteMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.vars[v.Path]; ok {
		return nil, nil, api.ErrCASConflict{CheckIndex: 0, Conflict: v}
	}
	f.vars[v.Path] = v.Items
	return v, &api.WriteMeta{}, nil
}

func (f *fakeVars) Read(path string, _ *api.QueryOptions) (*api.Variable, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it, ok := f.vars[path]
	if !ok {
		return nil, nil, api.ErrVariablePathNotFound
	}
	return &api.Variable{Path: path, Items: it}, &api.QueryMeta{}, nil
}

func (f *fakeVars) PrefixList(prefix string, _ *api.QueryOptions) ([]*api.VariableMetadata, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*api.VariableMetadata
	for p := range f.vars {
		if strings.HasPrefix(p, prefix) {
			out = append(out, &api.VariableMetadata{Path: p})
		}
	}
	return out, &api.QueryMeta{}, nil
}

func (f *fakeVars) Delete(path string, _ *api.WriteOptions) (*api.WriteMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.vars, path)
	return &api.WriteMeta{}, nil
}

func (f *fakeVars) all() []api.VariableItems {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.VariableItems
	for _, it := range f.vars {
		out = append(out, it)
	}
	return out
}

var _ nomadbridge.NomadVariables = (*fakeVars)(nil)

// warmUnit is a bridge with warm agents on fakes; its WarmHandler is
// served by srv, where test code plays the warm agents.
type warmUnit struct {
	*unit
	vars *fakeVars
	srv  *httptest.Server
}

func newWarmUnit(t *testing.T, mod ...func(*nomadbridge.Config)) *warmUnit {
	t.Helper()
	vars := &fakeVars{vars: map[string]api.VariableItems{}}
	u := &warmUnit{vars: vars}
	u.unit = newUnit(t, append([]func(*nomadbridge.Config){func(c *nomadbridge.Config) {
		c.Nomad.Variables = vars
		c.Warm = nomadbridge.WarmConfig{
			Agents:   map[string]int{"medium": 1},
			ClaimURL: "http://bridge.invalid/warm", Secret: bytes.Repeat([]byte("k"), 32),
			Interval: 20 * time.Millisecond, AcceptTimeout: 300 * time.Millisecond, ClaimWait: 2 * time.Second,
		}
	}}, mod...)...)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.bridge.WarmHandler().ServeHTTP(w, r) // the bridge of the moment (restarts replace it)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// warmJobs are the warm jobs in the fake Nomad.
func (u *warmUnit) warmJobs() []string {
	u.jobs.mu.Lock()
	defer u.jobs.mu.Unlock()
	var ids []string
	for id, j := range u.jobs.jobs {
		if j.Meta[nomadbridge.MetaWarmClass] != "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// oneWarmJob waits for the pool's single warm job.
func (u *warmUnit) oneWarmJob(t *testing.T) string {
	t.Helper()
	eventually(t, func() bool { return len(u.warmJobs()) == 1 }, "one warm job registered")
	return u.warmJobs()[0]
}

// client plays warm job id's agent, with the token the bridge gave it.
func (u *warmUnit) client(t *testing.T, id string) agent.WarmClient {
	t.Helper()
	job := u.jobs.get(id)
	require.NotNil(t, job)
	env := job.TaskGroups[0].Tasks[0].Env
	assert.Equal(t, id, env[agent.EnvWarmID])
	assert.Empty(t, env[agent.EnvTaskToken], "a warm job carries no task token")
	assert.Equal(t, []string{"agent", "--warm"}, job.TaskGroups[0].Tasks[0].Config["args"])
	return agent.WarmClient{URL: u.srv.URL, ID: id, Token: env[agent.EnvWarmToken], Backoff: 5 * time.Millisecond}
}

// claim runs the agent's Claim in the background.
func claim(c agent.WarmClient) <-chan string {
	ch := make(chan string, 1)
	go func() {
		tok, err := c.Claim(context.Background())
		if err != nil {
			tok = "error: " + err.Error()
		}
		ch <- tok
	}()
	return ch
}

// waitingAgents waits until n agents of medium are in a long poll.
func (u *warmUnit) waitingAgents(t *testing.T, n int) {
	t.Helper()
	eventually(t, func() bool { return u.bridge.WarmStats().Waiting["medium"] == n }, "%d warm agents waiting", n)
}

func warmAlloc(jobID, id, status string, events ...*api.TaskEvent) *api.AllocationListStub {
	a := allocFor(runqueue.Message{}, id, status, events...)
	a.JobID = jobID
	return a
}

// handOff starts the bridge, has its warm agent claim and queues task t1:
// it returns the warm job, the message and what the agent's claim gets.
func (u *warmUnit) handOff(t *testing.T) (string, runqueue.Message, <-chan string) {
	t.Helper()
	u.start(t)
	w := u.oneWarmJob(t)
	got := claim(u.client(t, w))
	u.waitingAgents(t, 1)
	m := message("t1")
	send(t, u.q, encode(t, m))
	return w, m, got
}

func TestWarmAgentTakesTheTaskAndIsReplaced(t *testing.T) {
	u := newWarmUnit(t)
	w, m, got := u.handOff(t)
	select {
	case tok := <-got:
		assert.Equal(t, m.Token, tok, "the agent got the task's token")
	case <-time.After(10 * time.Second):
		t.Fatal("the warm agent got no task")
	}
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
	assert.Nil(t, u.jobs.get(m.NomadJobID()), "no cold job for the task")
	eventually(t, func() bool { return len(u.warmJobs()) == 2 }, "a replacement warm job registered")
	vars := u.vars.all()
	require.Len(t, vars, 1, "the hand-off is recorded in Nomad")
	assert.Equal(t, w, vars[0]["warm_job"])
	assert.Equal(t, "t1", vars[0]["task_id"])
	st := u.bridge.WarmStats()
	assert.Equal(t, int64(1), st.Claimed)
	assert.Equal(t, 1, st.Busy["medium"])

	// The watch follows the warm job as the task's: outcome, then purge.
	u.allocs.set(warmAlloc(w, "a1", api.AllocClientStatusRunning))
	u.allocs.set(warmAlloc(w, "a1", api.AllocClientStatusComplete, terminated(0, 0)))
	eventually(t, func() bool { return u.jobs.get(w) == nil }, "used warm job purged")
	assert.Equal(t, []runner.TaskResult{{Status: runner.StatusSuccess}}, u.runner.results(m.Token))
	eventually(t, func() bool { return len(u.vars.all()) == 0 }, "hand-off record deleted once the job is gone")
	assert.Len(t, u.warmJobs(), 1, "the replacement stays, unused")
}

func TestWarmTaskGoesColdWhenNoAgentCanTakeIt(t *testing.T) {
	tests := []struct {
		name string
		poll bool // an agent waits
		mod  func(*runqueue.Message)
	}{
		{"no agent waiting", false, nil},
		{"class without warm agents", true, func(m *runqueue.Message) { m.ResourceClass = "small" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newWarmUnit(t)
			u.start(t)
			w := u.oneWarmJob(t)
			if tt.poll {
				got := claim(u.client(t, w))
				u.waitingAgents(t, 1)
				defer func() {
					u.stop()
					assert.Contains(t, <-got, "retired", "the idle agent is retired at shutdown")
				}()
			}
			var mods []func(*runqueue.Message)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			m := message("t1", mods...)
			send(t, u.q, encode(t, m))
			eventually(t, func() bool { return u.jobs.get(m.NomadJobID()) != nil }, "cold job registered")
			eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
			assert.Equal(t, int64(0), u.bridge.WarmStats().Claimed)
		})
	}
}

// post sends a raw claim-protocol request.
func post(t *testing.T, url, token string, req agent.WarmRequest) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(req)
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	require.NoError(t, err)
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

func TestWarmOfferNotAcceptedInTimeGoesCold(t *testing.T) {
	u := newWarmUnit(t)
	u.start(t)
	w := u.oneWarmJob(t)
	c := u.client(t, w)
	m := message("t1")
	type answer struct {
		code int
		body []byte
	}
	got := make(chan answer, 1)
	go func() {
		code, body := post(t, u.srv.URL+"/claim", c.Token, agent.WarmRequest{WarmID: w})
		got <- answer{code, body}
	}()
	u.waitingAgents(t, 1)
	send(t, u.q, encode(t, m))
	a := <-got
	require.Equal(t, http.StatusOK, a.code, "offered: %s", a.body)
	var offer agent.WarmOffer
	require.NoError(t, json.Unmarshal(a.body, &offer))
	// The agent never accepts: after AcceptTimeout the task goes cold.
	eventually(t, func() bool { return u.jobs.get(m.NomadJobID()) != nil }, "cold job registered")
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
	code, _ := post(t, u.srv.URL+"/accept", c.Token, agent.WarmRequest{WarmID: w, Claim: offer.Claim})
	// Refused: expired (409), or the agent retired as surplus once its
	// replacement was registered (410). Either way the task runs once.
	assert.Contains(t, []int{http.StatusConflict, http.StatusGone}, code, "a late accept is refused")
	assert.Empty(t, u.vars.all())
}

func TestWarmHandlerRefusesBadRequests(t *testing.T) {
	u := newWarmUnit(t)
	u.start(t)
	w := u.oneWarmJob(t)
	c := u.client(t, w)
	tests := []struct {
		name, path, token string
		req               agent.WarmRequest
		code              int
	}{
		{"wrong token", "/claim", "not-the-token", agent.WarmRequest{WarmID: w}, http.StatusUnauthorized},
		{"another agent's token", "/claim", c.Token, agent.WarmRequest{WarmID: w + "x"}, http.StatusUnauthorized},
		{"no id", "/claim", c.Token, agent.WarmRequest{}, http.StatusBadRequest},
		{"accept without an offer", "/accept", c.Token, agent.WarmRequest{WarmID: w, Claim: "c"}, http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(t, u.srv.URL+tt.path, tt.token, tt.req)
			assert.Equal(t, tt.code, code, "%s", body)
		})
	}
}

func TestWarmScalesToZeroWhenIdleAndBack(t *testing.T) {
	u := newWarmUnit(t, func(c *nomadbridge.Config) { c.Warm.IdleAfter = 300 * time.Millisecond })
	u.start(t)
	u.oneWarmJob(t)
	eventually(t, func() bool { return len(u.warmJobs()) == 0 }, "warm agents retired after the idle period")
	assert.Equal(t, int64(1), u.bridge.WarmStats().Retired)

	m := message("t1")
	send(t, u.q, encode(t, m))
	eventually(t, func() bool { return u.jobs.get(m.NomadJobID()) != nil }, "the first task after idling goes cold")
	u.oneWarmJob(t)
}

func TestWarmIdleAgentThatEndsIsReplaced(t *testing.T) {
	u := newWarmUnit(t)
	u.start(t)
	w := u.oneWarmJob(t)
	u.allocs.set(warmAlloc(w, "a1", api.AllocClientStatusFailed, terminated(2, 0)))
	eventually(t, func() bool { ids := u.warmJobs(); return len(ids) == 1 && ids[0] != w }, "ended warm job replaced")
	assert.Empty(t, u.runner.finishes, "an idle warm agent has no task to report")
}

// redelivered marks every message as received before, as after a crash.
type redelivered struct{ queue.Queue }

func (q redelivered) Receive(ctx context.Context, o queue.ReceiveOptions) ([]queue.Message, error) {
	ms, err := q.Queue.Receive(ctx, o)
	for i := range ms {
		ms[i].ReceiveCount++
	}
	return ms, err
}

func TestWarmRestartNeitherLosesNorRepeatsTheTask(t *testing.T) {
	u := newWarmUnit(t)
	w, m, got := u.handOff(t)
	require.Equal(t, m.Token, <-got)
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
	u.stop()

	// The same message again, as if the bridge had crashed between the
	// accept and the delete: the restarted bridge knows the task is taken.
	u.cfg.Queue = redelivered{u.q}
	u.restart(t)
	send(t, u.q, encode(t, m))
	eventually(t, func() bool { return queueEmpty(u.q) }, "redelivered message dropped")
	assert.Equal(t, int64(1), u.bridge.Stats().Duplicates)
	assert.Nil(t, u.jobs.get(m.NomadJobID()), "no cold job: the task is not run twice")
	assert.Equal(t, 1, u.bridge.WarmStats().Busy["medium"], "the busy warm agent is recovered")

	// The restarted bridge reports the warm job's outcome with the task's
	// token, read back from Nomad.
	u.allocs.set(warmAlloc(w, "a1", api.AllocClientStatusFailed, terminated(1, 0)))
	eventually(t, func() bool { return len(u.runner.results(m.Token)) == 1 }, "outcome reported")
	assert.Equal(t, runner.StatusFailed, u.runner.results(m.Token)[0].Status)
	eventually(t, func() bool { return u.jobs.get(w) == nil }, "used warm job purged")
}

func TestWarmConfigIsChecked(t *testing.T) {
	good := func(c *nomadbridge.Config) {
		c.Nomad.Variables = &fakeVars{}
		c.Warm = nomadbridge.WarmConfig{Agents: map[string]int{"medium": 1}, ClaimURL: "http://b/warm",
			Secret: bytes.Repeat([]byte("k"), 32)}
	}
	tests := []struct {
		name string
		mod  func(*nomadbridge.Config)
		err  string
	}{
		{"good", func(*nomadbridge.Config) {}, ""},
		{"no claim URL", func(c *nomadbridge.Config) { c.Warm.ClaimURL = "" }, "ClaimURL is required"},
		{"short secret", func(c *nomadbridge.Config) { c.Warm.Secret = []byte("k") }, "Secret must have at least 16 bytes"},
		{"no variables", func(c *nomadbridge.Config) { c.Nomad.Variables = nil }, "need Config.Nomad.Variables"},
		{"unknown class", func(c *nomadbridge.Config) { c.Warm.Agents = map[string]int{"huge": 1} }, `unknown resource class "huge"`},
		{"GPU class", func(c *nomadbridge.Config) { c.Warm.Agents = map[string]int{"gpu.nvidia.small": 1} }, "has GPUs"},
		{"negative count", func(c *nomadbridge.Config) { c.Warm.Agents = map[string]int{"small": -1} }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := nomadbridge.Config{Queue: newQueue(t, &events{}), Nomad: nomadbridge.Nomad{Jobs: newFakeJobs(t, &events{}),
				Allocations: newFakeAllocs()}, RunnerURL: "http://r", Agent: nomadbridge.AgentCommand{Path: "/bin/orbit"}}
			good(&cfg)
			tt.mod(&cfg)
			_, err := nomadbridge.New(cfg)
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

func TestNodesListWarmAgents(t *testing.T) {
	warm := func(id string) *api.Allocation {
		return &api.Allocation{ID: "alloc-" + id, JobID: id, ClientStatus: "running",
			Job: &api.Job{Meta: map[string]string{nomadbridge.MetaWarmClass: "medium"}}}
	}
	f := &fakeNodes{
		nodes:  []*api.NodeListStub{{ID: "a1b2c3d4-0000", Name: "client-a", Status: "ready", SchedulingEligibility: "eligible"}},
		allocs: map[string][]*api.Allocation{"a1b2c3d4-0000": {warm("orbit-warm-p-medium-1"), warm("orbit-warm-p-medium-2")}},
	}
	vars := &fakeVars{vars: map[string]api.VariableItems{
		"orbit/warm/p/abc": {"warm_job": "orbit-warm-p-medium-2", "token": "secret-token", "task_job": "j", "task_id": "task-9"},
	}}
	list, err := nomadbridge.Nodes{API: f, Variables: vars}.List(context.Background())
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, []nomadbridge.NodeAlloc{
		{ID: "alloc-orbit-warm-p-medium-1", JobID: "orbit-warm-p-medium-1", Warm: "medium"},
		{ID: "alloc-orbit-warm-p-medium-2", JobID: "orbit-warm-p-medium-2", Warm: "medium", TaskID: "task-9"},
	}, list[0].Running)
	var out bytes.Buffer
	require.NoError(t, nomadbridge.WriteNodes(&out, list))
	assert.Contains(t, out.String(), "Warm agents: 1 idle, 1 running a task")
	assert.Contains(t, out.String(), "orbit-warm-p-medium-1  warm agent (medium), idle\n")
	assert.Contains(t, out.String(), "orbit-warm-p-medium-2  warm agent (medium), task task-9\n")
	assert.NotContains(t, out.String(), "secret-token")
}

// nodeInfo is a fake *api.Nodes for Info (its List is empty).
type nodeInfo map[string]*api.Node

func (n nodeInfo) List(*api.QueryOptions) ([]*api.NodeListStub, *api.QueryMeta, error) {
	return nil, &api.QueryMeta{}, nil
}

func (n nodeInfo) Info(id string, _ *api.QueryOptions) (*api.Node, *api.QueryMeta, error) {
	return n[id], &api.QueryMeta{}, nil
}

func TestWarmAgentOnADrainingNodeGetsNoTask(t *testing.T) {
	nodes := nodeInfo{
		"drained": {ID: "drained", Status: api.NodeStatusReady, SchedulingEligibility: api.NodeSchedulingIneligible,
			DrainStrategy: &api.DrainStrategy{}},
	}
	u := newWarmUnit(t, func(c *nomadbridge.Config) { c.Nomad.Nodes = nodes })
	u.start(t)
	w := u.oneWarmJob(t)
	c := u.client(t, w)
	c.Node = "drained"
	got := claim(c)
	u.waitingAgents(t, 1)
	m := message("t1")
	send(t, u.q, encode(t, m))
	eventually(t, func() bool { return u.jobs.get(m.NomadJobID()) != nil }, "cold job registered (Nomad places it)")
	assert.Contains(t, <-got, "retired", "the agent on the draining node is retired")
	eventually(t, func() bool { return u.jobs.get(w) == nil }, "its warm job purged")
	assert.Equal(t, int64(0), u.bridge.WarmStats().Claimed)
}
