package main

// End-to-end tests of the workflow controls on the real Nomad agent:
// approval, cancel (workflow and job), rerun from failed, and an
// infrastructure failure (a stopped allocation) retried as a new attempt.
// Jobs coordinate with the test through files in a temporary directory
// outside the repository, whose path the config carries.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cancelBound is how long a canceled task's process and Nomad job may take
// to go: the bridge's heartbeat (2 s in the embedded shape) answered 410,
// the purge, the agent's kill grace.
const cancelBound = 30 * time.Second

func nomadClient(t *testing.T) *nomad.Client {
	t.Helper()
	addr := needEnv(t, "NOMAD_ADDR", "make test starts a Nomad agent")
	c, err := nomad.NewClient(&nomad.Config{Address: addr})
	require.NoError(t, err)
	return c
}

// nomadJobs lists the Nomad jobs of a pipeline (their IDs start with the
// pipeline id) that are not dead.
func nomadJobs(t *testing.T, c *nomad.Client, pipelineID string) []string {
	t.Helper()
	jobs, _, err := c.Jobs().PrefixList(pipelineID)
	require.NoError(t, err)
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func (p *orbitProc) workflow(id string) e2eWorkflow {
	p.t.Helper()
	var wf e2eWorkflow
	require.Equal(p.t, 200, p.do("GET", "/api/v2/workflow/"+id, nil, &wf))
	return wf
}

// waitWorkflowStatus waits until the workflow has the status.
func (p *orbitProc) waitWorkflowStatus(id, want string, limit time.Duration) {
	p.t.Helper()
	var last string
	waitFor(p.t, limit, "workflow "+id+" to be "+want, func() bool {
		last = p.workflow(id).Status
		if terminalWorkflow(last) && last != want {
			p.t.Fatalf("workflow %s ended %s, want %s; jobs: %+v", id, last, want, p.jobs(id))
		}
		return last == want
	})
}

// firstWorkflow waits for the pipeline's first workflow and returns its id.
func (p *orbitProc) firstWorkflow(pid string) string {
	p.t.Helper()
	var id string
	waitFor(p.t, time.Minute, "the workflow of pipeline "+pid, func() bool {
		wfs := p.workflows(pid)
		if len(wfs) > 0 {
			id = wfs[0].ID
		}
		return id != ""
	})
	return id
}

// waitPID waits for a job to write a process id into the file.
func waitPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, time.Minute, path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	require.False(t, processGone(pid), "process %d should be running", pid)
	return pid
}

// processGone reports whether the process no longer runs (a zombie that
// nobody reaped counts as gone).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

