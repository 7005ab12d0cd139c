package agent_test

import (
	"context"
	"errors"
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

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/shared/runner"
)

type harness struct {
	srv   *agenttest.Server
	token string
	cfg   agent.Config
}

func newHarness(t *testing.T, spec runner.TaskSpec) *harness {
	t.Helper()
	srv, err := agenttest.New()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	token := "tok-" + strings.ReplaceAll(t.Name(), "/", "-")
	if spec.TaskID == "" {
		spec.TaskID = "task-1"
	}
	srv.Add(token, spec)
	return &harness{srv: srv, token: token, cfg: agent.Config{
		Client:        runner.NewClient(srv.URL, token, nil, runner.WithBackoff(5*time.Millisecond, 50*time.Millisecond)),
		BaseDir:       t.TempDir(),
		ChunkInterval: 50 * time.Millisecond,
	}}
}

func (h *harness) run(t *testing.T) (agent.Outcome, *agenttest.Task) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := agent.Run(ctx, h.cfg)
	if out == agent.OutcomeInfrastructureFail {
		require.Error(t, err)
	} else {
		require.NoError(t, err)
	}
	return out, h.srv.Task(h.token)
}

func run(name, cmd string) runner.Step {
	return runner.Step{Type: runner.StepRun, Name: name, Command: cmd}
}

func gitRepo(t *testing.T) (dir string, revs []string) {
	t.Helper()
	dir = t.TempDir()
	g := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return strings.TrimSpace(string(out))
	}
	g("init", "-q", "-b", "main")
	for i := 1; i <= 2; i++ {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "file.txt"), []byte(fmt.Sprintf("version %d\n", i)), 0o644))
		g("add", "file.txt")
		g("commit", "-q", "-m", fmt.Sprintf("commit %d", i))
		revs = append(revs, g("rev-parse", "HEAD"))
	}
	return dir, revs
}

func TestCheckoutAtRevision(t *testing.T) {
	repo, revs := gitRepo(t)
	tests := []struct {
		name, branch, path, wantBranch string
	}{
		{name: "branch points at the revision", branch: "feature/x", wantBranch: "feature/x"},
		{name: "detached without a branch", wantBranch: "HEAD"},
		{name: "checkout path", branch: "main", path: "src", wantBranch: "main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, runner.TaskSpec{
				Checkout: runner.Checkout{RepoURL: repo, Revision: revs[0], Branch: tt.branch},
				Steps: []runner.Step{
					{Type: runner.StepCheckout, Name: "Checkout code", Path: tt.path},
					run("inspect", "cd ${DIR:-.}; pwd; git rev-parse HEAD; git rev-parse --abbrev-ref HEAD; cat file.txt"),
				},
				Environment: []runner.EnvVar{{Name: "DIR", Value: tt.path}},
			})
			out, task := h.run(t)
			require.Equal(t, agent.OutcomeSuccess, out, task.Output(0))
			assert.Equal(t, runner.StatusSuccess, task.Last(0).Status)
			lines := strings.Split(strings.TrimSpace(task.Output(1)), "\n")
			require.Len(t, lines, 4, task.Output(1))
			assert.Equal(t, filepath.Join(h.cfg.BaseDir, "home", "project", tt.path), lines[0])
			assert.Equal(t, revs[0], lines[1])
			assert.Equal(t, tt.wantBranch, lines[2])
			assert.Equal(t, "version 1", lines[3])
			assert.Contains(t, task.Output(0), "HEAD is now at "+revs[0][:7])
		})
	}
}

func TestCheckoutFailureIsAFailedStep(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{
		Checkout: runner.Checkout{RepoURL: filepath.Join(t.TempDir(), "missing"), Revision: "deadbeef"},
		Steps:    []runner.Step{{Type: runner.StepCheckout}, run("after", "echo never")},
	})
	out, task := h.run(t)
	assert.Equal(t, agent.OutcomeFailed, out)
	assert.Equal(t, runner.StatusFailed, task.Last(0).Status)
	assert.Empty(t, task.Steps[1])
	require.NotNil(t, task.Result)
	assert.Equal(t, runner.StatusFailed, task.Result.Status)
}

