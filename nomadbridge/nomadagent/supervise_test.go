package nomadagent_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

// alive says whether pid runs (a zombie does not count as running, but is
// reported: it means nobody waited for it).
func alive(pid int) (running, zombie bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false, false
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return f[0] != "Z", f[0] == "Z"
}

// TestSupervisorRestartsAKilledAgent: kill -9 of the dev agent while a task
// runs: the supervisor kills the logmon, executor and task the agent left,
// and starts a new agent at the same address.
func TestSupervisorRestartsAKilledAgent(t *testing.T) {
	bin := nomadtest.Binary(t)
	if testing.Short() {
		t.Skip("starts a Nomad agent")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sup, err := nomadagent.Supervise(ctx, nomadagent.SupervisorConfig{
		Agent:   nomadagent.Config{Binary: bin, DataDir: t.TempDir(), DieWithParent: true},
		Backoff: 100 * time.Millisecond,
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	first := sup.Agent()
	addr := first.Addr()

	client, err := api.NewClient(&api.Config{Address: addr})
	require.NoError(t, err)
	job := api.NewBatchJob("sleeper", "sleeper", "global", 50)
	job.AddDatacenter("*")
	// A process in a session of its own below the task, as a build
	// agent's steps are (their own process groups).
	task := api.NewTask("t", "raw_exec").SetConfig("command", "/bin/sh").
		SetConfig("args", []string{"-c", "setsid sleep 601 & exec sleep 600"})
	task.Resources = &api.Resources{CPU: ptr(20), MemoryMB: ptr(20)}
	job.AddTaskGroup(api.NewTaskGroup("g", 1).AddTask(task))
	_, _, err = client.Jobs().Register(job, nil)
	require.NoError(t, err)
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	_, err = nomadtest.WaitRunning(wctx, client, "sleeper")
	require.NoError(t, err)
	var left []int
	require.Eventually(t, func() bool {
		left = nomadagent.Descendants(first.Pid())
		return len(left) >= 4 // logmon, executor, sleep, setsid sleep
	}, 30*time.Second, 50*time.Millisecond, "the task's processes run under the agent")

	require.NoError(t, syscall.Kill(first.Pid(), syscall.SIGKILL))
	require.Eventually(t, func() bool {
		a := sup.Agent()
		return a.Pid() != first.Pid() && nomadagent.Reachable(ctx, addr) == nil
	}, 90*time.Second, 50*time.Millisecond, "the supervisor starts a new agent at the same address")
	assert.Equal(t, addr, sup.Addr())
	for _, pid := range left {
		running, zombie := alive(pid)
		assert.False(t, running, "process %d of the dead agent still runs", pid)
		assert.False(t, zombie, "process %d of the dead agent is a zombie", pid)
	}

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	running, _ := alive(sup.Agent().Pid())
	assert.False(t, running, "Run stops the agent it supervises")
}
