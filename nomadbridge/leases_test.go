package nomadbridge_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/fakepool"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

const machineImage = "ubuntu-2204:current"

func machineMessage(taskID string, mod ...func(*runqueue.Message)) runqueue.Message {
	return message(taskID, append([]func(*runqueue.Message){func(m *runqueue.Message) {
		m.Executor, m.Image = "machine", machineImage
	}}, mod...)...)
}

// vmUnit is a bridge wired to fakes, with a fakepool for machine tasks.
type vmUnit struct {
	*unit
	pool *recPool
}

// newVMUnit makes a bridge whose pool knows machineImage and the classes
// medium and large. Its VMs run pc.Boot (default: they idle until
// released); its runner API is the fake one.
func newVMUnit(t *testing.T, pc fakepool.Config, mod ...func(*nomadbridge.Config)) *vmUnit {
	t.Helper()
	ev := &events{}
	if pc.Capacity == 0 {
		pc.Capacity = 2
	}
	pc.Images = append(pc.Images, machineImage)
	pc.ResourceClasses = append(pc.ResourceClasses, "medium", "large")
	pool := newRecPool(t, ev, pc)
	u := newUnit(t, append([]func(*nomadbridge.Config){func(c *nomadbridge.Config) {
		c.Pool = pool
		c.PoolInterval = 10 * time.Millisecond
	}}, mod...)...)
	// One event log for the queue, Nomad and the pool.
	pool.ev = u.ev
	return &vmUnit{unit: u, pool: pool}
}

// agentVM is a fakepool Boot that runs this test binary as the build agent
// (TestMain, envTestAgent) with the lease's environment, as a VM's init
// runs `orbit agent`: the task really runs.
func agentVM(t *testing.T) func(context.Context, vmpool.Request) error {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	tmp := t.TempDir()
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = tWriter{t}
	}
	boot := fakepool.Command(out, exe)
	return func(ctx context.Context, r vmpool.Request) error {
		r.Env[envTestAgent] = "1"
		r.Env["TMPDIR"] = tmp
		return boot(ctx, r)
	}
}

// agentUnit is a vmUnit whose VMs run the real agent against a fake runner
// API server.
type agentUnit struct {
	*vmUnit
	api *agenttest.Server
}

func newAgentUnit(t *testing.T, capacity int, mod ...func(*nomadbridge.Config)) *agentUnit {
	t.Helper()
	srv, err := agenttest.New()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	u := newVMUnit(t, fakepool.Config{Capacity: capacity, Boot: agentVM(t)},
		append([]func(*nomadbridge.Config){func(c *nomadbridge.Config) {
			c.RunnerURL, c.RunnerClient = srv.URL, nil
		}}, mod...)...)
	return &agentUnit{vmUnit: u, api: srv}
}

// task queues a machine task whose steps the runner API serves.
func (a *agentUnit) task(t *testing.T, taskID string, steps ...runner.Step) runqueue.Message {
	t.Helper()
	m := machineMessage(taskID)
	a.api.Add(m.Token, runner.TaskSpec{TaskID: m.TaskID, JobID: m.JobID, PipelineID: m.PipelineID,
		WorkflowID: m.WorkflowID, Executor: m.Executor, Image: m.Image, Steps: steps})
	send(t, a.q, encode(t, m))
	return m
}

func (a *agentUnit) waitResult(t *testing.T, m runqueue.Message) *agenttest.Task {
	t.Helper()
	require.Eventually(t, func() bool { return a.api.Task(m.Token).Result != nil }, 60*time.Second,
		10*time.Millisecond, "no outcome for %s", m.TaskID)
	return a.api.Task(m.Token)
}

func (a *agentUnit) waitStepRunning(t *testing.T, m runqueue.Message, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(a.api.Task(m.Token).Steps[n]) > 0 }, 60*time.Second,
		10*time.Millisecond, "step %d of %s never ran", n, m.TaskID)
}

// fromBridge counts the bridge's POST /task/finish of a task.
func fromBridge(tk *agenttest.Task) int {
	n := 0
	for _, f := range tk.Finishes {
		if f.UserAgent == "orbit-nomadbridge" {
			n++
		}
	}
	return n
}