func TestEnvironment(t *testing.T) {
	t.Setenv(agent.EnvTaskToken, "agent-secret-token")
	h := newHarness(t, runner.TaskSpec{
		WorkingDirectory: "~/work",
		Environment: []runner.EnvVar{
			{Name: "CIRCLECI", Value: "true"}, {Name: "CIRCLE_BRANCH", Value: "main"},
			{Name: "CIRCLE_NODE_INDEX", Value: "2"}, {Name: "OVERRIDE", Value: "job"},
		},
		Steps: []runner.Step{{
			Type: runner.StepRun, Name: "env",
			Command:     `echo "$CIRCLECI|$CIRCLE_BRANCH|$CIRCLE_NODE_INDEX|$OVERRIDE|$STEP_ONLY|$HOME|$(pwd)|${ORBIT_TASK_TOKEN:-unset}|$0"`,
			Environment: []runner.EnvVar{{Name: "OVERRIDE", Value: "step"}, {Name: "STEP_ONLY", Value: "yes"}},
		}},
	})
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(0))
	f := strings.Split(strings.TrimSpace(task.Output(0)), "|")
	require.Len(t, f, 9, task.Output(0))
	home := filepath.Join(h.cfg.BaseDir, "home")
	assert.Equal(t, []string{"true", "main", "2", "step", "yes", home, filepath.Join(home, "work"), "unset"}, f[:8])
	assert.True(t, strings.HasPrefix(f[8], filepath.Join(h.cfg.BaseDir, "tmp")), "the command runs from a script file: %s", f[8])
}

func TestShellIsBashPipefail(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{run("pipefail", "false | true\necho unreachable")}})
	out, task := h.run(t)
	assert.Equal(t, agent.OutcomeFailed, out)
	assert.NotContains(t, task.Output(0), "unreachable")
	require.NotNil(t, task.Last(0).ExitCode)
	assert.Equal(t, 1, *task.Last(0).ExitCode)
}

func TestWhen(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{
		run("ok", "echo ok"),
		{Type: runner.StepRun, Name: "on_fail before a failure", Command: "echo no", When: "on_fail"},
		run("fails", "exit 3"),
		run("skipped", "echo skipped"),
		{Type: runner.StepRun, Name: "always", Command: "echo always", When: "always"},
		{Type: runner.StepRun, Name: "on_fail", Command: "echo on_fail", When: "on_fail"},
	}})
	out, task := h.run(t)
	assert.Equal(t, agent.OutcomeFailed, out)
	assert.Equal(t, runner.StatusSuccess, task.Last(0).Status)
	assert.Empty(t, task.Steps[1], "on_fail must not run before a failure")
	assert.Equal(t, runner.StatusFailed, task.Last(2).Status)
	require.NotNil(t, task.Last(2).ExitCode)
	assert.Equal(t, 3, *task.Last(2).ExitCode)
	assert.Contains(t, task.Output(2), "Exited with code exit status 3")
	assert.Empty(t, task.Steps[3], "a step after a failure is skipped")
	assert.Equal(t, runner.StatusSuccess, task.Last(4).Status)
	assert.Equal(t, "always\n", task.Output(4))
	assert.Equal(t, runner.StatusSuccess, task.Last(5).Status)
	assert.Equal(t, "on_fail\n", task.Output(5))
	for _, n := range []int{0, 2, 4, 5} {
		reps := task.Steps[n]
		require.Len(t, reps, 2, "step %d: running then terminal", n)
		assert.Equal(t, runner.StatusRunning, reps[0].Status)
		assert.False(t, reps[1].StartedAt.IsZero())
		assert.False(t, reps[1].StoppedAt.Before(reps[1].StartedAt))
	}
	assert.True(t, task.Started)
	require.Len(t, task.Finishes, 1)
	assert.Equal(t, runner.StatusFailed, task.Finishes[0].Result.Status)
}