type e2eJobDetails struct {
	Status       string `json:"status"`
	Number       int64  `json:"number"`
	ParallelRuns []struct {
		Index  int    `json:"index"`
		Status string `json:"status"`
	} `json:"parallel_runs"`
	Attempts []struct {
		Attempt int    `json:"attempt"`
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"attempts"`
}

func (p *orbitProc) jobDetails(slug string, number int64) e2eJobDetails {
	p.t.Helper()
	var d e2eJobDetails
	require.Equal(p.t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/job/%d", slug, number), nil, &d))
	return d
}

const approvalE2EConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo built
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo "deployed after approval"
workflows:
  release:
    jobs:
      - build
      - hold:
          type: approval
          requires: [build]
      - deploy:
          requires: [hold]
`

func TestE2EApproval(t *testing.T) {
	repo := gitRepo(t, map[string]string{".circleci/config.yml": approvalE2EConfig})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "approve")

	holdOf := func(wid string) string {
		var page struct {
			Items []struct {
				Name              string `json:"name"`
				Type              string `json:"type"`
				ApprovalRequestID string `json:"approval_request_id"`
			}
		}
		require.Equal(t, 200, p.do("GET", "/api/v2/workflow/"+wid+"/job", nil, &page))
		for _, j := range page.Items {
			if j.Name == "hold" {
				assert.Equal(t, "approval", j.Type)
				return j.ApprovalRequestID
			}
		}
		t.Fatalf("no hold job in %+v", page.Items)
		return ""
	}

	t.Run("approve", func(t *testing.T) {
		pid := p.trigger(slug, "main")
		wid := p.firstWorkflow(pid)
		p.waitWorkflowStatus(wid, "on_hold", 2*time.Minute)
		jobs := p.jobs(wid)
		assert.Equal(t, "success", jobs["build"].Status)
		assert.Equal(t, "on_hold", jobs["hold"].Status)
		assert.Equal(t, "blocked", jobs["deploy"].Status)

		var msg struct{ Message string }
		assert.Equal(t, 400, p.do("POST", "/api/v2/workflow/"+wid+"/approve/"+jobs["build"].ID, nil, &msg), "build is not an approval job")
		assert.Contains(t, msg.Message, "not an approval job")

		require.Equal(t, 202, p.do("POST", "/api/v2/workflow/"+wid+"/approve/"+holdOf(wid), nil, &msg))
		assert.Equal(t, "Accepted.", msg.Message)
		assert.Equal(t, 400, p.do("POST", "/api/v2/workflow/"+wid+"/approve/"+holdOf(wid), nil, &msg), "approved twice")
		assert.Contains(t, msg.Message, "already approved")
		p.waitWorkflowStatus(wid, "success", 2*time.Minute)
		jobs = p.jobs(wid)
		assert.Equal(t, "success", jobs["hold"].Status)
		assert.Equal(t, "success", jobs["deploy"].Status)
		out := p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=0&task=0", slug, jobs["deploy"].JobNumber))
		assert.Contains(t, out, "deployed after approval")
	})

	t.Run("cancel the hold", func(t *testing.T) {
		pid := p.trigger(slug, "main")
		wid := p.firstWorkflow(pid)
		p.waitWorkflowStatus(wid, "on_hold", 2*time.Minute)
		hold := holdOf(wid)
		require.Equal(t, 202, p.do("POST", "/api/v2/workflow/"+wid+"/cancel", nil, nil))
		p.waitWorkflowStatus(wid, "canceled", 30*time.Second)
		jobs := p.jobs(wid)
		assert.Equal(t, "success", jobs["build"].Status)
		assert.Equal(t, "canceled", jobs["hold"].Status)
		assert.Equal(t, "canceled", jobs["deploy"].Status)
		assert.Equal(t, 400, p.do("POST", "/api/v2/workflow/"+wid+"/approve/"+hold, nil, nil), "a canceled hold cannot be approved")
	})
}

// sleepConfig runs a job that records its sleep's process id in dir and
// sleeps for five minutes, and a job after it.
func sleepConfig(dir string) string {
	return fmt.Sprintf(`version: 2.1
jobs:
  slow:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: |
          sleep 300 &
          echo $! > %[1]s/sleep-$CIRCLE_BUILD_NUM.pid
          wait
  after:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo after
workflows:
  w:
    jobs:
      - slow
      - after: {requires: [slow]}
`, dir)
}

func TestE2ECancel(t *testing.T) {
	dir := t.TempDir()
	repo := gitRepo(t, map[string]string{".circleci/config.yml": sleepConfig(dir)})
	// Cold jobs: the test follows the task by its Nomad job, named by pipeline.
	p := startOrbit(t, t.TempDir(), freeAddr(t), "ORBIT_WARM_AGENTS=0")
	nc := nomadClient(t)
	slug := p.follow(repo, "acme", "cancel")

	// runningSleep triggers a pipeline and waits for its sleep to run.
	runningSleep := func(t *testing.T) (pid, wid string, job e2eJob, sleepPID int) {
		pid = p.trigger(slug, "main")
		wid = p.firstWorkflow(pid)
		waitFor(t, time.Minute, "slow to run", func() bool {
			job = p.jobs(wid)["slow"]
			return job.Status == "running"
		})
		sleepPID = waitPID(t, filepath.Join(dir, fmt.Sprintf("sleep-%d.pid", job.JobNumber)))
		require.NotEmpty(t, nomadJobs(t, nc, pid), "the job runs on Nomad")
		return pid, wid, job, sleepPID
	}
	// stopped checks that the task is canceled, its process gone and its
	// Nomad job deregistered within the bound.
	stopped := func(t *testing.T, pid string, job e2eJob, sleepPID int) {
		start := time.Now()
		waitFor(t, cancelBound, "the sleep to be killed", func() bool { return processGone(sleepPID) })
		waitFor(t, cancelBound, "the Nomad job to be deregistered", func() bool { return len(nomadJobs(t, nc, pid)) == 0 })
		t.Logf("process gone and Nomad job deregistered %s after the cancel", time.Since(start).Round(100*time.Millisecond))
		d := p.jobDetails(slug, job.JobNumber)
		assert.Equal(t, "canceled", d.Status)
		require.Len(t, d.ParallelRuns, 1)
		assert.Equal(t, "canceled", d.ParallelRuns[0].Status)
	}

	t.Run("workflow", func(t *testing.T) {
		pid, wid, job, sleepPID := runningSleep(t)
		var msg struct{ Message string }
		require.Equal(t, 202, p.do("POST", "/api/v2/workflow/"+wid+"/cancel", nil, &msg))
		assert.Equal(t, "Accepted.", msg.Message)
		p.waitWorkflowStatus(wid, "canceled", 10*time.Second)
		jobs := p.jobs(wid)
		assert.Equal(t, "canceled", jobs["slow"].Status)
		assert.Equal(t, "canceled", jobs["after"].Status)
		stopped(t, pid, job, sleepPID)
		// The workflow stays canceled once the agent's end is in.
		assert.Equal(t, "canceled", p.workflow(wid).Status)
		assert.Equal(t, "canceled", p.jobs(wid)["slow"].Status)
		assert.Equal(t, 400, p.do("POST", "/api/v2/workflow/"+wid+"/rerun", map[string]any{"jobs": []string{"nope"}}, nil))
	})

	t.Run("job", func(t *testing.T) {
		pid, wid, job, sleepPID := runningSleep(t)
		var msg struct{ Message string }
		require.Equal(t, 200, p.do("POST", fmt.Sprintf("/api/v2/project/%s/job/%d/cancel", slug, job.JobNumber), nil, &msg), msg.Message)
		p.waitWorkflowStatus(wid, "canceled", 10*time.Second)
		jobs := p.jobs(wid)
		assert.Equal(t, "canceled", jobs["slow"].Status)
		assert.Equal(t, "not_run", jobs["after"].Status, "a dependent of a canceled job does not run")
		stopped(t, pid, job, sleepPID)
		assert.Equal(t, 200, p.do("POST", fmt.Sprintf("/api/v2/project/%s/job/%d/cancel", slug, jobs["slow"].JobNumber), nil, nil), "cancelling a canceled job again is a no-op")
		assert.Equal(t, 404, p.do("POST", fmt.Sprintf("/api/v2/project/%s/job/%d/cancel", slug, jobs["slow"].JobNumber+1000), nil, nil), "unknown job")
	})
}

func TestE2EJobTimeout(t *testing.T) {
	dir := t.TempDir()
	repo := gitRepo(t, map[string]string{".circleci/config.yml": sleepConfig(dir)})
	p := startOrbit(t, t.TempDir(), freeAddr(t), "ORBIT_JOB_TIMEOUT=8s")
	nc := nomadClient(t)
	slug := p.follow(repo, "acme", "timeout")

	pid := p.trigger(slug, "main")
	wid := p.firstWorkflow(pid)
	var job e2eJob
	waitFor(t, time.Minute, "slow to be numbered", func() bool {
		job = p.jobs(wid)["slow"]
		return job.JobNumber != 0
	})
	sleepPID := waitPID(t, filepath.Join(dir, fmt.Sprintf("sleep-%d.pid", job.JobNumber)))
	p.waitWorkflowStatus(wid, "failed", time.Minute)
	jobs := p.jobs(wid)
	assert.Equal(t, "timedout", jobs["slow"].Status)
	assert.Equal(t, "not_run", jobs["after"].Status)
	waitFor(t, cancelBound, "the sleep to be killed", func() bool { return processGone(sleepPID) })
	waitFor(t, cancelBound, "the Nomad job to be deregistered", func() bool { return len(nomadJobs(t, nc, pid)) == 0 })
	d := p.jobDetails(slug, job.JobNumber)
	assert.Equal(t, "timedout", d.Status)
	require.Len(t, d.ParallelRuns, 1)
	assert.Equal(t, "timedout", d.ParallelRuns[0].Status)
}

// flakyConfig fails the flaky job on its first run and passes it on the
// next (through a marker file in dir); every job appends its name to
// dir/runs.
func flakyConfig(dir string) string {
	return fmt.Sprintf(`version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo build >> %[1]s/runs
  lint:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo lint >> %[1]s/runs
  flaky:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: |
          echo flaky >> %[1]s/runs
          if [ -f %[1]s/flaky-passes ]; then echo "passed this time"; exit 0; fi
          touch %[1]s/flaky-passes
          echo "fails the first time"
          exit 1
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo deploy >> %[1]s/runs
workflows:
  ci:
    jobs:
      - build
      - lint
      - flaky: {requires: [build]}
      - deploy: {requires: [flaky]}
`, dir)
}

func TestE2ERerunFromFailed(t *testing.T) {
	dir := t.TempDir()
	repo := gitRepo(t, map[string]string{".circleci/config.yml": flakyConfig(dir)})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "rerun")
	runs := func() []string {
		b, _ := os.ReadFile(filepath.Join(dir, "runs"))
		lines := strings.Fields(string(b))
		return lines
	}

	pid := p.trigger(slug, "main")
	first := p.waitWorkflowDone(pid, 2*time.Minute)
	require.Equal(t, "failed", first.Status)
	old := p.jobs(first.ID)
	assert.Equal(t, "success", old["build"].Status)
	assert.Equal(t, "success", old["lint"].Status)
	assert.Equal(t, "failed", old["flaky"].Status)
	assert.Equal(t, "not_run", old["deploy"].Status)
	assert.ElementsMatch(t, []string{"build", "lint", "flaky"}, runs())

	var rerun struct {
		WorkflowID string `json:"workflow_id"`
		Message    string `json:"message"`
	}
	require.Equal(t, 202, p.do("POST", "/api/v2/workflow/"+first.ID+"/rerun", map[string]bool{"from_failed": true}, &rerun), rerun.Message)
	require.NotEmpty(t, rerun.WorkflowID)
	assert.NotEqual(t, first.ID, rerun.WorkflowID)
	p.waitWorkflowStatus(rerun.WorkflowID, "success", 2*time.Minute)

	wfs := p.workflows(pid)
	require.Len(t, wfs, 2, "the rerun is a new workflow in the same pipeline")
	assert.Equal(t, "ci", p.workflow(rerun.WorkflowID).Name)
	assert.Equal(t, "failed", p.workflow(first.ID).Status, "the first run keeps its result")
	jobs := p.jobs(rerun.WorkflowID)
	for _, name := range []string{"build", "lint"} {
		assert.Equal(t, "success", jobs[name].Status, name)
		assert.Equal(t, old[name].JobNumber, jobs[name].JobNumber, "%s keeps its result and number", name)
	}
	for _, name := range []string{"flaky", "deploy"} {
		assert.Equal(t, "success", jobs[name].Status, name)
		assert.NotZero(t, jobs[name].JobNumber, name)
		assert.NotEqual(t, old[name].JobNumber, jobs[name].JobNumber, "%s ran again", name)
	}
	assert.ElementsMatch(t, []string{"build", "lint", "flaky", "flaky", "deploy"}, runs(), "passed jobs did not run again")
	out := p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=0&task=0", slug, jobs["flaky"].JobNumber))
	assert.Contains(t, out, "passed this time")
}

