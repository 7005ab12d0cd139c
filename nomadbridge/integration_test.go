package nomadbridge_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/fakepool"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// live runs the real bridge against the Nomad agent at NOMAD_ADDR, with this
// test binary as the build agent and a fake runner API.
type live struct {
	nomad  *api.Client
	runner *agenttest.Server
	q      recQueue
	logs   *testenv.Buffer
	exe    string
}

func newLive(t *testing.T) *live {
	t.Helper()
	nc := nomadtest.Client(t)
	srv, err := agenttest.New()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	exe, err := os.Executable()
	require.NoError(t, err)
	return &live{nomad: nc, runner: srv, q: newQueue(t, &events{}), logs: &testenv.Buffer{}, exe: exe}
}

// start runs a bridge until the returned stop is called (or the test ends);
// mod may change its configuration.
func (l *live) start(t *testing.T, heartbeat time.Duration, mod ...func(*nomadbridge.Config)) (*nomadbridge.Bridge, func()) {
	t.Helper()
	cfg := nomadbridge.Config{
		Queue:     l.q,
		Nomad:     nomadbridge.NomadFromClient(l.nomad),
		RunnerURL: l.runner.URL,
		Agent: nomadbridge.AgentCommand{Path: l.exe, Env: map[string]string{
			envTestAgent: "1",
		}},
		ResourceScale:     0.05,
		HeartbeatInterval: heartbeat,
		ReceiveWait:       time.Second,
		MinBackoff:        50 * time.Millisecond,
		MaxBackoff:        time.Second,
		WatchWait:         10 * time.Second,
		Logger:            testLogger(t, l.logs),
	}
	for _, f := range mod {
		f(&cfg)
	}
	b, err := nomadbridge.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, b.Run(ctx))
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return b, stop
}

// task queues a task whose steps the fake runner API serves.
func (l *live) task(t *testing.T, name string, steps ...runner.Step) runqueue.Message {
	t.Helper()
	return l.taskOf(t, name, "", "", steps...)
}

// taskOf queues a task of an executor and image ("": a docker task whose
// spec names no image, so that its output has no host-executor notice).
func (l *live) taskOf(t *testing.T, name, executor, image string, steps ...runner.Step) runqueue.Message {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	m := message(name+"-"+hex.EncodeToString(rnd[:]), func(m *runqueue.Message) {
		m.ProjectSlug = "gh/orbit-test/" + name
		if executor != "" {
			m.Executor, m.Image = executor, image
		}
	})
	return l.taskSpec(t, m, runner.TaskSpec{Executor: executor, Image: image, Steps: steps})
}

// taskSpec queues m with spec (its ids filled in from m).
func (l *live) taskSpec(t *testing.T, m runqueue.Message, spec runner.TaskSpec) runqueue.Message {
	t.Helper()
	spec.TaskID, spec.JobID, spec.PipelineID, spec.WorkflowID = m.TaskID, m.JobID, m.PipelineID, m.WorkflowID
	l.runner.Add(m.Token, spec)
	send(t, l.q, encode(t, m))
	t.Cleanup(func() { _, _, _ = l.nomad.Jobs().Deregister(m.NomadJobID(), true, nil) })
	return m
}

func (l *live) waitResult(t *testing.T, m runqueue.Message) *agenttest.Task {
	t.Helper()
	require.Eventually(t, func() bool {
		tk := l.runner.Task(m.Token)
		return tk.Result != nil
	}, 90*time.Second, 20*time.Millisecond, "no outcome for %s", m.TaskID)
	return l.runner.Task(m.Token)
}

func (l *live) waitPurged(t *testing.T, jobID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, _, err := l.nomad.Jobs().Info(jobID, nil)
		return err != nil
	}, 60*time.Second, 50*time.Millisecond, "job %s not purged", jobID)
}