func TestVMTaskRunsOnALeasedVMAndIsReleased(t *testing.T) {
	a := newAgentUnit(t, 2, func(c *nomadbridge.Config) {
		c.Proxy = nomadbridge.ProxyEnv{HTTPS: "http://proxy.corp.invalid:3128"}
	})
	m := a.task(t, "vm-1", run("hello", `echo "hello from the VM via $HTTPS_PROXY"`))
	a.start(t)
	tk := a.waitResult(t, m)
	assert.Equal(t, runner.StatusSuccess, tk.Result.Status)
	assert.Equal(t, "hello from the VM via http://proxy.corp.invalid:3128\n", tk.Output(0),
		"the agent ran with the bridge's agent environment, and no host-executor notice")
	assert.NotContains(t, tk.Host, "nomad allocation")
	eventually(t, func() bool { return a.pool.Held() == 0 && a.bridge.Stats().Released == 1 }, "lease released once the task ended")
	assert.Equal(t, []string{"lease", "delete", "release"}, a.ev.all(),
		"leased, the message deleted only after, nothing registered in Nomad, then released")
	assert.Empty(t, a.jobs.jobs)
	assert.Equal(t, 1, a.pool.Made())
	assert.Zero(t, fromBridge(tk), "the agent reported the outcome; the bridge had nothing to add")
	s := a.bridge.Stats()
	assert.Equal(t, int64(1), s.Leased)
	assert.Equal(t, int64(1), s.Released)
	assert.Zero(t, s.Registered)
	assert.Contains(t, a.logs.String(), "task leased a VM")
	assert.Contains(t, a.logs.String(), "pipeline_id=pipe-vm-1")
	assert.NotContains(t, a.logs.String(), m.Token, "the token is never logged")
}

func TestVMRequestCarriesTheAgentEnvironment(t *testing.T) {
	u := newVMUnit(t, fakepool.Config{}, func(c *nomadbridge.Config) {
		c.Proxy = nomadbridge.ProxyEnv{HTTP: "http://proxy.corp:3128", HTTPS: "http://proxy.corp:3128", No: "169.254.169.254"}
		c.CACertDir = "/usr/local/share/ca-certificates"
		c.Agent.Env = map[string]string{"ORBIT_EXTRA": "x"}
	})
	m := machineMessage("t1", func(m *runqueue.Message) { m.ResourceClass, m.ProjectSlug = "large", "gh/acme/vm" })
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
	reqs := u.pool.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "t1", r.TaskID)
	assert.Equal(t, "gh/acme/vm", r.ProjectSlug)
	assert.Equal(t, vmpool.Machine, r.Purpose)
	assert.Equal(t, machineImage, r.Image)
	assert.Equal(t, "large", r.ResourceClass)

	// The same environment as the agent of a Nomad job, less what only
	// Nomad's host executor means (task dir, driver).
	job, err := nomadbridge.BuildJob(nomadbridge.JobSpec{Agent: u.cfg.Agent, RunnerURL: u.cfg.RunnerURL,
		Proxy: u.cfg.Proxy, CACertDir: u.cfg.CACertDir}, m, runner.TaskPlacement{})
	require.NoError(t, err)
	want := job.TaskGroups[0].Tasks[0].Env
	delete(want, agent.EnvTaskDir)
	delete(want, agent.EnvHostDriver)
	assert.Equal(t, want, r.Env)
	assert.Equal(t, "tok-t1", r.Env[agent.EnvTaskToken])
	assert.Equal(t, "/usr/local/share/ca-certificates", r.Env[agent.EnvCACertDir])
	assert.Equal(t, "169.254.169.254,127.0.0.1", r.Env["NO_PROXY"])
	assert.Equal(t, job.Meta, r.Meta, "the lease carries the task's ids, as the Nomad job's meta")
}

