package awsshape

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const failoverConfig = `version: 2.1
jobs:
  long:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: sleep 12; echo survived the bridge
workflows:
  ci:
    jobs: [long]
`

// TestBridgeKilledWhileAJobRuns: two `orbit bridge` processes share the
// DynamoDB lease as the AWS shape runs them. The active one is killed with
// SIGKILL while its job runs on Nomad; the standby takes the lease, learns
// the running allocation from Nomad and reports the job's success: nothing
// is lost, nothing runs twice.
func TestBridgeKilledWhileAJobRuns(t *testing.T) {
	s := startShape(t, 1, 1)
	active := s.startBridge(t)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": failoverConfig})
	var proj struct{ Slug, Message string }
	require.Equal(t, 201, s.do(t, "POST", "/api/v2/project", map[string]string{"path": repo, "org": "acme", "name": "failover"}, &proj), proj.Message)
	var pl struct{ ID, Message string }
	require.Equal(t, 201, s.do(t, "POST", "/api/v2/project/"+proj.Slug+"/pipeline", map[string]string{"branch": "main"}, &pl), pl.Message)

	var wid string
	require.Eventually(t, func() bool {
		if wid, _ = s.workflowStatus(t, pl.ID); wid == "" {
			return false
		}
		return s.jobs(t, wid)["long"].Status == "running"
	}, 3*time.Minute, 200*time.Millisecond, "the job runs under the first bridge")
	standby := s.startBridge(t)
	require.NoError(t, active.Process.Signal(syscall.SIGKILL))
	killed := time.Now()

	var st string
	require.Eventually(t, func() bool { _, st = s.workflowStatus(t, pl.ID); return terminal(st) }, 3*time.Minute, 200*time.Millisecond)
	require.Equal(t, "success", st, "%+v", s.jobs(t, wid))
	j := s.jobs(t, wid)["long"]
	out := s.output(t, proj.Slug, j.JobNumber, 0)
	assert.Equal(t, 1, strings.Count(out, "survived the bridge"), "ran once: %s", out)
	var details struct {
		Attempts []struct{ Attempt int } `json:"attempts"`
	}
	s.do(t, "GET", "/api/v2/project/"+proj.Slug+"/job/"+strconv.FormatInt(j.JobNumber, 10), nil, &details)
	assert.Len(t, details.Attempts, 1, "no second attempt: the standby found the running allocation")
	assert.Nil(t, standby.ProcessState, "the standby still runs")
	t.Logf("job finished %.1f s after the active bridge was killed", time.Since(killed).Seconds())
}
