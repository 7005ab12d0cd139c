package nomadbridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/runner"
)

func quickLostCheck(c *nomadbridge.Config) { c.LostJobCheck = 20 * time.Millisecond }

// forget drops a job from the fake Nomad without the bridge's knowledge,
// as a restarted dev agent (state in memory) or a hand purge does.
func (u *unit) forget(id string) {
	u.jobs.mu.Lock()
	defer u.jobs.mu.Unlock()
	delete(u.jobs.jobs, id)
}

// A job registered before Nomad lost its state never gets an allocation:
// the task is reported infrastructure_fail (and retried by its job
// machine) instead of staying queued for ever.
func TestLostJobRegisteredThenForgotten(t *testing.T) {
	u := newUnit(t, quickLostCheck)
	lost, waits := message("lost"), message("waits")
	send(t, u.q, encode(t, lost))
	send(t, u.q, encode(t, waits))
	u.start(t)
	eventually(t, func() bool { return queueEmpty(u.q) }, "both registered")
	u.forget(lost.NomadJobID())

	eventually(t, func() bool { return len(u.runner.results(lost.Token)) == 1 }, "lost job reported")
	res := u.runner.results(lost.Token)[0]
	assert.Equal(t, runner.StatusInfrastructureFail, res.Status)
	assert.Contains(t, res.Message, "Nomad no longer has the task's job "+lost.NomadJobID())
	assert.Contains(t, u.logs.String(), "Nomad lost the task's job")
	assert.NotContains(t, u.logs.String(), lost.Token, "the token is never logged")

	// A job Nomad still has waits for room: asked about, never reported.
	time.Sleep(100 * time.Millisecond)
	u.stop()
	assert.Empty(t, u.runner.results(waits.Token))
	assert.Len(t, u.runner.results(lost.Token), 1, "reported once")
	assert.Equal(t, int64(1), u.bridge.Stats().Lost)
}

// A running task whose job vanishes with its allocations (Nomad's index
// went back to zero) is reported too.
func TestLostJobAllocationsVanish(t *testing.T) {
	u := newUnit(t, quickLostCheck)
	tok, jobID := u.registered(t, "t1")
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusRunning))
	u.start(t)
	eventually(t, func() bool { return strings.Contains(u.logs.String(), "allocation running") }, "tracked")
	u.forget(jobID)
	u.allocs.set()
	eventually(t, func() bool { return len(u.runner.results(tok)) == 1 }, "vanished job reported")
	assert.Equal(t, runner.StatusInfrastructureFail, u.runner.results(tok)[0].Status)
}

// A job that finished and was purged by the bridge is not reported again
// once its allocations leave the list, nor is a job whose allocation
// appears before the check.
func TestLostJobNotReportedAfterPurge(t *testing.T) {
	u := newUnit(t, quickLostCheck)
	tok, jobID := u.registered(t, "t1")
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusRunning))
	u.start(t)
	u.allocs.set(allocFor(message("t1"), "a1", api.AllocClientStatusComplete, terminated(0, 0)))
	eventually(t, func() bool { return u.jobs.get(jobID) == nil }, "job purged")
	u.allocs.set()

	m := message("t2")
	send(t, u.q, encode(t, m))
	eventually(t, func() bool { return queueEmpty(u.q) }, "t2 registered")
	u.allocs.set(allocFor(m, "a2", api.AllocClientStatusRunning))
	time.Sleep(150 * time.Millisecond)
	u.stop()
	require.Len(t, u.runner.results(tok), 1)
	assert.Equal(t, runner.StatusSuccess, u.runner.results(tok)[0].Status)
	assert.Empty(t, u.runner.results(m.Token))
	assert.Zero(t, u.bridge.Stats().Lost)
}