// retryConfig's job sleeps on its first attempt (recording the sleep's
// process id) and passes at once on the next.
func retryConfig(dir string) string {
	return fmt.Sprintf(`version: 2.1
jobs:
  fragile:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: |
          if [ -f %[1]s/first-attempt ]; then echo "recovered on a new attempt"; exit 0; fi
          touch %[1]s/first-attempt
          sleep 300 &
          echo $! > %[1]s/sleep.pid
          wait
workflows:
  w:
    jobs: [fragile]
`, dir)
}

func TestE2EInfrastructureFailRetried(t *testing.T) {
	dir := t.TempDir()
	repo := gitRepo(t, map[string]string{".circleci/config.yml": retryConfig(dir)})
	// No warm agent: the test stops the job's own allocation, which a task
	// taken by a warm agent (its Nomad job named orbit-warm-…) has not.
	p := startOrbit(t, t.TempDir(), freeAddr(t), "ORBIT_WARM_AGENTS=0")
	nc := nomadClient(t)
	slug := p.follow(repo, "acme", "fragile")

	pid := p.trigger(slug, "main")
	wid := p.firstWorkflow(pid)
	sleepPID := waitPID(t, filepath.Join(dir, "sleep.pid"))
	ids := nomadJobs(t, nc, pid)
	require.Len(t, ids, 1)
	allocs, _, err := nc.Jobs().Allocations(ids[0], false, nil)
	require.NoError(t, err)
	require.Len(t, allocs, 1)
	alloc, _, err := nc.Allocations().Info(allocs[0].ID, nil)
	require.NoError(t, err)

	// The machine goes away under the job: stop its allocation.
	_, err = nc.Allocations().Stop(alloc, nil)
	require.NoError(t, err)

	p.waitWorkflowStatus(wid, "success", 2*time.Minute)
	job := p.jobs(wid)["fragile"]
	assert.Equal(t, "success", job.Status)
	d := p.jobDetails(slug, job.JobNumber)
	assert.Equal(t, "success", d.Status)
	require.Len(t, d.Attempts, 2, "the lost attempt and its retry: %+v", d.Attempts)
	assert.Equal(t, 1, d.Attempts[0].Attempt)
	assert.Equal(t, "infrastructure_fail", d.Attempts[0].Status)
	assert.Contains(t, d.Attempts[0].Message, "allocation stopped")
	assert.Equal(t, 2, d.Attempts[1].Attempt)
	assert.Equal(t, "success", d.Attempts[1].Status)
	out := p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=0&task=0", slug, job.JobNumber))
	assert.Contains(t, out, "recovered on a new attempt")
	waitFor(t, cancelBound, "the first attempt's sleep to be gone", func() bool { return processGone(sleepPID) })
	waitFor(t, cancelBound, "both Nomad jobs to be purged", func() bool { return len(nomadJobs(t, nc, pid)) == 0 })
}

