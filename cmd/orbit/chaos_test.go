package main

// Chaos drills (`make chaos`, not part of `make test`): each drill breaks a
// part of the embedded shape on purpose while real pipelines run on a real
// Nomad agent, then asserts that nothing is lost (every triggered pipeline
// ends), nothing is stuck (within a bound), and every status is true (a job
// that ran is success; one whose run was lost was retried and says so).
// Each drill appends its figures to the Markdown file named by
// ORBIT_CHAOS_REPORT; make chaos writes docs/CHAOS.md from them.
//
//	drill                         breaks                          asserts
//	KillOrbitDuring100Jobs        kill -9 orbit up, 100 running   all succeed after restart, numbers gap-free, no Nomad job left
//	KillNomadDuringJobs           kill -9 of the agent orbit owns all end success (reported or retried), no orphan process
//	NomadStoppedWhileTriggering   Nomad down 60 s, 50 triggers    jobs say why they wait, all run within seconds of its return
//	ReplayedTriggers              10 triggers × 10 replays        one pipeline per Idempotency-Key, replays answer the same
//	Soak                          10,000 one-step jobs            heap and goroutines flat, 0 leaked Nomad jobs
//	RedeliveryStorm               500 messages visible at once    each task runs exactly once, none dead-lettered

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
	"github.com/orbit-ci/orbit/shared/metrics"
)

// needChaos skips a drill outside `make chaos`: drills take minutes each
// and load the machine, so `make test` leaves them to their own target.
func needChaos(t *testing.T) {
	t.Helper()
	if os.Getenv("ORBIT_CHAOS") == "" {
		t.Skip("a chaos drill: `make chaos` runs it (ORBIT_CHAOS=1)")
	}
}

// chaosInt reads a drill's size from the environment (make chaos may
// shrink a drill on a slow machine; the report says what ran).
func chaosInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// report appends one drill's figures to ORBIT_CHAOS_REPORT.
func report(t *testing.T, drill string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		t.Logf("%s: %s", drill, l)
	}
	path := os.Getenv("ORBIT_CHAOS_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	verdict := "passed"
	if t.Failed() {
		verdict = "FAILED"
	}
	fmt.Fprintf(f, "\n### %s (%s, %s)\n\n", drill, verdict, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	for _, l := range lines {
		fmt.Fprintf(f, "- %s\n", l)
	}
}

// oneStepConfig is a pipeline of one job with one run step: the drills'
// and the throughput benchmarks' pipeline.
func oneStepConfig(command string) string {
	return "version: 2.1\njobs:\n  build:\n    docker: [{image: cimg/base:stable}]\n    steps:\n      - run: " +
		strconv.Quote(command) + "\nworkflows:\n  ci:\n    jobs: [build]\n"
}

// triggered is one trigger's answer.
type triggered struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
}

