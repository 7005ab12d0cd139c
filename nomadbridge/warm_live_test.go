package nomadbridge_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// startWarm runs a live bridge with warm agents of class medium, their
// claim endpoint served on loopback; it returns the bridge.
func (l *live) startWarm(t *testing.T, agents int, heartbeat, idle time.Duration) *nomadbridge.Bridge {
	t.Helper()
	var br *nomadbridge.Bridge
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		br.WarmHandler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	br, stop := l.start(t, heartbeat, func(c *nomadbridge.Config) {
		c.Warm = nomadbridge.WarmConfig{Agents: map[string]int{"medium": agents}, ClaimURL: srv.URL,
			Secret: bytes.Repeat([]byte("s"), 32), IdleAfter: idle, Interval: 200 * time.Millisecond}
	})
	// Stop the bridge (it purges idle warm jobs) before the server closes.
	t.Cleanup(stop)
	return br
}

// waitWarm waits until n warm agents of medium are polling.
func waitWarm(t *testing.T, br *nomadbridge.Bridge, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return br.WarmStats().Waiting["medium"] == n }, 90*time.Second,
		20*time.Millisecond, "%d warm agents waiting (stats %+v)", n, br.WarmStats())
}

// allocOfHost is the Nomad allocation ID in an agent's POST /task/start
// host ("<hostname> (nomad allocation <id>)").
var allocOfHost = regexp.MustCompile(`nomad allocation ([0-9a-f-]+)\)`)

// jobOf is the Nomad job whose allocation ran m's task.
func (l *live) jobOf(t *testing.T, m runqueue.Message) string {
	t.Helper()
	var host string
	require.Eventually(t, func() bool {
		tk := l.runner.Task(m.Token)
		host = tk.Host
		return tk.Started
	}, 90*time.Second, 20*time.Millisecond, "task %s never started", m.TaskID)
	sub := allocOfHost.FindStringSubmatch(host)
	require.Len(t, sub, 2, "host %q names no allocation", host)
	alloc, _, err := l.nomad.Allocations().Info(sub[1], nil)
	require.NoError(t, err)
	return alloc.JobID
}

func TestLiveWarmAgent(t *testing.T) {
	l := newLive(t)
	br := l.startWarm(t, 1, 200*time.Millisecond, 0)
	waitWarm(t, br, 1)
	s0 := br.WarmStats()

	// Two tasks at once and one warm agent: one runs warm, one cold.
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	a := l.task(t, "warm-a", waitForFile(release))
	b := l.task(t, "warm-b", waitForFile(release))
	jobA, jobB := l.jobOf(t, a), l.jobOf(t, b)
	warmJob, coldTask := jobA, b
	if strings.HasPrefix(jobB, "orbit-warm-") {
		warmJob, coldTask = jobB, a
	}
	require.True(t, strings.HasPrefix(warmJob, "orbit-warm-"), "one task ran on a warm agent: jobs %s, %s", jobA, jobB)
	assert.Equal(t, coldTask.NomadJobID(), map[bool]string{true: jobB, false: jobA}[warmJob == jobA],
		"the other went cold, as its own Nomad job")
	assert.Equal(t, s0.Claimed+1, br.WarmStats().Claimed)

	// The used warm agent is replaced while its task still runs.
	waitWarm(t, br, 1)
	require.NoError(t, os.WriteFile(release, nil, 0o600))
	for _, m := range []runqueue.Message{a, b} {
		task := l.waitResult(t, m)
		assert.Equal(t, runner.StatusSuccess, task.Result.Status)
		assert.Contains(t, task.Output(0), "released")
	}
	l.waitPurged(t, warmJob)

	// A canceled task on a warm agent ends: the heartbeat answers 410 and
	// the bridge purges the warm job, which stops the agent.
	c := l.task(t, "warm-cancel", run("forever", "echo started; sleep 600"))
	jobC := l.jobOf(t, c)
	require.True(t, strings.HasPrefix(jobC, "orbit-warm-"), "ran warm: %s", jobC)
	l.waitStepRunning(t, c, 0)
	l.runner.SetResult(c.Token, runner.TaskResult{Status: runner.StatusCanceled, Message: "canceled by a user"})
	l.waitPurged(t, jobC)
	require.Eventually(t, func() bool {
		return l.runner.Task(c.Token).Last(0).Status == runner.StatusCanceled
	}, 60*time.Second, 20*time.Millisecond, "the agent reported its step canceled")
	waitWarm(t, br, 1)
}

func TestLiveWarmAgentsScaleToZero(t *testing.T) {
	l := newLive(t)
	br := l.startWarm(t, 1, time.Hour, 3*time.Second)
	// Registered, then retired once idle for IdleAfter (whether the agent
	// polled before that depends on the machine's load).
	require.Eventually(t, func() bool { return br.WarmStats().Registered >= 1 && br.WarmStats().Retired >= 1 },
		90*time.Second, 20*time.Millisecond, "warm agent registered, then retired (stats %+v)", br.WarmStats())
	assert.Empty(t, l.warmJobs(t), "its job is purged: nothing left on Nomad")
	assert.Equal(t, 0, br.WarmStats().Idle["medium"])
	// The next task goes cold and brings the warm agent back (until the
	// class is idle again).
	registered := br.WarmStats().Registered
	m := l.task(t, "after-idle", run("step", "echo hi"))
	assert.Equal(t, m.NomadJobID(), l.jobOf(t, m))
	require.Eventually(t, func() bool { return br.WarmStats().Registered > registered }, 30*time.Second,
		20*time.Millisecond, "a warm agent registered again")
}

// warmJobs are the warm jobs of this test's bridge that Nomad still has.
func (l *live) warmJobs(t *testing.T) []string {
	t.Helper()
	jobs, _, err := l.nomad.Jobs().List(&api.QueryOptions{Prefix: "orbit-warm-"})
	require.NoError(t, err)
	var ids []string
	for _, j := range jobs {
		job, _, err := l.nomad.Jobs().Info(j.ID, nil)
		if err == nil && job.TaskGroups[0].Tasks[0].Env[agent.EnvRunnerURL] == l.runner.URL {
			ids = append(ids, j.ID)
		}
	}
	return ids
}
