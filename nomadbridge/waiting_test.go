package nomadbridge_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
)

// flakyJobs fails List (the probe) while down is set.
type flakyJobs struct {
	*fakeJobs
	down *atomic.Bool
}

func (f flakyJobs) List(q *api.QueryOptions) ([]*api.JobListStub, *api.QueryMeta, error) {
	if f.down.Load() {
		return nil, nil, errUnreachable
	}
	return f.fakeJobs.List(q)
}

// TestDispatchResumesWhenNomadAnswers: a task held while Nomad is
// unreachable says why it waits, and is registered as soon as the probe
// finds Nomad back, long before its backoff would end (it waited 2.5
// minutes once).
func TestDispatchResumesWhenNomadAnswers(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	u := newUnit(t, func(c *nomadbridge.Config) {
		c.MinBackoff, c.MaxBackoff = time.Minute, time.Hour // the probe must release it, not the timer
		c.ProbeInterval = 20 * time.Millisecond
	})
	u.bridge, _ = nomadbridge.New(func() nomadbridge.Config {
		c := u.cfg
		c.Nomad.Jobs = flakyJobs{u.jobs, &down}
		return c
	}())
	u.jobs.registerErr = func(int) error {
		if down.Load() {
			return errUnreachable
		}
		return nil
	}
	m := message("t1")
	send(t, u.q, encode(t, m))
	u.start(t)
	eventually(t, func() bool { return len(u.runner.waiting(m.Token)) == 1 }, "the task is told why it waits")
	w := u.runner.waiting(m.Token)[0]
	assert.Regexp(t, `^Nomad unreachable since \d\d:\d\d:\d\d UTC$`, w.Reason)
	assert.WithinDuration(t, time.Now(), w.Since, time.Minute)

	back := time.Now()
	down.Store(false)
	eventually(t, func() bool { return queueEmpty(u.q) }, "registered once Nomad answers")
	assert.Less(t, time.Since(back), 5*time.Second, "dispatch resumed within seconds")
	assert.NotNil(t, u.jobs.get(m.NomadJobID()))
	assert.Len(t, u.runner.waiting(m.Token), 1, "told once per outage")
}

// TestLiveUnplaceableTaskSaysWhy: on a real agent, a task no client can
// hold waits in a blocked evaluation, and the bridge tells the runner API
// why (resources scaled ×100: medium asks for 200 vCPU).
func TestLiveUnplaceableTaskSaysWhy(t *testing.T) {
	l := newLive(t)
	l.start(t, time.Hour, func(c *nomadbridge.Config) { c.ResourceScale = 100 })
	m := l.task(t, "too-big", run("step", "echo never"))
	require.Eventually(t, func() bool { return len(l.runner.Task(m.Token).Waits) > 0 }, 60*time.Second,
		20*time.Millisecond, "the task is told why it waits")
	w := l.runner.Task(m.Token).Waits[0]
	assert.Regexp(t, `^no client with resource class medium has room: .*exhausted on \d+ of \d+ nodes$`, w.Reason)
	assert.False(t, w.Since.IsZero())
	assert.Nil(t, l.runner.Task(m.Token).Result, "it waits: no outcome")
}