const scheduledE2EConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo "built on push"
  nightly:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo "scheduled run on $CIRCLE_BRANCH"
workflows:
  push:
    jobs: [build]
  every-minute:
    triggers:
      - schedule:
          cron: "* * * * *"
          filters:
            branches:
              only: [main]
    jobs: [nightly]
`

// The schedule ticker of `orbit up` triggers a scheduled pipeline within a
// minute of following the project (the first evaluation after it), running
// only the scheduled workflow.
func TestE2EScheduledPipeline(t *testing.T) {
	repo := gitRepo(t, map[string]string{".circleci/config.yml": scheduledE2EConfig})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "cron")

	type pipeline struct {
		ID      string `json:"id"`
		Number  int64  `json:"number"`
		Trigger struct {
			Type string `json:"type"`
		} `json:"trigger"`
		VCS struct {
			Branch string `json:"branch"`
		} `json:"vcs"`
	}
	var scheduled pipeline
	waitFor(t, 90*time.Second, "a scheduled pipeline", func() bool {
		var page struct{ Items []pipeline }
		p.do("GET", "/api/v2/project/"+slug+"/pipeline", nil, &page)
		for _, pl := range page.Items {
			if pl.Trigger.Type == "scheduled_pipeline" {
				scheduled = pl
				return true
			}
		}
		return false
	})
	assert.Equal(t, "main", scheduled.VCS.Branch)
	wf := p.waitWorkflowDone(scheduled.ID, 2*time.Minute)
	assert.Equal(t, "every-minute", wf.Name, "only the scheduled workflow runs")
	assert.Equal(t, "success", wf.Status)
	job := p.jobs(wf.ID)["nightly"]
	out := p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=0&task=0", slug, job.JobNumber))
	assert.Contains(t, out, "scheduled run on main")

	// A push runs the push workflow only.
	pid := p.trigger(slug, "main")
	wf = p.waitWorkflowDone(pid, 2*time.Minute)
	assert.Equal(t, "push", wf.Name)
}