// triggerAll triggers n pipelines of slug from `clients` concurrent
// clients and returns them in no particular order. Any refused trigger
// fails the drill: a trigger is never lost.
func triggerAll(t *testing.T, p *orbitProc, slug string, n, clients int) []triggered {
	t.Helper()
	var (
		mu   sync.Mutex
		out  []triggered
		errs []string
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range clients {
		wg.Go(func() {
			for range next {
				tr, err := postTrigger(p.url, slug, nil)
				mu.Lock()
				if err != nil {
					errs = append(errs, err.Error())
				} else {
					out = append(out, tr)
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	require.Empty(t, errs, "refused triggers")
	require.Len(t, out, n)
	return out
}

// postTrigger is one trigger from a client that is not the test's
// goroutine (so it returns errors instead of failing the test).
func postTrigger(base, slug string, header http.Header) (triggered, error) {
	req, err := http.NewRequest("POST", base+"/api/v2/project/"+slug+"/pipeline", strings.NewReader(`{"branch":"main"}`))
	if err != nil {
		return triggered{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return triggered{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return triggered{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	var tr triggered
	if err := json.Unmarshal(body, &tr); err != nil {
		return triggered{}, fmt.Errorf("decode %q: %w", body, err)
	}
	return tr, nil
}

// getJSON reads a JSON document; it returns false on any failure, for
// polling loops that outlive a restart of orbit up.
func getJSON(url string, out any) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return false
	}
	return json.NewDecoder(resp.Body).Decode(out) == nil
}

// outcome is where one pipeline ended (or is).
type outcome struct {
	workflow string
	status   string
	job      e2eJob
}

// readOutcome reads a one-workflow pipeline's workflow and first job.
func readOutcome(base, pid string) (outcome, bool) {
	var wfs struct{ Items []e2eWorkflow }
	if !getJSON(base+"/api/v2/pipeline/"+pid+"/workflow", &wfs) || len(wfs.Items) != 1 {
		return outcome{}, false
	}
	o := outcome{workflow: wfs.Items[0].ID, status: wfs.Items[0].Status}
	if !terminalWorkflow(o.status) {
		return o, true // its job is read once it is over
	}
	o.job, _ = firstJob(base, o.workflow)
	return o, true
}

// firstJob reads the (only) job of a drill's workflow.
func firstJob(base, workflow string) (e2eJob, bool) {
	var jobs struct{ Items []e2eJob }
	if getJSON(base+"/api/v2/workflow/"+workflow+"/job", &jobs) && len(jobs.Items) > 0 {
		return jobs.Items[0], true
	}
	return e2eJob{}, false
}

// waitAll waits until every pipeline's workflow is terminal and returns
// their outcomes; it polls only the pipelines still going, and fails
// naming the stuck ones when limit passes.
func waitAll(t *testing.T, base string, pids []string, limit time.Duration) map[string]outcome {
	t.Helper()
	done := make(map[string]outcome, len(pids))
	pending := append([]string(nil), pids...)
	deadline := time.Now().Add(limit)
	for len(pending) > 0 {
		var still []string
		for _, pid := range pending {
			if o, ok := readOutcome(base, pid); ok && terminalWorkflow(o.status) {
				done[pid] = o
			} else {
				still = append(still, pid)
			}
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			sample := pending[:min(len(pending), 5)]
			var states []string
			for _, pid := range sample {
				o, _ := readOutcome(base, pid)
				j, _ := firstJob(base, o.workflow)
				states = append(states, fmt.Sprintf("%s workflow=%s job=%s", pid, o.status, j.Status))
			}
			t.Fatalf("%d of %d pipelines not finished after %s (stuck), e.g.:\n%s", len(pending), len(pids), limit, strings.Join(states, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	return done
}

// countRunning counts the pipelines whose job runs (readOutcome reads a
// job only once its workflow is over, so this reads the jobs itself).
func countRunning(base string, pids []string) int {
	n := 0
	for _, pid := range pids {
		o, ok := readOutcome(base, pid)
		if !ok || o.status != "running" {
			continue
		}
		if j, ok := firstJob(base, o.workflow); ok && j.Status == "running" {
			n++
		}
	}
	return n
}

func ids(trs []triggered) []string {
	out := make([]string, len(trs))
	for i, tr := range trs {
		out[i] = tr.ID
	}
	return out
}

// assertGapFree checks that a project's pipeline numbers are exactly 1..n.
func assertGapFree(t *testing.T, trs []triggered) {
	t.Helper()
	nums := make([]int, len(trs))
	for i, tr := range trs {
		nums[i] = int(tr.Number)
	}
	sort.Ints(nums)
	for i, n := range nums {
		if !assert.Equal(t, i+1, n, "pipeline numbers must be 1..%d without gaps or repeats", len(nums)) {
			return
		}
	}
}

// statusCounts tallies outcomes by workflow status.
func statusCounts(outs map[string]outcome) map[string]int {
	c := map[string]int{}
	for _, o := range outs {
		c[o.status]++
	}
	return c
}

// attemptsOf reads how many attempts a job took.
func attemptsOf(base, slug string, number int64) int {
	var d e2eJobDetails
	if !getJSON(fmt.Sprintf("%s/api/v2/project/%s/job/%d", base, slug, number), &d) {
		return 0
	}
	return len(d.Attempts)
}

// leakedNomadJobs lists Nomad jobs of these pipelines that are still
// registered (the bridge purges each job once its outcome is reported).
func leakedNomadJobs(t *testing.T, c *nomad.Client, pids []string) []string {
	t.Helper()
	want := make(map[string]bool, len(pids))
	for _, pid := range pids {
		want[pid] = true
	}
	jobs, _, err := c.Jobs().List(nil)
	require.NoError(t, err)
	var leaked []string
	for _, j := range jobs {
		if len(j.ID) >= 36 && want[j.ID[:36]] {
			leaked = append(leaked, j.ID+" ("+j.Status+")")
		}
	}
	return leaked
}

// processesMentioning lists live processes whose command line contains s
// (a test's data directory), other than zombies.
func processesMentioning(s string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(s)) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(bytes.TrimRight(cmdline, "\x00")), "\x00", " ")))
	}
	return out
}

func TestChaosKillOrbitDuring100Jobs(t *testing.T) {
	needChaos(t)
	n := chaosInt(t, "ORBIT_CHAOS_JOBS", 100)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": oneStepConfig("sleep 6; echo finished")})
	dataDir, addr := t.TempDir(), freeAddr(t)
	p := startOrbit(t, dataDir, addr)
	slug := p.follow(repo, "chaos", "kill-orbit")
	start := time.Now()
	trs := triggerAll(t, p, slug, n, 10)
	pids := ids(trs)
	waitFor(t, 3*time.Minute, "a tenth of the jobs to run", func() bool { return countRunning(p.url, pids) >= max(n/10, 1) })
	running := countRunning(p.url, pids)
	p.kill9()
	killed := time.Now()
	p = startOrbit(t, dataDir, addr)
	restarted := time.Now()

	outs := waitAll(t, p.url, pids, 10*time.Minute)
	finished := time.Now()
	counts := statusCounts(outs)
	assert.Equal(t, n, counts["success"], "every pipeline succeeds after the crash: %v", counts)
	assertGapFree(t, trs)
	retried := 0
	for _, o := range outs {
		if attemptsOf(p.url, slug, o.job.JobNumber) > 1 {
			retried++
		}
	}
	nc := nomadClient(t)
	var leaked []string
	waitFor(t, time.Minute, "every Nomad job to be purged", func() bool {
		leaked = leakedNomadJobs(t, nc, pids)
		return len(leaked) == 0
	})
	report(t, "kill -9 of orbit up during running jobs",
		fmt.Sprintf("%d pipelines (one 6 s job each) triggered from 10 clients; %d running when `orbit up` was killed %.1f s after the first trigger", n, running, killed.Sub(start).Seconds()),
		fmt.Sprintf("restart to healthy: %.1f s; all %d finished %.1f s after the restart", restarted.Sub(killed).Seconds(), n, finished.Sub(restarted).Seconds()),
		fmt.Sprintf("outcomes: %v; jobs that needed a second attempt: %d (a job whose agent kept running reports after the restart and needs none)", counts, retried),
		"pipeline numbers 1..n without gaps; Nomad jobs left registered: 0")
}

func TestChaosKillNomadDuringJobs(t *testing.T) {
	needChaos(t)
	needEnv(t, "ORBIT_NOMAD_BIN", "make chaos sets it to bin/nomad")
	n := chaosInt(t, "ORBIT_CHAOS_NOMAD_JOBS", 10)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": oneStepConfig("sleep 8; echo finished")})
	dataDir := t.TempDir()
	// NOMAD_ADDR empty: orbit up starts and owns its dev agent.
	p := startOrbit(t, dataDir, freeAddr(t), "NOMAD_ADDR=")
	slug := p.follow(repo, "chaos", "kill-nomad")
	trs := triggerAll(t, p, slug, n, 4)
	pids := ids(trs)
	waitFor(t, 3*time.Minute, "half the jobs to run", func() bool { return countRunning(p.url, pids) >= max(n/2, 1) })
	running := countRunning(p.url, pids)
	agents := nomadAgentPIDs(dataDir)
	require.NotEmpty(t, agents, "the dev agent orbit up started (processes: %v)", processesMentioning(dataDir))
	for _, pid := range agents {
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	}
	killed := time.Now()
	var restartedAt time.Time
	waitFor(t, 2*time.Minute, "orbit up to start its Nomad agent again", func() bool {
		now := nomadAgentPIDs(dataDir)
		if len(now) > 0 && now[0] != agents[0] {
			restartedAt = time.Now()
			return true
		}
		return false
	})

	outs := waitAll(t, p.url, pids, 8*time.Minute)
	counts := statusCounts(outs)
	assert.Equal(t, n, counts["success"], "every pipeline ends success, reported by its agent or retried: %v", counts)
	retried := 0
	for _, o := range outs {
		if attemptsOf(p.url, slug, o.job.JobNumber) > 1 {
			retried++
		}
	}
	p.stop()
	var left []string
	waitFor(t, 30*time.Second, "no process of the run to remain after orbit up stopped", func() bool {
		left = processesMentioning(dataDir)
		return len(left) == 0
	})
	report(t, "kill -9 of the Nomad agent during jobs",
		fmt.Sprintf("%d pipelines (one 8 s job each); %d running when the agent orbit up owns was killed", n, running),
		fmt.Sprintf("agent restarted by orbit up after %.1f s", restartedAt.Sub(killed).Seconds()),
		fmt.Sprintf("outcomes: %v; retried as infrastructure_fail: %d, finished on their first attempt: %d", counts, retried, n-retried),
		"after `orbit up` stopped, no process of its agent (nomad, logmon, executor, build agents) remained")
}

// nomadAgentPIDs finds the `nomad agent` processes whose data directory is
// under dir.
func nomadAgentPIDs(dir string) []int {
	var out []int
	for _, line := range processesMentioning(dir) {
		f := strings.Fields(line)
		if len(f) > 2 && strings.HasSuffix(f[1], "nomad") && f[2] == "agent" {
			if pid, err := strconv.Atoi(f[0]); err == nil {
				out = append(out, pid)
			}
		}
	}
	sort.Ints(out)
	return out
}

// testAgent is a Nomad dev agent a drill starts, stops and starts again on
// the same port and data directory.
type testAgent struct {
	t       *testing.T
	bin     string
	port    int
	dataDir string
	agent   *nomadagent.Agent
}

func startTestAgent(t *testing.T) *testAgent {
	t.Helper()
	port, err := strconv.Atoi(strings.Split(freeAddr(t), ":")[1])
	require.NoError(t, err)
	a := &testAgent{t: t, bin: needEnv(t, "ORBIT_NOMAD_BIN", "make chaos sets it"), port: port, dataDir: t.TempDir()}
	a.start()
	t.Cleanup(a.stop)
	return a
}

func (a *testAgent) addr() string { return "http://127.0.0.1:" + strconv.Itoa(a.port) }

func (a *testAgent) start() {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	agent, err := nomadagent.Start(ctx, nomadagent.Config{Binary: a.bin, DataDir: a.dataDir, HTTPPort: a.port, DieWithParent: true})
	require.NoError(a.t, err)
	a.agent = agent
}

func (a *testAgent) stop() {
	if a.agent != nil {
		_ = a.agent.Stop()
		a.agent = nil
	}
}

// waitReason reads a queued job's details as text (the reason it waits
// is an Orbit extension of the job details).
func waitReason(base, slug string, number int64) string {
	resp, err := http.Get(fmt.Sprintf("%s/api/v2/project/%s/job/%d", base, slug, number))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestChaosNomadStoppedWhileTriggering(t *testing.T) {
	needChaos(t)
	n := chaosInt(t, "ORBIT_CHAOS_OUTAGE_PIPELINES", 50)
	outage := time.Duration(chaosInt(t, "ORBIT_CHAOS_OUTAGE_SECONDS", 60)) * time.Second
	agent := startTestAgent(t)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": oneStepConfig("echo ran after the outage")})
	p := startOrbit(t, t.TempDir(), freeAddr(t), "NOMAD_ADDR="+agent.addr())
	slug := p.follow(repo, "chaos", "outage")

	agent.stop()
	down := time.Now()
	trs := triggerAll(t, p, slug, n, 4)
	pids := ids(trs)
	var sample string
	waitFor(t, time.Minute, "a queued job to say that Nomad is unreachable", func() bool {
		o, ok := readOutcome(p.url, pids[0])
		if !ok {
			return false
		}
		j, ok := firstJob(p.url, o.workflow)
		if !ok || j.JobNumber == 0 {
			return false
		}
		sample = waitReason(p.url, slug, j.JobNumber)
		return strings.Contains(strings.ToLower(sample), "unreachable")
	})
	assert.Zero(t, countRunning(p.url, pids), "nothing runs while Nomad is down")
	// The outage itself is the drill's input, not a wait for a condition.
	time.Sleep(time.Until(down.Add(outage)))
	agent.start()
	back := time.Now()
	outs := waitAll(t, p.url, pids, 5*time.Minute)
	allDone := time.Now()
	counts := statusCounts(outs)
	assert.Equal(t, n, counts["success"], "%v", counts)
	report(t, "Nomad stopped while pipelines are triggered",
		fmt.Sprintf("Nomad stopped for %s; %d pipelines triggered meanwhile, every trigger accepted", outage, n),
		"a queued job's details said why it waited (contains \"unreachable\")",
		fmt.Sprintf("all %d finished %.1f s after Nomad answered again; outcomes %v", n, allDone.Sub(back).Seconds(), counts))
	assert.Less(t, allDone.Sub(back), 90*time.Second, "dispatch resumes within seconds of Nomad's return")
}

func TestChaosReplayedTriggers(t *testing.T) {
	needChaos(t)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": oneStepConfig("echo once")})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "chaos", "replay")
	const distinct, replays = 10, 10
	var (
		mu      sync.Mutex
		byKey   = map[string]map[string]int{}
		errs    []string
		wg      sync.WaitGroup
		replies int
	)
	for k := range distinct {
		key := fmt.Sprintf("chaos-replay-%d", k)
		byKey[key] = map[string]int{}
		for range replays {
			wg.Go(func() {
				tr, err := postTrigger(p.url, slug, http.Header{"Idempotency-Key": {key}})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err.Error())
					return
				}
				replies++
				byKey[key][tr.ID]++
			})
		}
	}
	wg.Wait()
	require.Empty(t, errs)
	var pids []string
	for key, got := range byKey {
		assert.Len(t, got, 1, "every replay of %s answers the same pipeline: %v", key, got)
		for id := range got {
			pids = append(pids, id)
		}
	}
	var page struct {
		Items []struct{ ID string } `json:"items"`
	}
	require.True(t, getJSON(p.url+"/api/v2/project/"+slug+"/pipeline", &page))
	assert.Len(t, page.Items, distinct, "one pipeline per key")
	outs := waitAll(t, p.url, pids, 3*time.Minute)
	assert.Equal(t, distinct, statusCounts(outs)["success"])
	report(t, "replayed triggers",
		fmt.Sprintf("%d distinct triggers, each sent %d times concurrently with the same Idempotency-Key: %d answers, %d pipelines, each ran once", distinct, replays, replies, len(page.Items)),
		"without the header every POST is a new pipeline, as on CircleCI (README, \"Idempotent triggers\")")
}

// gauges are orbit up's runtime gauges (shared/metrics' Runtime*).
type gauges struct {
	goroutines float64
	heapLive   float64 // reachable at the last collection: what a leak grows
	heapInuse  float64 // live plus the garbage since the last collection
}

// runtimeGauges reads orbit up's goroutine and heap gauges from /metrics.
func runtimeGauges(t *testing.T, base string) gauges {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var g gauges
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case metrics.RuntimeGoroutines:
			g.goroutines = v
		case metrics.RuntimeHeapLive:
			g.heapLive = v
		case metrics.RuntimeHeapInuse:
			g.heapInuse = v
		}
	}
	require.NotZero(t, g.goroutines, "orbit up reports %s on /metrics", metrics.RuntimeGoroutines)
	require.NotZero(t, g.heapLive, "orbit up reports %s on /metrics", metrics.RuntimeHeapLive)
	return g
}

// settledGauges samples the gauges until two readings 10 s apart agree on
// goroutines, so a collection in flight does not decide the drill; of the
// heap it keeps the lower readings.
func settledGauges(t *testing.T, base string) gauges {
	t.Helper()
	g := runtimeGauges(t, base)
	for range 6 {
		time.Sleep(11 * time.Second) // the gauges are recorded every 10 s
		g2 := runtimeGauges(t, base)
		if g2.goroutines == g.goroutines {
			return gauges{goroutines: g2.goroutines, heapLive: min(g.heapLive, g2.heapLive), heapInuse: min(g.heapInuse, g2.heapInuse)}
		}
		g = g2
	}
	return g
}

func TestChaosSoak(t *testing.T) {
	needChaos(t)
	total := chaosInt(t, "ORBIT_CHAOS_SOAK_JOBS", 10000)
	const warmup, inflight = 300, 150
	repo := gitRepo(t, map[string]string{".circleci/config.yml": oneStepConfig("true")})
	// At info level, as an installation runs: the debug log of 10,000
	// pipelines (every request) would fill the test's memory.
	p := startOrbit(t, t.TempDir(), freeAddr(t), benchLog)
	slug := p.follow(repo, "chaos", "soak")

	// Keep at most `inflight` pipelines unfinished, so the drill measures
	// Orbit at a steady state rather than Nomad's queue.
	var all []string
	run := func(n int) {
		pending := []string{}
		for sent := 0; sent < n || len(pending) > 0; {
			for sent < n && len(pending) < inflight {
				batch := min(n-sent, inflight-len(pending), 20)
				trs := triggerAll(t, p, slug, batch, 4)
				pending = append(pending, ids(trs)...)
				all = append(all, ids(trs)...)
				sent += batch
			}
			outs := waitAllSome(p.url, pending)
			var still []string
			for _, pid := range pending {
				if o, ok := outs[pid]; ok {
					require.Equal(t, "success", o.status, "pipeline %s", pid)
				} else {
					still = append(still, pid)
				}
			}
			pending = still
		}
	}
	run(warmup)
	s0 := settledGauges(t, p.url)
	start := time.Now()
	run(total - warmup)
	elapsed := time.Since(start)
	s1 := settledGauges(t, p.url)

	nc := nomadClient(t)
	var leaked []string
	waitFor(t, time.Minute, "every Nomad job to be purged", func() bool {
		leaked = leakedNomadJobs(t, nc, all)
		return len(leaked) == 0
	})
	// The live heap, not the heap in use: the latter holds the garbage
	// made since the last collection too, and swings with the collector's
	// pacing (a 10,000-job run read 40 → 180 MB in use while the heap
	// profiles taken every 3 minutes showed 22–39 MB live throughout).
	assert.LessOrEqual(t, s1.goroutines, s0.goroutines+20, "goroutines flat: %v after warm-up, %v at the end", s0.goroutines, s1.goroutines)
	assert.LessOrEqual(t, s1.heapLive, max(2*s0.heapLive, s0.heapLive+64<<20), "live heap flat: %.0f MB after warm-up, %.0f MB at the end", s0.heapLive/1e6, s1.heapLive/1e6)
	report(t, "soak",
		fmt.Sprintf("%d one-step jobs (after a warm-up of %d), at most %d unfinished at a time: %.1f min, %.1f pipelines/s", total-warmup, warmup, inflight, elapsed.Minutes(), float64(total-warmup)/elapsed.Seconds()),
		fmt.Sprintf("goroutines: %.0f after warm-up, %.0f at the end; Go heap live after the last collection: %.1f MB → %.1f MB (in use, with garbage not yet collected: %.1f MB → %.1f MB)",
			s0.goroutines, s1.goroutines, s0.heapLive/1e6, s1.heapLive/1e6, s0.heapInuse/1e6, s1.heapInuse/1e6),
		fmt.Sprintf("every pipeline success; Nomad jobs left registered: %d", len(leaked)))
}

// waitAllSome returns the outcomes of the pipelines that are finished now,
// after waiting a little for some to finish.
func waitAllSome(base string, pids []string) map[string]outcome {
	out := map[string]outcome{}
	deadline := time.Now().Add(10 * time.Second)
	for len(out) == 0 && time.Now().Before(deadline) {
		for _, pid := range pids {
			if o, ok := readOutcome(base, pid); ok && terminalWorkflow(o.status) {
				out[pid] = o
			}
		}
		if len(out) == 0 {
			time.Sleep(500 * time.Millisecond)
		}
	}
	return out
}

func TestChaosRedeliveryStorm(t *testing.T) {
	needChaos(t)
	n := chaosInt(t, "ORBIT_CHAOS_STORM", 500)
	agent := startTestAgent(t)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": oneStepConfig("echo stormed")})
	dataDir, addr := t.TempDir(), freeAddr(t)
	p := startOrbit(t, dataDir, addr, "NOMAD_ADDR="+agent.addr())
	slug := p.follow(repo, "chaos", "storm")

	// With Nomad away the bridge holds every run-queue message it took
	// (invisible, extended); kill -9 then leaves n messages whose
	// visibility runs out together: the storm hits the next bridge.
	agent.stop()
	trs := triggerAll(t, p, slug, n, 8)
	pids := ids(trs)
	waitFor(t, 2*time.Minute, "every job to be queued", func() bool {
		queued := 0
		for _, pid := range pids {
			if o, ok := readOutcome(p.url, pid); ok {
				if j, ok := firstJob(p.url, o.workflow); ok && j.Status == "queued" {
					queued++
				}
			}
		}
		return queued == n
	})
	p.kill9()
	agent.start()
	p = startOrbit(t, dataDir, addr, "NOMAD_ADDR="+agent.addr())
	restarted := time.Now()
	outs := waitAll(t, p.url, pids, 10*time.Minute)
	counts := statusCounts(outs)
	assert.Equal(t, n, counts["success"], "%v", counts)
	// Exactly once: each job has one attempt and Nomad saw one allocation
	// for it.
	nc, err := nomad.NewClient(&nomad.Config{Address: agent.addr()})
	require.NoError(t, err)
	allocs, _, err := nc.Allocations().List(nil)
	require.NoError(t, err)
	perJob := map[string]int{}
	for _, a := range allocs {
		perJob[a.JobID]++
	}
	twice := 0
	for job, c := range perJob {
		if c > 1 {
			twice++
			t.Errorf("Nomad job %s has %d allocations", job, c)
		}
	}
	multi := 0
	for _, o := range outs {
		if attemptsOf(p.url, slug, o.job.JobNumber) > 1 {
			multi++
		}
	}
	assert.Zero(t, multi, "no job needed a second attempt")
	// A dead-lettered message would have left its job queued, and waitAll
	// would have failed naming it.
	report(t, "run-queue redelivery storm",
		fmt.Sprintf("%d messages held by a bridge killed with kill -9 while Nomad was down, visible again at once for the next one", n),
		fmt.Sprintf("all %d pipelines success %.1f s after the restart; jobs with a second attempt: %d; Nomad jobs with more than one allocation: %d; none dead-lettered", n, time.Since(restarted).Seconds(), multi, twice))
}
