package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
)

const sleepAndEchoConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: if [ "$CIRCLE_BRANCH" = long ]; then sleep 600; fi; echo done
workflows:
  ci:
    jobs: [build]
`

// TestE2ENomadAgentKilled: kill -9 of the dev agent orbit up owns, while a
// build runs. /status says 500 naming nomad; a job triggered meanwhile says
// why it waits; the supervisor restarts the agent and the job runs within
// seconds of it; nothing of the dead agent is left running.
func TestE2ENomadAgentKilled(t *testing.T) {
	needEnv(t, "ORBIT_NOMAD_BIN", "make test builds bin/nomad and sets it")
	if testing.Short() {
		t.Skip("starts a Nomad agent")
	}
	repo := gitRepo(t, map[string]string{".circleci/config.yml": sleepAndEchoConfig})
	out, err := exec.Command("git", "-C", repo, "branch", "long").CombinedOutput()
	require.NoError(t, err, string(out))
	dataDir := t.TempDir()
	// Its own dev agent (NOMAD_ADDR empty), restarted 6 s after it dies:
	// a window to see the outage from the outside.
	p := startOrbit(t, dataDir, freeAddr(t), "NOMAD_ADDR=", "ORBIT_NOMAD_RESTART_DELAY=6s")
	slug := p.follow(repo, "acme", "nomad-down")

	// A build runs, so the agent has logmon and executor processes.
	long := p.trigger(slug, "long")
	waitFor(t, 90*time.Second, "the long build to run", func() bool {
		wfs := p.workflows(long)
		return len(wfs) == 1 && p.jobs(wfs[0].ID)["build"].Status == "running"
	})
	pidFile := filepath.Join(dataDir, "nomad", "pid")
	agentPID := waitPID(t, pidFile)
	var left []int
	waitFor(t, 30*time.Second, "the build's processes under the agent", func() bool {
		left = nomadagent.Descendants(agentPID)
		return len(left) >= 3
	})
	require.NoError(t, syscall.Kill(agentPID, syscall.SIGKILL))

	var status struct {
		Status       string            `json:"status"`
		Dependencies map[string]string `json:"dependencies"`
	}
	waitFor(t, 10*time.Second, "/status to report nomad down", func() bool {
		return p.do("GET", "/status", nil, &status) == 500 && strings.Contains(status.Dependencies["nomad"], "unreachable")
	})
	assert.Equal(t, "unhealthy", status.Status)
	for _, dep := range []string{"store", "blob", "secrets", "run_queue"} {
		assert.Equal(t, "ok", status.Dependencies[dep], dep)
	}

	short := p.trigger(slug, "main")
	var wfID string
	var number int64
	waitFor(t, 30*time.Second, "the new job to be queued", func() bool {
		wfs := p.workflows(short)
		if len(wfs) != 1 {
			return false
		}
		wfID = wfs[0].ID
		j := p.jobs(wfID)["build"]
		number = j.JobNumber
		return j.Status == "queued" && number > 0
	})
	var details struct {
		Status  string `json:"status"`
		Waiting *struct {
			Reason string `json:"reason"`
		} `json:"waiting"`
	}
	waitFor(t, 10*time.Second, "the queued job to say why it waits", func() bool {
		p.do("GET", fmt.Sprintf("/api/v2/project/%s/job/%d", slug, number), nil, &details)
		return details.Waiting != nil
	})
	assert.Regexp(t, `^Nomad unreachable since \d\d:\d\d:\d\d UTC$`, details.Waiting.Reason)
	assert.Contains(t, p.text("/ui/pipeline/"+short), "waiting: Nomad unreachable since")

	var restarted int
	waitFor(t, 90*time.Second, "the supervisor to restart the agent", func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		restarted, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return restarted > 0 && restarted != agentPID && !processGone(restarted)
	})
	waitFor(t, 60*time.Second, "/status to be healthy again", func() bool {
		return p.do("GET", "/status", nil, &status) == 200
	})
	back := time.Now()
	wf := p.waitWorkflowDone(short, 60*time.Second)
	assert.Equal(t, "success", wf.Status)
	assert.Less(t, time.Since(back), 20*time.Second, "the held job ran within seconds of Nomad's return")

	for _, pid := range left {
		assert.True(t, processGone(pid), "process %d of the killed agent still runs", pid)
	}
}
