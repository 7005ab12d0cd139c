package main

// End-to-end tests of execution: steps as CircleCI documents them, run by
// the real agent in real Nomad allocations, observed through the API.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
)

// e2eStep is a step of a job's latest attempt.
type e2eStep struct {
	Index   int    `json:"index"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Actions []struct {
		Index    int    `json:"index"`
		Status   string `json:"status"`
		ExitCode *int   `json:"exit_code"`
	} `json:"actions"`
}

func (p *orbitProc) steps(slug string, num int64) []e2eStep {
	p.t.Helper()
	var page struct{ Items []e2eStep }
	require.Equal(p.t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/job/%d/steps", slug, num), nil, &page))
	return page.Items
}

// stepOutput is the output of the named step on a task.
func (p *orbitProc) stepOutput(slug string, num int64, name string, task int) string {
	p.t.Helper()
	for _, s := range p.steps(slug, num) {
		if s.Name == name {
			return p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=%d&task=%d", slug, num, s.Index, task))
		}
	}
	p.t.Fatalf("job %d has no step %q", num, name)
	return ""
}

// runPipeline triggers a pipeline on main and waits for its workflow.
func (p *orbitProc) runPipeline(slug string) (e2eWorkflow, map[string]e2eJob) {
	p.t.Helper()
	pid := p.trigger(slug, "main")
	wf := p.waitWorkflowDone(pid, 3*time.Minute)
	return wf, p.jobs(wf.ID)
}

// commit adds files to a repository made by gitRepo.
func commit(t *testing.T, repo string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644))
	}
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "change"}} {
		out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
	}
}

const splitConfig = `version: 2.1
jobs:
  test:
    docker: [{image: cimg/base:stable}]
    parallelism: 3
    steps:
      - checkout
      - run:
          name: Split
          command: circleci tests glob "tests/*.t" | circleci tests split --split-by=timings > mine.txt; cat mine.txt
      - run:
          name: Report
          command: |
            mkdir -p results/unit
            {
              echo '<testsuite name="unit">'
              for f in $(cat mine.txt); do
                echo "<testcase name=\"$f\" classname=\"unit\" file=\"$f\" time=\"$(cat $f)\"/>"
              done
              echo '</testsuite>'
            } > results/unit/junit.xml
      - store_test_results: {path: results}
workflows:
  ci:
    jobs: [test]
`

// TestE2EParallelismAndTimingSplit runs a job on three nodes twice: the
// first run has no timings and splits by name; the second splits by the
// timings the first stored (greedy: the slowest file alone, and so on).
func TestE2EParallelismAndTimingSplit(t *testing.T) {
	weights := map[string]string{"a": "10", "b": "8", "c": "5", "d": "4", "e": "3", "f": "1"}
	files := map[string]string{".circleci/config.yml": splitConfig}
	for name, w := range weights {
		files["tests/"+name+".t"] = w
	}
	repo := gitRepo(t, files)
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "split")

	shares := func(num int64) []string {
		var out []string
		for node := range 3 {
			out = append(out, strings.Join(strings.Fields(p.stepOutput(slug, num, "Split", node)), " "))
		}
		return out
	}
	wf, jobs := p.runPipeline(slug)
	require.Equal(t, "success", wf.Status)
	first := jobs["test"].JobNumber
	firstSplit := p.stepOutput(slug, first, "Split", 0)
	assert.Contains(t, firstSplit, "no timing data found")
	assert.Contains(t, p.stepOutput(slug, first, "Checkout code", 0), "the image cimg/base:stable was NOT pulled or used")
	var job struct {
		ParallelRuns []struct {
			Index  int    `json:"index"`
			Status string `json:"status"`
		} `json:"parallel_runs"`
	}
	require.Equal(t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/job/%d", slug, first), nil, &job))
	require.Len(t, job.ParallelRuns, 3)

	var tests struct {
		Items []struct {
			Name, File, Result, Source, Classname string
			RunTime                               float64 `json:"run_time"`
		}
	}
	require.Equal(t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/tests", slug, first), nil, &tests))
	require.Len(t, tests.Items, 6)
	for _, it := range tests.Items {
		assert.Equal(t, "success", it.Result)
		assert.Equal(t, "unit", it.Source)
		w, _ := strconv.ParseFloat(weights[strings.TrimSuffix(strings.TrimPrefix(it.File, "tests/"), ".t")], 64)
		assert.Equal(t, w, it.RunTime, it.File)
	}

	wf, jobs = p.runPipeline(slug)
	require.Equal(t, "success", wf.Status)
	second := jobs["test"].JobNumber
	assert.Equal(t, []string{"tests/a.t", "tests/b.t tests/e.t", "tests/c.t tests/d.t tests/f.t"}, shares(second),
		"the second run balances the first run's timings: 10 | 8+3 | 5+4+1")
	assert.NotContains(t, p.stepOutput(slug, second, "Split", 0), "no timing")
}

const cacheConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - restore_cache:
          keys: ['v1-deps-{{ checksum "deps.txt" }}', 'v1-deps-']
      - run:
          name: Install
          command: if [ -f ~/.deps/installed ]; then echo "HIT $(cat ~/.deps/installed)"; else mkdir -p ~/.deps && cat deps.txt > ~/.deps/installed && echo MISS; fi
      - save_cache:
          key: 'v1-deps-{{ checksum "deps.txt" }}'
          paths: [~/.deps]
workflows:
  ci:
    jobs: [build]
`

// TestE2ECacheAcrossPipelines saves a cache in one pipeline and restores it
// in the next; the key is immutable, so the second save is skipped, and a
// changed lock file restores the older cache by prefix.
func TestE2ECacheAcrossPipelines(t *testing.T) {
	repo := gitRepo(t, map[string]string{".circleci/config.yml": cacheConfig, "deps.txt": "left-pad 1.0\n"})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "cache")

	wf, jobs := p.runPipeline(slug)
	require.Equal(t, "success", wf.Status)
	n := jobs["build"].JobNumber
	assert.Contains(t, p.stepOutput(slug, n, "Restoring cache", 0), "No cache is found for key: v1-deps-")
	assert.Contains(t, p.stepOutput(slug, n, "Install", 0), "MISS")
	assert.Contains(t, p.stepOutput(slug, n, "Saving cache", 0), "Stored Cache to v1-deps-")

	wf, jobs = p.runPipeline(slug)
	require.Equal(t, "success", wf.Status)
	n = jobs["build"].JobNumber
	assert.Contains(t, p.stepOutput(slug, n, "Restoring cache", 0), "Found a cache at v1-deps-")
	assert.Contains(t, p.stepOutput(slug, n, "Install", 0), "HIT left-pad 1.0")
	assert.Contains(t, p.stepOutput(slug, n, "Saving cache", 0), "Skipping cache generation, cache already exists for key: v1-deps-")

	commit(t, repo, map[string]string{"deps.txt": "left-pad 2.0\n"})
	wf, jobs = p.runPipeline(slug)
	require.Equal(t, "success", wf.Status)
	n = jobs["build"].JobNumber
	assert.Contains(t, p.stepOutput(slug, n, "Install", 0), "HIT left-pad 1.0", "the older cache, found by prefix")
	assert.Contains(t, p.stepOutput(slug, n, "Saving cache", 0), "Stored Cache to v1-deps-", "a new key saves")
}

const workspaceConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: mkdir -p out/bin && echo app-v1 > out/bin/app && echo '<h1>report</h1>' > out/report.html
      - persist_to_workspace: {root: out, paths: [bin/*]}
      - store_artifacts: {path: out/report.html, destination: reports/report.html}
  test:
    docker: [{image: cimg/base:stable}]
    steps:
      - attach_workspace: {at: ~/ws}
      - run: cat ~/ws/bin/app && mkdir -p ~/ws/test && echo tested > ~/ws/test/result
      - persist_to_workspace: {root: ~/ws, paths: [test]}
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - attach_workspace: {at: ws}
      - run:
          name: Deploy
          command: echo "deploying $(cat ws/bin/app) $(cat ws/test/result)"
workflows:
  ci:
    jobs:
      - build
      - test: {requires: [build]}
      - deploy: {requires: [test]}
`

// TestE2EWorkspaceAndArtifacts passes a workspace through three jobs and
// reads an artifact through the API with its safe content type.
func TestE2EWorkspaceAndArtifacts(t *testing.T) {
	repo := gitRepo(t, map[string]string{".circleci/config.yml": workspaceConfig})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "ws")
	pid := p.trigger(slug, "main")
	wf := p.waitWorkflowDone(pid, 3*time.Minute)
	jobs := p.jobs(wf.ID)
	require.Equal(t, "success", wf.Status, "%+v", jobs)
	assert.Contains(t, p.text("/ui/pipeline/"+pid), "Ran on the host executor: the image cimg/base:stable was not used.")
	assert.Contains(t, p.stepOutput(slug, jobs["deploy"].JobNumber, "Deploy", 0), "deploying app-v1 tested")

	var arts struct {
		Items []struct {
			Path      string `json:"path"`
			NodeIndex int    `json:"node_index"`
			URL       string `json:"url"`
		}
	}
	require.Equal(t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/artifacts", slug, jobs["build"].JobNumber), nil, &arts))
	require.Len(t, arts.Items, 1)
	assert.Equal(t, "reports/report.html", arts.Items[0].Path)
	resp, err := http.Get(arts.Items[0].URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "<h1>report</h1>\n", string(body))
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"), "HTML is served as plain text")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}

const timeoutConfig = `version: 2.1
jobs:
  quiet:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: Server
          background: true
          command: echo serving; touch ready; sleep 600
      - run:
          name: Wait for server
          command: while [ ! -e ready ]; do sleep 0.1; done; echo server is up
      - run:
          name: Hang
          no_output_timeout: 2s
          command: echo about to hang; sleep 120
      - run:
          name: Cleanup
          when: always
          command: echo cleaning up
workflows:
  ci:
    jobs: [quiet]
`

// TestE2ENoOutputTimeoutAndBackgroundStep: a background step serves the
// next step; a silent step is stopped by its no_output_timeout.
func TestE2ENoOutputTimeoutAndBackgroundStep(t *testing.T) {
	repo := gitRepo(t, map[string]string{".circleci/config.yml": timeoutConfig})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "quiet")
	begin := time.Now()
	wf, jobs := p.runPipeline(slug)
	assert.Less(t, time.Since(begin), 90*time.Second, "the hang must be cut by the timeout")
	assert.Equal(t, "failed", wf.Status)
	n := jobs["quiet"].JobNumber
	assert.Contains(t, p.stepOutput(slug, n, "Wait for server", 0), "server is up")
	assert.Contains(t, p.stepOutput(slug, n, "Server", 0), "serving")
	hang := p.stepOutput(slug, n, "Hang", 0)
	assert.Contains(t, hang, "Too long with no output (exceeded 2s)")
	assert.Contains(t, p.stepOutput(slug, n, "Cleanup", 0), "cleaning up")
	for _, s := range p.steps(slug, n) {
		switch s.Name {
		case "Hang":
			assert.Equal(t, "timedout", s.Actions[0].Status)
		case "Wait for server", "Cleanup":
			assert.Equal(t, "success", s.Actions[0].Status)
		}
	}
}

const cancelConfig = `version: 2.1
jobs:
  long:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: Sleep
          command: sleep 600 & echo $! > "$PIDFILE"; wait
workflows:
  ci:
    jobs: [long]
`

// TestE2ECancelKillsTheProcess cancels a running workflow; the step's
// process is gone soon after.
func TestE2ECancelKillsTheProcess(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	cfg := strings.Replace(cancelConfig, "    docker:", "    environment: {PIDFILE: "+pidFile+"}\n    docker:", 1)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": cfg})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "cancel")
	pid := p.trigger(slug, "main")
	var proc int
	waitFor(t, 2*time.Minute, "the step's process to start", func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		proc, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	require.True(t, procAlive(proc), "the sleep runs")
	wfs := p.workflows(pid)
	require.Len(t, wfs, 1)
	code := p.do("POST", "/api/v2/workflow/"+wfs[0].ID+"/cancel", nil, nil)
	require.Equal(t, 202, code)
	wf := p.waitWorkflowDone(pid, time.Minute)
	assert.Equal(t, "canceled", wf.Status)
	waitFor(t, 30*time.Second, "the step's process to be gone", func() bool { return !procAlive(proc) })
	assert.Equal(t, "canceled", p.jobs(wf.ID)["long"].Status)
}

// procAlive reports whether pid runs (a zombie is dead).
func procAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

const drainConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: Work
          command: touch "$STARTED.$CIRCLE_BUILD_NUM"; sleep 6; echo "build $CIRCLE_BUILD_NUM done"
workflows:
  ci:
    jobs: [build]
`

// TestE2EAdminNodesDrain drains the only Nomad client (of a private Nomad
// agent, so no other test loses its client) while a build runs: the build
// finishes, a new one waits queued, and runs once the drain ends.
func TestE2EAdminNodesDrain(t *testing.T) {
	bin := needEnv(t, "ORBIT_BIN", "make test builds bin/orbit")
	nomadBin := needEnv(t, "ORBIT_NOMAD_BIN", "make test sets it to bin/nomad")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// DEBUG: blockedAfterNodeIdle reads the server's "reblocked evaluation"
	// lines, which Nomad logs at that level only.
	agent, err := nomadagent.Start(ctx, nomadagent.Config{Binary: nomadBin, DataDir: t.TempDir(), DieWithParent: true, LogLevel: "DEBUG"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = agent.Stop() })
	started := filepath.Join(t.TempDir(), "started")
	repo := gitRepo(t, map[string]string{".circleci/config.yml": strings.Replace(drainConfig, "    docker:",
		"    environment: {STARTED: "+started+"}\n    docker:", 1)})
	// Cold jobs: the listing is checked for the build's own Nomad job.
	p := startOrbit(t, t.TempDir(), freeAddr(t), "NOMAD_ADDR="+agent.Addr(), "ORBIT_WARM_AGENTS=0")
	slug := p.follow(repo, "acme", "drain")
	admin := func(args ...string) string {
		cmd := exec.Command(bin, append([]string{"admin", "nodes"}, args...)...)
		cmd.Env = append(os.Environ(), "NOMAD_ADDR="+agent.Addr())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}

	first := p.trigger(slug, "main")
	waitFor(t, time.Minute, "the first build to start", func() bool {
		m, _ := filepath.Glob(started + ".*")
		return len(m) == 1
	})
	// The step runs before the Nomad client tells the server the
	// allocation is running: wait for the listing to catch up.
	var list string
	waitFor(t, 30*time.Second, "the running build in the node listing", func() bool {
		list = admin()
		return strings.Contains(list, "-build-acme-drain-1  task ")
	})
	require.Contains(t, list, "Running Allocs")
	assert.Contains(t, list, "takes new builds\n    drivers: ", "what the node can run")
	assert.Regexp(t, `drivers: .*raw_exec`, list)
	assert.Contains(t, list, "resource classes: ")
	node := strings.Fields(strings.Split(list, "\n")[1])[0]
	assert.Contains(t, admin("drain", node), "is draining: no new builds")
	assert.Contains(t, admin(), "draining: takes no new builds")

	second := p.trigger(slug, "main")
	waitFor(t, 30*time.Second, "the second build to be queued", func() bool {
		wfs := p.workflows(second)
		return len(wfs) == 1 && p.jobs(wfs[0].ID)["build"].Status == "queued"
	})
	wf := p.waitWorkflowDone(first, time.Minute)
	assert.Equal(t, "success", wf.Status, "the running build finishes on the draining node")
	wfs := p.workflows(second)
	require.Len(t, wfs, 1)
	assert.Equal(t, "queued", p.jobs(wfs[0].ID)["build"].Status, "no new build lands on a draining node")
	m, _ := filepath.Glob(started + ".*")
	assert.Len(t, m, 1)

	// Wait until the first allocation's end (after which Nomad retries the
	// blocked evaluations of the node's class, once) has been spent on the
	// still-ineligible node: the second job's evaluation is blocked again
	// and only the end of the drain can get it placed. This is the order
	// of a real maintenance (the drain ends long after the builds did), and
	// the one in which ending the drain with MarkEligible alone left the
	// build queued for good.
	nc, err := nomad.NewClient(&nomad.Config{Address: agent.Addr()})
	require.NoError(t, err)
	nodes, _, err := nc.Nodes().PrefixList(node)
	require.NoError(t, err)
	require.Len(t, nodes, 1)
	waitFor(t, time.Minute, "the second job's evaluation to be blocked again after the first allocation ended", func() bool {
		return blockedAfterNodeIdle(nc, nodes[0].ID, second, agent.LogFile())
	})

	assert.Contains(t, admin("drain", node, "--disable"), "takes builds again")
	var done e2eWorkflow
	if !waitUntil(time.Minute, func() bool {
		wfs := p.workflows(second)
		if len(wfs) == 1 {
			done = wfs[0]
		}
		return terminalWorkflow(done.Status)
	}) {
		t.Fatalf("the queued build did not finish within 1m of the drain's end (workflow %q); its Nomad evaluations:\n%s",
			done.Status, evalDump(nc, second))
	}
	assert.Equal(t, "success", done.Status, "the queued build runs once the drain ends")
	m, _ = filepath.Glob(started + ".*")
	assert.Len(t, m, 2)
}

// blockedAfterNodeIdle reports whether every allocation of the node has
// ended and the Nomad job of pipeline pid waits on a blocked evaluation
// that Nomad processed after that: either created from a snapshot that saw
// the allocations end, or retried and blocked again. A re-block is kept in
// the server's memory only (the evaluation's snapshot index in the API does
// not move), so it is read from the dev agent's debug log.
func blockedAfterNodeIdle(nc *nomad.Client, nodeID, pid, agentLog string) bool {
	allocs, _, err := nc.Nodes().Allocations(nodeID, nil)
	if err != nil {
		return false
	}
	var ended uint64
	for _, a := range allocs {
		if a.ClientStatus == nomad.AllocClientStatusPending || a.ClientStatus == nomad.AllocClientStatusRunning {
			return false
		}
		ended = max(ended, a.ModifyIndex)
	}
	jobs, _, err := nc.Jobs().PrefixList(pid)
	if err != nil || len(jobs) != 1 {
		return false
	}
	evals, _, err := nc.Jobs().Evaluations(jobs[0].ID, nil)
	if err != nil {
		return false
	}
	var blocked *nomad.Evaluation
	for _, e := range evals {
		switch e.Status {
		case nomad.EvalStatusPending:
			return false
		case nomad.EvalStatusBlocked:
			blocked = e
		}
	}
	if blocked == nil {
		return false
	}
	if blocked.SnapshotIndex >= ended {
		return true
	}
	log, err := os.ReadFile(agentLog)
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(log)) {
		if strings.Contains(line, "reblocked evaluation") && strings.Contains(line, blocked.ID) {
			return true
		}
	}
	return false
}

// evalDump lists the evaluations of pipeline pid's Nomad jobs.
func evalDump(nc *nomad.Client, pid string) string {
	jobs, _, err := nc.Jobs().PrefixList(pid)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, j := range jobs {
		evals, _, err := nc.Jobs().Evaluations(j.ID, nil)
		if err != nil {
			return err.Error()
		}
		for _, e := range evals {
			fmt.Fprintf(&b, "  %s %s: %s (triggered by %s, snapshot %d) %s\n",
				short(e.ID), j.ID, e.Status, e.TriggeredBy, e.SnapshotIndex, e.StatusDescription)
		}
	}
	return b.String()
}

// waitUntil polls cond until it holds (true) or limit passes (false).
func waitUntil(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}