func TestVMUnknownClassIsInfrastructureFail(t *testing.T) {
	tests := []struct {
		name, image, class, want string
	}{
		{"resource class", machineImage, "gigantic", "image " + machineImage + " and resource class gigantic"},
		{"image", "windows-server-2022:edge", "", "image windows-server-2022:edge and resource class medium (default)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newVMUnit(t, fakepool.Config{})
			m := machineMessage("t1", func(m *runqueue.Message) { m.Image, m.ResourceClass = tt.image, tt.class })
			send(t, u.q, encode(t, m))
			u.start(t)
			eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
			assert.Equal(t, []string{"lease-unknown", "delete"}, u.ev.all(), "not retried, not sent to Nomad")
			res := u.runner.results(m.Token)
			require.Len(t, res, 1)
			assert.Equal(t, runner.StatusInfrastructureFail, res[0].Status)
			assert.Contains(t, res[0].Message, "the VM pool has no machine VM with "+tt.want)
			assert.Equal(t, int64(1), u.bridge.Stats().Unplaceable)
			assert.Zero(t, u.pool.Made())
		})
	}
}

func TestVMUnavailableThenAvailableRunsOnce(t *testing.T) {
	a := newAgentUnit(t, 1)
	release := filepath.Join(t.TempDir(), "release")
	first := a.task(t, "vm-first", waitForFile(release))
	a.start(t)
	a.waitStepRunning(t, first, 0)
	second := a.task(t, "vm-second", run("once", "echo ran"))
	eventually(t, func() bool { return a.ev.count("lease-unavailable") >= 3 }, "no VM for the second task")
	assert.False(t, queueEmpty(a.q), "its message is kept")
	assert.Nil(t, a.api.Task(second.Token).Result)
	assert.False(t, a.api.Task(second.Token).Started)

	require.NoError(t, os.WriteFile(release, nil, 0o644))
	tk := a.waitResult(t, second)
	assert.Equal(t, runner.StatusSuccess, tk.Result.Status)
	assert.Equal(t, "ran\n", tk.Output(0))
	eventually(t, func() bool { return a.pool.Held() == 0 && a.bridge.Stats().Released == 2 && queueEmpty(a.q) },
		"both leases released")
	assert.Len(t, tk.Finishes, 1, "the second task ran once")
	assert.Equal(t, runner.StatusSuccess, a.api.Task(first.Token).Result.Status)
	assert.Equal(t, 2, a.pool.Made())
	assert.Equal(t, 2, a.ev.count("lease"))
	assert.Equal(t, 2, a.ev.count("delete"))

	// Waiting went through the queue with a backoff: every refusal left
	// the message for redelivery (an Extend), none was retried in place.
	s := a.bridge.Stats()
	assert.Equal(t, int64(a.ev.count("lease-unavailable")), s.PoolUnavailable)
	assert.Equal(t, a.ev.count("lease-unavailable"), a.ev.count("extend"))
	assert.Equal(t, s.PoolUnavailable+2, s.Received, "each refusal was followed by a redelivery")
}

func TestVMPoolErrorIsRetriedInPlace(t *testing.T) {
	u := newVMUnit(t, fakepool.Config{})
	u.pool.leaseErr = func(n int) error {
		if n <= 2 {
			return fmt.Errorf("ec2: RequestLimitExceeded")
		}
		return nil
	}
	send(t, u.q, encode(t, machineMessage("t1")))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted once the pool answers")
	assert.Equal(t, []string{"lease-error", "extend", "lease-error", "extend", "lease", "delete"}, u.ev.all())
	assert.Equal(t, int64(2), u.bridge.Stats().PoolErrors)
	assert.Equal(t, int64(1), u.bridge.Stats().Received)
}

func TestVMRedeliveredMessageGetsOneLease(t *testing.T) {
	u := newVMUnit(t, fakepool.Config{})
	m := machineMessage("t1")
	send(t, u.q, encode(t, m))
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "messages deleted")
	assert.Equal(t, 2, u.ev.count("lease"))
	assert.Equal(t, 1, u.pool.Made(), "one VM")
	assert.Equal(t, 1, u.pool.Held())
	s := u.bridge.Stats()
	assert.Equal(t, int64(1), s.Leased)
	assert.Equal(t, int64(1), s.Duplicates)
}