// waitStepRunning waits until the agent reported step n running.
func (l *live) waitStepRunning(t *testing.T, m runqueue.Message, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		return len(l.runner.Task(m.Token).Steps[n]) > 0
	}, 90*time.Second, 20*time.Millisecond, "step %d of %s never ran", n, m.TaskID)
}

func waitForFile(path string) runner.Step {
	return run("wait", fmt.Sprintf("echo waiting; while [ ! -e %s ]; do sleep 0.05; done; echo released", path))
}

func run(name, cmd string) runner.Step {
	return runner.Step{Type: runner.StepRun, Name: name, Command: cmd}
}

func TestLiveOutcomes(t *testing.T) {
	l := newLive(t)
	// The watch lists allocations without their task states (most of the
	// list's bytes); the outcome still comes from the finished one's.
	var withStates atomic.Int64
	addr := nomadProxy(t, l.nomad.Address(), func(r *http.Request) {
		if r.URL.Path == "/v1/allocations" && r.URL.Query().Get("task_states") != "false" {
			withStates.Add(1)
		}
	})
	nc, err := api.NewClient(&api.Config{Address: addr})
	require.NoError(t, err)
	l.nomad = nc
	t.Cleanup(func() { assert.Zero(t, withStates.Load(), "allocation lists asked with task states") })
	l.start(t, time.Hour)
	tests := []struct {
		name, cmd, out, status string
	}{
		{"success", "echo hello from nomad", "hello from nomad\n", runner.StatusSuccess},
		{"failed", "echo failing; exit 1", "failing\n\nExited with code exit status 1\n", runner.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := l.task(t, tt.name, run("step", tt.cmd))
			task := l.waitResult(t, m)
			assert.Equal(t, tt.status, task.Result.Status)
			assert.Equal(t, tt.out, task.Output(0))
			l.waitPurged(t, m.NomadJobID())
			for _, f := range l.runner.Task(m.Token).Finishes {
				assert.Equal(t, tt.status, f.Result.Status, "the bridge agrees with the agent (exit code)")
			}
		})
	}
}