func TestOutputStreamsDuringTheStep(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{
		run("slow", "for i in $(seq 1 10); do echo line $i; sleep 0.1; done"),
	}})
	h.cfg.ChunkInterval = 100 * time.Millisecond
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out)
	chunks := task.Chunks[0]
	require.GreaterOrEqual(t, len(chunks), 4, "output must arrive in several chunks")
	assert.GreaterOrEqual(t, chunks[len(chunks)-1].At.Sub(chunks[0].At), 500*time.Millisecond,
		"the first chunk must arrive while the step still runs")
	for i, c := range chunks {
		assert.Equal(t, i, c.Seq)
	}
	var want strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	assert.Equal(t, want.String(), task.Output(0))
}

func TestMaxChunk(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{run("big", "head -c 200000 /dev/zero | tr '\\0' x")}})
	h.cfg.MaxChunk = 16 << 10
	h.cfg.ChunkInterval = time.Hour // only size triggers sending before the end
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out)
	assert.Equal(t, strings.Repeat("x", 200000), task.Output(0))
	assert.GreaterOrEqual(t, len(task.Chunks[0]), 200000/(16<<10))
	for _, c := range task.Chunks[0] {
		assert.LessOrEqual(t, len(c.Data), 16<<10)
	}
}

func TestSecretsMaskedAcrossChunks(t *testing.T) {
	const secret = "s3cr3t-v4lue"
	h := newHarness(t, runner.TaskSpec{
		Secrets:     []string{secret, "other-secret"},
		Environment: []runner.EnvVar{{Name: "TOKEN", Value: secret}},
		Steps:       []runner.Step{run("leak", `printf 'a %s b\n' "$TOKEN"; printf 'c s3cr'; sleep 0.5; printf '3t-v4lue d\n'; printf 's3cr'`)},
	})
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out)
	assert.GreaterOrEqual(t, len(task.Chunks[0]), 2, "the secret must have been split by the sleep")
	assert.Equal(t, "a ******** b\nc ******** d\ns3cr", task.Output(0))
	for _, c := range task.Chunks[0] {
		assert.NotContains(t, string(c.Data), secret)
	}
}

func TestNoOutputTimeout(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{
		// 2 s: a shell's start alone took over 300 ms on a loaded machine
		// (the step timed out before its first line).
		{Type: runner.StepRun, Name: "silent", Command: "echo start; sleep 60", NoOutputTimeout: runner.Duration(2 * time.Second)},
		run("skipped", "echo no"),
	}})
	begin := time.Now()
	out, task := h.run(t)
	assert.Less(t, time.Since(begin), 20*time.Second)
	assert.Equal(t, agent.OutcomeFailed, out)
	rep := task.Last(0)
	assert.Equal(t, runner.StatusTimedOut, rep.Status)
	assert.Equal(t, "Too long with no output (exceeded 2s)", rep.Message)
	assert.Contains(t, task.Output(0), "start\n")
	assert.Contains(t, task.Output(0), "\nToo long with no output (exceeded 2s)\n")
	assert.NotContains(t, task.Output(0), "context deadline exceeded", "Go's error text is not for the user")
	assert.Empty(t, task.Steps[1])
}

func TestCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{
		run("sleeps", fmt.Sprintf("sleep 1000 &\necho $! > %s\nwait", pidFile)),
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		out agent.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := agent.Run(ctx, h.cfg)
		done <- result{out, err}
	}()
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	require.True(t, alive(pid), "the child sleep runs")
	cancel()
	var res result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	require.NoError(t, res.err)
	assert.Equal(t, agent.OutcomeCanceled, res.out)
	assert.Eventually(t, func() bool { return !alive(pid) }, 5*time.Second, 10*time.Millisecond,
		"the child sleep %d must be killed with the process group", pid)
	task := h.srv.Task(h.token)
	assert.Equal(t, runner.StatusCanceled, task.Last(0).Status)
	assert.Empty(t, task.Finishes, "a canceled agent leaves the outcome to the bridge and the API")
	assert.Equal(t, 3, agent.ExitCode(res.out))
}

// alive reports whether pid runs (a zombie waiting for its reaper is dead).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
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

