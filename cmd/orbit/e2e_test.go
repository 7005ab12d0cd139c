package main

// End-to-end tests: the real orbit binary (ORBIT_BIN, built by make test) runs
// `orbit up` against the real Nomad agent that make test starts (NOMAD_ADDR),
// and the tests drive it through its API as a user would.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv"
)

// needEnv returns an environment variable a test needs. Locally a missing
// one skips the test with the reason; in CI (CI set) it fails it, because
// make test starts every service and a skip there hides a defect.
func needEnv(t testing.TB, name, why string) string {
	t.Helper()
	return testenv.Need(t, name, why)
}

// orbitProc is a running `orbit up`.
type orbitProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	url     string
	addr    string
	dataDir string
	log     *testenv.Buffer
	// token is the local admin's CLI token (registerToken).
	token  string
	exited chan struct{}
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func startOrbit(t testing.TB, dataDir, addr string, env ...string) *orbitProc {
	t.Helper()
	return startOrbitUntil(t, dataDir, addr, http.StatusOK, env...)
}

// startOrbitUntil starts orbit up and waits until /health-check answers
// want: 200 when every dependency is up, 500 when the test keeps one down
// on purpose (Nomad unreachable) and only needs the API to serve.
func startOrbitUntil(t testing.TB, dataDir, addr string, want int, env ...string) *orbitProc {
	t.Helper()
	bin := needEnv(t, "ORBIT_BIN", "make test builds bin/orbit and sets it")
	needEnv(t, "NOMAD_ADDR", "make test starts a Nomad agent")
	p := &orbitProc{t: t, addr: addr, url: "http://" + addr, dataDir: dataDir, log: &testenv.Buffer{}, exited: make(chan struct{})}
	// Tests read the debug log; benchmarks pass ORBIT_LOG_LEVEL=info, as
	// an installation runs (debug logs every request).
	level := "debug"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "ORBIT_LOG_LEVEL="); ok {
			level = v
		}
	}
	p.cmd = exec.Command(bin, "up", "--addr", addr, "--data", dataDir, "--log-level", level)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("orbit up log:\n%s", p.log.String())
		}
	})
	p.waitHealth(want)
	p.token = registerToken(t, dataDir, addr)
	return p
}

func (p *orbitProc) waitHealthy() { p.t.Helper(); p.waitHealth(http.StatusOK) }

func (p *orbitProc) waitHealth(want int) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			p.t.Fatalf("orbit up exited: %s", p.log.String())
		default:
		}
		resp, err := http.Get(p.url + "/health-check")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("orbit up's /health-check did not answer %d within 30s: %s", want, p.log.String())
}

func (p *orbitProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *orbitProc) kill9() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func (p *orbitProc) do(method, path string, body, out any) int {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(p.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.url+path, rd)
	require.NoError(p.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(p.t, json.Unmarshal(data, out), string(data))
	}
	if out != nil && resp.StatusCode >= 300 {
		_ = json.Unmarshal(data, out)
	}
	return resp.StatusCode
}

func (p *orbitProc) text(path string) string {
	p.t.Helper()
	resp, err := http.Get(p.url + path)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	require.Equal(p.t, 200, resp.StatusCode, string(b))
	return string(b)
}

// gitRepo makes a repository with files committed on main.
func gitRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		require.NoError(t, os.WriteFile(path, []byte(content), mode))
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"}} {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	return dir
}

type e2eWorkflow struct {
	ID, Name, Status string
}

type e2eJob struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	JobNumber int64  `json:"job_number"`
}

func (p *orbitProc) follow(repo, org, name string) string {
	p.t.Helper()
	var proj struct {
		Slug    string `json:"slug"`
		Message string `json:"message"`
	}
	code := p.do("POST", "/api/v2/project", map[string]string{"path": repo, "org": org, "name": name}, &proj)
	require.Equal(p.t, 201, code, proj.Message)
	return proj.Slug
}