func TestVMDiesMidTask(t *testing.T) {
	a := newAgentUnit(t, 1)
	m := a.task(t, "vm-dies", waitForFile(filepath.Join(t.TempDir(), "never")))
	a.start(t)
	a.waitStepRunning(t, m, 0)
	l, ok := a.pool.leaseOf(t, m.TaskID)
	require.True(t, ok)
	require.True(t, a.pool.Kill(l.ID, "instance i-0abc terminated: host hardware failure"))

	tk := a.waitResult(t, m)
	assert.Equal(t, runner.StatusInfrastructureFail, tk.Result.Status, "so the job machine retries")
	assert.Equal(t, "the task's VM (lease "+l.ID+") stopped before the task ended: instance i-0abc terminated: host hardware failure",
		tk.Result.Message)
	assert.Equal(t, 1, fromBridge(tk))
	eventually(t, func() bool { return a.pool.Held() == 0 && a.bridge.Stats().Released == 1 }, "dead VM's lease released")
	assert.Equal(t, int64(1), a.bridge.Stats().Reported)
}

func TestVMHeartbeatsThenReleaseWhenTheTaskIsOver(t *testing.T) {
	u := newVMUnit(t, fakepool.Config{}, func(c *nomadbridge.Config) { c.HeartbeatInterval = 10 * time.Millisecond })
	m := machineMessage("t1")
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return u.runner.beats(m.Token) >= 3 }, "heartbeats while the VM runs")
	assert.Equal(t, 1, u.pool.Held())
	u.runner.mu.Lock()
	u.runner.gone[m.Token] = true // e.g. the user canceled the job
	u.runner.mu.Unlock()
	eventually(t, func() bool { return u.pool.Held() == 0 && u.bridge.Stats().Released == 1 },
		"VM released once the runner API answers 410")
	assert.Empty(t, u.runner.results(m.Token), "a canceled task is not reported")
	assert.Equal(t, 1, u.ev.count("release"))
	assert.Contains(t, u.logs.String(), "task is terminal in the runner API while its VM runs")
}

func TestVMLeaseExpired(t *testing.T) {
	u := newVMUnit(t, fakepool.Config{LeaseDuration: 300 * time.Millisecond})
	m := machineMessage("t1")
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return len(u.runner.results(m.Token)) == 1 }, "expired lease reported")
	res := u.runner.results(m.Token)[0]
	assert.Equal(t, runner.StatusInfrastructureFail, res.Status)
	assert.Contains(t, res.Message, "expired")
	eventually(t, func() bool { return u.pool.Held() == 0 && u.bridge.Stats().Released == 1 }, "expired lease released")
}

func TestVMBridgeRestartRelearnsLeases(t *testing.T) {
	u := newVMUnit(t, fakepool.Config{Capacity: 4}, func(c *nomadbridge.Config) { c.HeartbeatInterval = 10 * time.Millisecond })
	run1, done := machineMessage("run"), machineMessage("done")
	send(t, u.q, encode(t, run1))
	send(t, u.q, encode(t, done))
	// Another Orbit installation's lease in the same pool.
	other, err := u.pool.Lease(context.Background(), vmpool.Request{TaskID: "other", Purpose: vmpool.Machine,
		Env: map[string]string{agent.EnvRunnerURL: "http://elsewhere/runner/v1", agent.EnvTaskToken: "tok-other"}})
	require.NoError(t, err)
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) && u.pool.Held() == 3 }, "both tasks leased")
	u.stop()

	// While no bridge runs: "done" finishes (its agent reported, its VM
	// shut down), "run" keeps running.
	u.runner.mu.Lock()
	u.runner.gone[done.Token] = true
	u.runner.mu.Unlock()
	l, _ := u.pool.leaseOf(t, "done")
	require.True(t, u.pool.Kill(l.ID, "the VM shut down"))
	beats := u.runner.beats(run1.Token)

	u.restart(t)
	eventually(t, func() bool { return u.runner.beats(run1.Token) >= beats+3 }, "heartbeats resume for the running task")
	eventually(t, func() bool { _, held := u.pool.leaseOf(t, "done"); return !held }, "the finished task's VM released")
	assert.Empty(t, u.runner.results(done.Token), "a task that ended on its own is not reported")
	_, held := u.pool.leaseOf(t, "run")
	assert.True(t, held, "the running task keeps its VM")
	_, held = u.pool.leaseOf(t, "other")
	assert.True(t, held, "another installation's lease is left alone")
	assert.Zero(t, u.runner.beats("tok-other"))
	assert.Contains(t, u.logs.String(), "VM lease found in the pool")

	// The restarted bridge also notices the running task's VM dying.
	l, _ = u.pool.leaseOf(t, "run")
	require.True(t, u.pool.Kill(l.ID, "spot instance reclaimed"))
	eventually(t, func() bool { return len(u.runner.results(run1.Token)) == 1 }, "dead VM reported")
	assert.Contains(t, u.runner.results(run1.Token)[0].Message, "spot instance reclaimed")
	eventually(t, func() bool { return u.pool.Held() == 1 }, "only the other installation's lease is left")
	require.NoError(t, u.pool.Release(context.Background(), other.ID))
}