func TestBackgroundStepDoesNotBlock(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{
		{Type: runner.StepRun, Name: "server", Command: "echo serving; touch ~/ready; sleep 60", Background: true},
		run("client", "while [ ! -e ~/ready ]; do sleep 0.02; done; echo client"),
	}})
	begin := time.Now()
	out, task := h.run(t)
	assert.Less(t, time.Since(begin), 20*time.Second)
	assert.Equal(t, agent.OutcomeSuccess, out)
	assert.Equal(t, runner.StatusSuccess, task.Last(1).Status)
	assert.Equal(t, runner.StatusCanceled, task.Last(0).Status)
	assert.Equal(t, "background step stopped at the end of the job", task.Last(0).Message)
	assert.Equal(t, "serving\n", task.Output(0))
}

func TestTaskAlreadyTerminal(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{run("x", "echo x")}})
	h.srv.SetResult(h.token, runner.TaskResult{Status: runner.StatusCanceled})
	out, task := h.run(t)
	assert.Equal(t, agent.OutcomeCanceled, out)
	assert.False(t, task.Started)
	assert.Empty(t, task.Steps)
}

func TestRunnerUnreachable(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{run("x", "echo x")}})
	h.srv.SetDown(true)
	h.cfg.Client = runner.NewClient(h.srv.URL, h.token, nil,
		runner.WithBackoff(5*time.Millisecond, 20*time.Millisecond), runner.WithRetryDeadline(100*time.Millisecond))
	out, err := agent.Run(context.Background(), h.cfg)
	assert.Equal(t, agent.OutcomeInfrastructureFail, out)
	assert.ErrorContains(t, err, "503")
	assert.Equal(t, 4, agent.ExitCode(out))
}

func TestRunnerRestartsDuringTheTask(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{run("x", "for i in 1 2 3 4 5; do echo $i; sleep 0.1; done")}})
	go func() {
		time.Sleep(150 * time.Millisecond) // not a wait for a condition: simulates an outage mid-step
		h.srv.SetDown(true)
		time.Sleep(400 * time.Millisecond)
		h.srv.SetDown(false)
	}()
	out, task := h.run(t)
	assert.Equal(t, agent.OutcomeSuccess, out)
	assert.Equal(t, "1\n2\n3\n4\n5\n", task.Output(0))
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		o    agent.Outcome
		code int
	}{
		{"success", agent.OutcomeSuccess, 0},
		{"failed", agent.OutcomeFailed, 1},
		{"canceled", agent.OutcomeCanceled, 3},
		{"infrastructure_fail", agent.OutcomeInfrastructureFail, 4},
		{"unknown", agent.Outcome("weird"), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.code, agent.ExitCode(tt.o))
			if tt.name != "unknown" {
				back, ok := agent.OutcomeOfExitCode(tt.code)
				assert.True(t, ok)
				assert.Equal(t, tt.o, back)
			}
		})
	}
	_, ok := agent.OutcomeOfExitCode(137)
	assert.False(t, ok)
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{agent.EnvRunnerURL: "http://127.0.0.1:1/runner/v1", agent.EnvTaskToken: "t"}
	get := func(k string) string { return env[k] }
	env["NOMAD_TASK_DIR"] = "/nomad/task"
	cfg, err := agent.FromEnv(get)
	require.NoError(t, err)
	assert.Equal(t, "/nomad/task", cfg.BaseDir)
	env[agent.EnvTaskDir] = "/orbit/task"
	cfg, err = agent.FromEnv(get)
	require.NoError(t, err)
	assert.Equal(t, "/orbit/task", cfg.BaseDir)
	assert.NotNil(t, cfg.Client)
	delete(env, agent.EnvTaskToken)
	_, err = agent.FromEnv(get)
	assert.ErrorContains(t, err, agent.EnvTaskToken)
}

func TestLeftoverProcessesDoNotBlockAndAreKilledAtTheEnd(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{
		run("leaves a child holding the output", fmt.Sprintf("sleep 300 &\necho $! > %s\necho done", pidFile)),
		run("next", "echo next"),
	}})
	begin := time.Now()
	out, task := h.run(t)
	assert.Less(t, time.Since(begin), 20*time.Second)
	require.Equal(t, agent.OutcomeSuccess, out)
	assert.Equal(t, "done\n", task.Output(0))
	assert.Equal(t, "next\n", task.Output(1))
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	assert.Eventually(t, func() bool { return !alive(pid) }, 5*time.Second, 10*time.Millisecond,
		"processes a step left behind are killed when the task ends")
}