func (p *orbitProc) trigger(slug, branch string) string {
	p.t.Helper()
	var pl struct {
		ID      string `json:"id"`
		Number  int64  `json:"number"`
		Message string `json:"message"`
	}
	code := p.do("POST", "/api/v2/project/"+slug+"/pipeline", map[string]string{"branch": branch}, &pl)
	require.Equal(p.t, 201, code, pl.Message)
	return pl.ID
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", limit, what)
}

func (p *orbitProc) workflows(pid string) []e2eWorkflow {
	var page struct{ Items []e2eWorkflow }
	p.do("GET", "/api/v2/pipeline/"+pid+"/workflow", nil, &page)
	return page.Items
}

func (p *orbitProc) jobs(wid string) map[string]e2eJob {
	var page struct{ Items []e2eJob }
	p.do("GET", "/api/v2/workflow/"+wid+"/job", nil, &page)
	m := map[string]e2eJob{}
	for _, j := range page.Items {
		m[j.Name] = j
	}
	return m
}

// waitWorkflowDone waits until the pipeline's single workflow is terminal.
func (p *orbitProc) waitWorkflowDone(pid string, limit time.Duration) e2eWorkflow {
	p.t.Helper()
	var wf e2eWorkflow
	waitFor(p.t, limit, "workflow of pipeline "+pid+" to finish", func() bool {
		wfs := p.workflows(pid)
		if len(wfs) != 1 {
			return false
		}
		wf = wfs[0]
		return terminalWorkflow(wf.Status)
	})
	return wf
}

const diamondConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - run:
          name: Build
          command: echo "built $CIRCLE_PROJECT_REPONAME on $CIRCLE_BRANCH node $CIRCLE_NODE_INDEX/$CIRCLE_NODE_TOTAL" && test -f README.md
  test-a:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - run: ./test.sh a
  test-b:
    docker: [{image: cimg/base:stable}]
    environment: {SUITE: b}
    steps:
      - checkout
      - run:
          name: Test b
          command: ./test.sh "$SUITE" && echo "suite b is broken" && exit 1
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo deploying
workflows:
  ci:
    jobs:
      - build
      - test-a: {requires: [build]}
      - test-b: {requires: [build]}
      - deploy: {requires: [test-a, test-b]}