func TestVMDockerTasksStillGoToNomad(t *testing.T) {
	u := newVMUnit(t, fakepool.Config{})
	docker, vm := message("docker-1"), machineMessage("vm-1")
	macos := message("mac-1", func(m *runqueue.Message) { m.Executor, m.Image = "macos", "" })
	for _, m := range []runqueue.Message{docker, vm, macos} {
		send(t, u.q, encode(t, m))
	}
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "messages deleted")
	assert.NotNil(t, u.jobs.get(docker.NomadJobID()), "docker task registered in Nomad")
	assert.Nil(t, u.jobs.get(vm.NomadJobID()))
	assert.Nil(t, u.jobs.get(macos.NomadJobID()))
	assert.Equal(t, 1, u.ev.count("register"))
	var tasks []string
	for _, r := range u.pool.requests() {
		tasks = append(tasks, r.TaskID)
	}
	assert.ElementsMatch(t, []string{"vm-1", "mac-1"}, tasks, "machine and macos tasks leased")
}

// TestVMWithoutPoolRunsOnTheHostExecutor: no pool, today's behaviour.
func TestVMWithoutPoolRunsOnTheHostExecutor(t *testing.T) {
	u := newUnit(t)
	m := machineMessage("t1")
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "message deleted")
	job := u.jobs.get(m.NomadJobID())
	require.NotNil(t, job)
	assert.Equal(t, nomadbridge.DefaultDriver, job.TaskGroups[0].Tasks[0].Env[agent.EnvHostDriver],
		"the agent says it runs on the host executor")
}

func TestVMPoolHealth(t *testing.T) {
	u := newVMUnit(t, fakepool.Config{})
	h := u.bridge.Health(context.Background())
	assert.Contains(t, h, "vm_pool")
	assert.NoError(t, h["vm_pool"])
	assert.NotContains(t, newUnit(t).bridge.Health(context.Background()), "vm_pool")
}

// Both kinds of tasks at once, many of them, through one small pool.
func TestVMManyTasksThroughASmallPool(t *testing.T) {
	a := newAgentUnit(t, 2, func(c *nomadbridge.Config) { c.Concurrency = 4 })
	var msgs []runqueue.Message
	for i := range 6 {
		msgs = append(msgs, a.task(t, fmt.Sprintf("many-%d", i), run("n", fmt.Sprintf("echo task %d", i))))
	}
	a.start(t)
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() {
			tk := a.waitResult(t, m)
			assert.Equal(t, runner.StatusSuccess, tk.Result.Status)
			assert.Equal(t, fmt.Sprintf("task %d\n", i), tk.Output(0))
			assert.Len(t, tk.Finishes, 1)
		})
	}
	wg.Wait()
	eventually(t, func() bool { return a.pool.Held() == 0 && a.bridge.Stats().Released == 6 && queueEmpty(a.q) },
		"all released")
	assert.Equal(t, 6, a.pool.Made(), "one VM per task, never reused")
	assert.False(t, strings.Contains(a.logs.String(), "level=ERROR"), "no errors logged")
}
