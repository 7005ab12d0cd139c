package nomadbridge_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/runner"
)

func terminated(code, signal int) *api.TaskEvent {
	return &api.TaskEvent{Type: api.TaskTerminated, ExitCode: code, Signal: signal, DisplayMessage: "Exit Code: x"}
}

func TestOutcome(t *testing.T) {
	m := message("t1")
	stopped := allocFor(m, "a", api.AllocClientStatusComplete,
		&api.TaskEvent{Type: api.TaskKilling}, terminated(3, 0), &api.TaskEvent{Type: api.TaskKilled})
	stopped.DesiredStatus, stopped.DesiredDescription = api.AllocDesiredStatusStop, "alloc was rescheduled because it was stopped"
	neverRan := allocFor(m, "a", api.AllocClientStatusFailed,
		&api.TaskEvent{Type: "Driver Failure", DisplayMessage: "failed to launch command with executor"})
	tests := []struct {
		name       string
		alloc      *api.AllocationListStub
		terminal   bool
		status     string
		msgContain string
	}{
		{"running", allocFor(m, "a", api.AllocClientStatusRunning), false, "", ""},
		{"pending", allocFor(m, "a", api.AllocClientStatusPending), false, "", ""},
		{"success", allocFor(m, "a", api.AllocClientStatusComplete, terminated(0, 0)), true, runner.StatusSuccess, ""},
		{"failed", allocFor(m, "a", api.AllocClientStatusFailed, terminated(1, 0)), true, runner.StatusFailed, ""},
		{"canceled", allocFor(m, "a", api.AllocClientStatusFailed, terminated(3, 0)), true, runner.StatusCanceled, ""},
		{"agent infrastructure failure", allocFor(m, "a", api.AllocClientStatusFailed, terminated(4, 0)), true,
			runner.StatusInfrastructureFail, "could not do its work"},
		{"agent crashed", allocFor(m, "a", api.AllocClientStatusFailed, terminated(2, 0)), true,
			runner.StatusInfrastructureFail, "exited with code 2"},
		{"agent killed by a signal", allocFor(m, "a", api.AllocClientStatusFailed, terminated(0, 9)), true,
			runner.StatusInfrastructureFail, "killed by signal 9"},
		{"lost", allocFor(m, "a", api.AllocClientStatusLost), true,
			runner.StatusInfrastructureFail, "allocation lost: node node-a down"},
		{"stopped by nomad", stopped, true, runner.StatusInfrastructureFail, "allocation stopped by Nomad on node node-a: alloc was rescheduled"},
		{"never ran", neverRan, true, runner.StatusInfrastructureFail, "did not run on node node-a: Driver Failure: failed to launch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, ok := nomadbridge.Outcome(tt.alloc)
			assert.Equal(t, tt.terminal, ok)
			assert.Equal(t, tt.status, res.Status)
			assert.Contains(t, res.Message, tt.msgContain)
		})
	}
}

// registered puts m's job into the fake Nomad as dispatch would.
func (u *unit) registered(t *testing.T, taskID string) (tok, jobID string) {
	t.Helper()
	m := message(taskID)
	job, err := nomadbridge.BuildJob(nomadbridge.JobSpec{Agent: nomadbridge.AgentCommand{Path: "/bin/orbit"}}, m, runner.TaskPlacement{})
	require.NoError(t, err)
	_, _, err = u.jobs.Register(job, nil)
	require.NoError(t, err)
	return m.Token, m.NomadJobID()
}

func TestWatchReportsTerminalAllocationAndPurges(t *testing.T) {
	u := newUnit(t)
	tok, jobID := u.registered(t, "t1")
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusRunning))
	u.start(t)
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusFailed, terminated(1, 0)))
	eventually(t, func() bool { return u.jobs.get(jobID) == nil }, "job purged")
	assert.Equal(t, []runner.TaskResult{{Status: runner.StatusFailed}}, u.runner.results(tok))
	// The purged job's allocation stays listed for a while: no second report.
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusFailed, terminated(1, 0)))
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusFailed, terminated(1, 0)))
	u.stop()
	assert.Len(t, u.runner.results(tok), 1)
	assert.Equal(t, 1, u.ev.count("purge "+jobID))
	assert.Contains(t, u.logs.String(), "workflow_id=wf-1")
}

func TestWatchReconcilesOnStart(t *testing.T) {
	u := newUnit(t, func(c *nomadbridge.Config) { c.HeartbeatInterval = 10 * time.Millisecond })
	doneTok, doneJob := u.registered(t, "done")
	runTok, runJob := u.registered(t, "run")
	lostTok, _ := u.registered(t, "lost")
	u.allocs.set(
		allocFor(message("done"), "a1", api.AllocClientStatusComplete, terminated(0, 0)),
		allocFor(message("run"), "a2", api.AllocClientStatusRunning),
		allocFor(message("lost"), "a3", api.AllocClientStatusLost),
		&api.AllocationListStub{ID: "x", JobID: "someone-elses", ClientStatus: api.AllocClientStatusComplete},
	)
	u.jobs.jobs["someone-elses"] = &api.Job{ID: ptr("someone-elses")}
	u.start(t)
	eventually(t, func() bool { return len(u.runner.results(doneTok)) == 1 && len(u.runner.results(lostTok)) == 1 },
		"terminal allocations reported after a restart")
	eventually(t, func() bool { return u.runner.beats(runTok) >= 3 }, "heartbeats for the running task")
	assert.Equal(t, runner.StatusSuccess, u.runner.results(doneTok)[0].Status)
	assert.Equal(t, runner.TaskResult{Status: runner.StatusInfrastructureFail, Message: "allocation lost: node node-a down"},
		u.runner.results(lostTok)[0])
	eventually(t, func() bool { return u.jobs.get(doneJob) == nil }, "finished job purged")
	assert.NotNil(t, u.jobs.get(runJob), "running job kept")
	assert.NotNil(t, u.jobs.get("someone-elses"), "other jobs untouched")
	assert.Zero(t, u.runner.beats(doneTok))
}

func TestWatchHeartbeatGoneStopsTheJob(t *testing.T) {
	u := newUnit(t, func(c *nomadbridge.Config) { c.HeartbeatInterval = 10 * time.Millisecond })
	tok, jobID := u.registered(t, "t1")
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusRunning))
	u.start(t)
	eventually(t, func() bool { return u.runner.beats(tok) >= 1 }, "heartbeat")
	u.runner.mu.Lock()
	u.runner.gone[tok] = true // e.g. the user canceled the job
	u.runner.mu.Unlock()
	eventually(t, func() bool { return u.jobs.get(jobID) == nil }, "job of a terminal task stopped")
	// Its allocation is then killed; that is no news to report.
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusComplete, &api.TaskEvent{Type: api.TaskKilling}))
	u.stop()
	assert.Empty(t, u.runner.results(tok))
}

func TestWatchRetriesFailedReports(t *testing.T) {
	u := newUnit(t)
	tok, jobID := u.registered(t, "t1")
	u.runner.finishErr = errors.New("runner API down")
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusComplete, terminated(0, 0)))
	u.start(t)
	eventually(t, func() bool { return strings.Contains(u.logs.String(), "cannot report the task outcome") }, "failure logged")
	assert.NotNil(t, u.jobs.get(jobID), "not purged before the outcome is reported")
	u.runner.mu.Lock()
	u.runner.finishErr = nil
	u.runner.mu.Unlock()
	eventually(t, func() bool { return u.jobs.get(jobID) == nil }, "purged after the retry")
	assert.Len(t, u.runner.results(tok), 1)
}

func ptr[T any](v T) *T { return &v }