`

func TestE2EDiamondWorkflow(t *testing.T) {
	repo := gitRepo(t, map[string]string{
		".circleci/config.yml": diamondConfig,
		"README.md":            "sample\n",
		"test.sh":              "#!/bin/bash\necho \"running suite $1 in $PWD\"\n",
	})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "shop")
	assert.Equal(t, "local/acme/shop", slug)
	pid := p.trigger(slug, "main")

	wf := p.waitWorkflowDone(pid, 2*time.Minute)
	assert.Equal(t, "failed", wf.Status)
	jobs := p.jobs(wf.ID)
	assert.Equal(t, "success", jobs["build"].Status)
	assert.Equal(t, "success", jobs["test-a"].Status)
	assert.Equal(t, "failed", jobs["test-b"].Status)
	assert.Equal(t, "not_run", jobs["deploy"].Status)

	var pl struct {
		State  string
		Number int64
		VCS    struct{ Revision string } `json:"vcs"`
	}
	require.Equal(t, 200, p.do("GET", "/api/v2/pipeline/"+pid, nil, &pl))
	assert.Equal(t, "created", pl.State)
	assert.Len(t, pl.VCS.Revision, 40)

	// Each job's step output is readable through the API.
	for name, want := range map[string]string{
		"build":  "built shop on main node 0/1",
		"test-a": "running suite a in ",
		"test-b": "suite b is broken",
	} {
		var job struct {
			Status string `json:"status"`
		}
		num := jobs[name].JobNumber
		require.NotZero(t, num, name)
		require.Equal(t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/job/%d", slug, num), nil, &job))
		assert.Equal(t, jobs[name].Status, job.Status)
		var steps struct {
			Items []struct {
				Index   int
				Name    string
				Actions []struct {
					Status   string `json:"status"`
					ExitCode *int   `json:"exit_code"`
				}
			}
		}
		require.Equal(t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/job/%d/steps", slug, num), nil, &steps))
		require.Len(t, steps.Items, 2, name)
		last := steps.Items[1]
		out := p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=%d&task=0", slug, num, last.Index))
		assert.Contains(t, out, want, name)
		require.Len(t, last.Actions, 1)
		require.NotNil(t, last.Actions[0].ExitCode)
		if name == "test-b" {
			assert.Equal(t, 1, *last.Actions[0].ExitCode)
			assert.Equal(t, "failed", last.Actions[0].Status)
		} else {
			assert.Equal(t, 0, *last.Actions[0].ExitCode)
		}
	}

	// The pipeline page shows pipeline → workflow → jobs (steps and their
	// output are the job page's, read through the API above).
	page := p.text("/ui/pipeline/" + pid)
	for _, want := range []string{"ci", "build", "test-a", "test-b", "deploy", "not_run", "failed"} {
		assert.Contains(t, page, want)
	}
}

func TestE2EErroredPipelines(t *testing.T) {
	repo := gitRepo(t, map[string]string{
		".circleci/config.yml": "version: 2.1\njobs:\n  build:\n    docker: [{image: x}]\n    steps: [checkout]\nworkflows:\n  w:\n    jobs:\n      - build:\n          requires: [compile]\n",
	})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "broken")

	var missing struct{ Message string }
	assert.Equal(t, 404, p.do("POST", "/api/v2/project/local/nobody/nothing/pipeline", map[string]string{"branch": "main"}, &missing))
	assert.NotEmpty(t, missing.Message)

	for _, tc := range []struct{ branch, want string }{
		{"main", `line 10`},
		{"no-such-branch", "revision not found"},
	} {
		pid := p.trigger(slug, tc.branch)
		var pl struct {
			State  string
			Errors []struct{ Type, Message string }
		}
		waitFor(t, 30*time.Second, "pipeline to error", func() bool {
			p.do("GET", "/api/v2/pipeline/"+pid, nil, &pl)
			return pl.State == "errored"
		})
		require.NotEmpty(t, pl.Errors)
		msg := pl.Errors[0].Message
		if tc.want == "line 10" {
			assert.Contains(t, msg, ".circleci/config.yml:10:")
			assert.Contains(t, msg, "compile")
		} else {
			assert.Contains(t, msg, tc.want)
		}
	}
}

func TestE2ECrashRecovery(t *testing.T) {
	repo := gitRepo(t, map[string]string{
		".circleci/config.yml": `version: 2.1
jobs:
  slow:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 1; done
  after:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo after the crash
workflows:
  w:
    jobs:
      - slow
      - after: {requires: [slow]}
`,
	})
	dataDir, addr := t.TempDir(), freeAddr(t)
	p := startOrbit(t, dataDir, addr)
	slug := p.follow(repo, "acme", "crash")
	pid := p.trigger(slug, "main")
	waitFor(t, time.Minute, "slow to run", func() bool {
		wfs := p.workflows(pid)
		return len(wfs) == 1 && p.jobs(wfs[0].ID)["slow"].Status == "running"
	})
	p.kill9()
	time.Sleep(2 * time.Second) // the agent keeps running and retries its reports
	p = startOrbit(t, dataDir, addr)

	wf := p.waitWorkflowDone(pid, 2*time.Minute)
	assert.Equal(t, "success", wf.Status)
	jobs := p.jobs(wf.ID)
	assert.Equal(t, "success", jobs["slow"].Status)
	assert.Equal(t, "success", jobs["after"].Status)
	out := p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=0&task=0", slug, jobs["slow"].JobNumber))
	assert.Contains(t, out, "tick 1")
	assert.Contains(t, out, "tick 6")
}

var _ = context.Background