func TestLiveAllocationStopped(t *testing.T) {
	l := newLive(t)
	l.start(t, time.Hour)
	m := l.task(t, "stopped", run("forever", "echo started; sleep 600"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stub, err := nomadtest.WaitRunning(ctx, l.nomad, m.NomadJobID())
	require.NoError(t, err)
	l.waitStepRunning(t, m, 0)
	alloc, _, err := l.nomad.Allocations().Info(stub.ID, nil)
	require.NoError(t, err)
	_, err = l.nomad.Allocations().Stop(alloc, nil)
	require.NoError(t, err)

	task := l.waitResult(t, m)
	assert.Equal(t, runner.StatusInfrastructureFail, task.Result.Status)
	assert.Contains(t, task.Result.Message, "allocation stopped by Nomad")
	// Nomad replaces a stopped allocation: the replacement's agent may
	// report step 0 running again before the bridge purges the job (the
	// real API then fails it: the task started again elsewhere). So look
	// for the stopped agent's report among all of step 0's, not at the
	// last one (that flaked under load, 4 of 20).
	assert.True(t, slices.ContainsFunc(task.Steps[0], func(r runner.StepReport) bool {
		return r.Status == runner.StatusCanceled
	}), "the agent killed its step: %+v", task.Steps[0])
	l.waitPurged(t, m.NomadJobID())
}

func TestLiveBridgeRestart(t *testing.T) {
	l := newLive(t)
	dir := t.TempDir()
	fileA, fileB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	_, stop1 := l.start(t, time.Hour)
	a := l.task(t, "restart-a", waitForFile(fileA))
	b := l.task(t, "restart-b", waitForFile(fileB))
	l.waitStepRunning(t, a, 0)
	l.waitStepRunning(t, b, 0)
	stop1()

	// A ends while no bridge runs; its agent reports on its own.
	require.NoError(t, os.WriteFile(fileA, nil, 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := nomadtest.WaitAlloc(ctx, l.nomad, a.NomadJobID(), func(s *api.AllocationListStub) (bool, error) {
		return s.ClientStatus == api.AllocClientStatusComplete, nil
	})
	require.NoError(t, err)
	beatsBefore := l.runner.Task(b.Token).Heartbeats

	bridge2, _ := l.start(t, 100*time.Millisecond)
	// The new bridge reconciles: A's outcome reported (a no-op: the agent's
	// came first) and its job purged; B gets heartbeats again.
	l.waitPurged(t, a.NomadJobID())
	require.Eventually(t, func() bool { return l.runner.Task(b.Token).Heartbeats >= beatsBefore+3 }, 30*time.Second,
		20*time.Millisecond, "heartbeats resume for the running task")
	taskA := l.runner.Task(a.Token)
	require.NotNil(t, taskA.Result)
	assert.Equal(t, runner.StatusSuccess, taskA.Result.Status)
	var accepted, fromBridge int
	for _, f := range taskA.Finishes {
		assert.Equal(t, runner.StatusSuccess, f.Result.Status)
		if f.Accepted {
			accepted++
		}
		if f.UserAgent == "orbit-nomadbridge" {
			fromBridge++
		}
	}
	assert.Equal(t, 1, accepted, "one terminal result is kept")
	assert.Equal(t, 1, fromBridge, "the restarted bridge reports exactly once")

	require.NoError(t, os.WriteFile(fileB, nil, 0o644))
	taskB := l.waitResult(t, b)
	assert.Equal(t, runner.StatusSuccess, taskB.Result.Status)
	l.waitPurged(t, b.NomadJobID())
	assert.Eventually(t, func() bool { return bridge2.Stats().Purged >= 2 }, 5*time.Second, 10*time.Millisecond,
		"the restarted bridge purged both jobs")
}

// TestLiveMachineTaskOnVMPool: with a VM pool, the machine task runs on a
// leased VM (the real agent, started by fakepool) while the docker task runs
// in Nomad, side by side.
func TestLiveMachineTaskOnVMPool(t *testing.T) {
	l := newLive(t)
	pool := fakepool.New(fakepool.Config{Capacity: 1, Images: []string{machineImage}, Boot: agentVM(t)})
	t.Cleanup(pool.Close)
	b, _ := l.start(t, time.Hour, func(c *nomadbridge.Config) {
		c.Pool, c.PoolInterval = pool, 50*time.Millisecond
	})
	vm := l.taskOf(t, "on-vm", "machine", machineImage, run("step", "echo on the VM"))
	nomad := l.taskOf(t, "on-nomad", "docker", "cimg/base:stable", run("step", "echo on Nomad"))

	vmTask, nomadTask := l.waitResult(t, vm), l.waitResult(t, nomad)
	assert.Equal(t, runner.StatusSuccess, vmTask.Result.Status)
	assert.Equal(t, "on the VM\n", vmTask.Output(0), "no host-executor notice: it ran on its VM")
	assert.NotContains(t, vmTask.Host, "nomad allocation")
	assert.Equal(t, runner.StatusSuccess, nomadTask.Result.Status)
	assert.Contains(t, nomadTask.Output(0), "on Nomad\n")
	assert.Contains(t, nomadTask.Host, "nomad allocation")

	_, _, err := l.nomad.Jobs().Info(vm.NomadJobID(), nil)
	assert.Error(t, err, "the machine task never had a Nomad job")
	l.waitPurged(t, nomad.NomadJobID())
	require.Eventually(t, func() bool { return pool.Held() == 0 && b.Stats().Released == 1 }, 30*time.Second,
		20*time.Millisecond, "the VM lease is released")
	assert.Equal(t, 1, pool.Made())
	assert.Equal(t, int64(1), b.Stats().Leased)
	assert.Equal(t, int64(1), b.Stats().Registered)
}
