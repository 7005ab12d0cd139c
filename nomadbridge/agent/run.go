package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/agent/sshd"
	"github.com/orbit-ci/orbit/shared/runner"
)

// defaultShell is CircleCI's default for run steps.
const defaultShell = "/bin/bash -eo pipefail"

// reportGrace is how long reports may still take once the run is canceled.
const reportGrace = 10 * time.Second

// drainAfterExit is how long output is still read after a step's shell
// exited, when a process it left behind keeps the output pipe open.
const drainAfterExit = 500 * time.Millisecond

// fatalError is a runner API failure the agent cannot work past.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// taskRun is the state of one Run.
type taskRun struct {
	cfg    Config
	spec   runner.TaskSpec
	parent context.Context
	// ctx ends when parent does, or with the cause runner.ErrTaskGone or a
	// *fatalError when the runner API says stop or cannot be reached.
	ctx    context.Context
	cancel context.CancelCauseFunc
	log    *slog.Logger
	mask   *masker
	files  Files

	home, workdir, tmp string
	// bin holds the circleci shim; taskData is CIRCLE_INTERNAL_TASK_DATA.
	bin, taskData string
	// notices are printed once, at the top of the first output.
	notices sync.Once
	// caEnv points the steps' TLS clients at the CA bundle (CACertDir).
	caEnv []runner.EnvVar

	// dockerEnv points the steps after setup_remote_docker at the remote
	// engine (remotedocker.go; r.mu).
	dockerEnv []runner.EnvVar

	ssh *sshd.Server // a rerun with SSH, between enable_ssh and wait_for_ssh (sshaccess.go)

	bgCtx  context.Context // background steps; ended after the last step
	bgStop context.CancelFunc
	bg     sync.WaitGroup

	mu     sync.Mutex
	groups []int // process groups started, killed at the end
	// reporting holds, per step, a channel closed once its "running"
	// report is done: output and the step's final report wait for it.
	reporting map[int]chan struct{}
}

func newTaskRun(parent context.Context, cfg Config, spec runner.TaskSpec) (*taskRun, error) {
	ctx, cancel := context.WithCancelCause(parent)
	r := &taskRun{
		cfg: cfg, spec: spec, parent: parent, ctx: ctx, cancel: cancel,
		log: cfg.Logger.With("pipeline_id", spec.PipelineID, "workflow_id", spec.WorkflowID,
			"job_id", spec.JobID, "task_index", spec.Index, "task_id", spec.TaskID),
		mask:     newMasker(spec.Secrets),
		files:    cfg.Client,
		home:     filepath.Join(cfg.BaseDir, "home"),
		tmp:      filepath.Join(cfg.BaseDir, "tmp"),
		bin:      filepath.Join(cfg.BaseDir, "bin"),
		taskData: filepath.Join(cfg.BaseDir, "task-data"),
	}
	r.bgCtx, r.bgStop = context.WithCancel(ctx)
	wd := spec.WorkingDirectory
	if wd == "" {
		wd = "~/project"
	}
	r.workdir = r.expand(wd, r.home)
	for _, d := range []string{r.home, r.tmp, r.bin, r.taskData} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			cancel(nil)
			return nil, fmt.Errorf("agent: create %s: %w", d, err)
		}
	}
	if err := r.installShim(); err != nil {
		cancel(nil)
		return nil, err
	}
	if err := r.installCABundle(); err != nil {
		cancel(nil)
		return nil, err
	}
	if err := r.installSSH(); err != nil {
		cancel(nil)
		return nil, err
	}
	return r, nil
}

// expand resolves a configured path: "~" is HOME, relative paths are
// relative to base.
func (r *taskRun) expand(p, base string) string {
	switch {
	case p == "~":
		return r.home
	case strings.HasPrefix(p, "~/"):
		return filepath.Join(r.home, p[2:])
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	default:
		return filepath.Join(base, p)
	}
}

// fail stops the run because of a runner API error.
func (r *taskRun) fail(err error) {
	if errors.Is(err, runner.ErrTaskGone) {
		r.cancel(runner.ErrTaskGone)
		return
	}
	if r.ctx.Err() == nil {
		r.log.Error("runner API failed, stopping the task", "error", err)
	}
	r.cancel(&fatalError{err})
}

// reportCtx is the context for a report: the run's, or a short grace once
// the run is canceled so that the last step reports still go out.
func (r *taskRun) reportCtx() (context.Context, context.CancelFunc) {
	if r.ctx.Err() == nil {
		return r.ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(r.ctx), reportGrace)
}

func (r *taskRun) cleanup() {
	r.closeSSH()
	r.bgStop()
	r.bg.Wait()
	r.killAll()
	r.cancel(nil)
}

func (r *taskRun) run() (Outcome, error) {
	r.log.Info("task started", "executor", r.spec.Executor, "image", r.spec.Image, "steps", len(r.spec.Steps))
	if r.cfg.HostDriver != "" && r.spec.Image != "" {
		r.log.Info("host executor: steps run on this machine; the image is recorded, not pulled", "image", r.spec.Image)
	}
	// The test timings are fetched while the start is reported: one round
	// trip less before the first step.
	timings := make(chan struct{})
	go func() { defer close(timings); r.fetchTimings() }()
	err := r.cfg.Client.Start(r.ctx, runner.TaskStart{Host: r.cfg.Host})
	<-timings
	if err != nil {
		r.fail(err)
		return r.stopped()
	}
	r.startPrimaryCommand()
	failed := false
	for i, st := range r.spec.Steps {
		if r.ctx.Err() != nil {
			break
		}
		if !st.Runs(failed) {
			r.log.Info("step skipped", "step", i, "name", st.Name, "when", st.When)
			continue
		}
		if status := r.runStep(i, st); status != runner.StatusSuccess {
			failed = true
		}
		if r.halted() {
			r.log.Info("circleci step halt: no more steps", "step", i)
			break
		}
	}
	r.bgStop()
	r.bg.Wait()
	r.killAll()
	if r.ctx.Err() != nil {
		return r.stopped()
	}
	out := OutcomeSuccess
	if failed {
		out = OutcomeFailed
	}
	err = r.cfg.Client.Finish(r.ctx, runner.TaskResult{Status: string(out)})
	switch {
	case errors.Is(err, runner.ErrTaskGone):
		return OutcomeCanceled, nil
	case err != nil:
		return OutcomeInfrastructureFail, fmt.Errorf("agent: report outcome %s: %w", out, err)
	}
	r.log.Info("task finished", "outcome", out)
	return out, nil
}

// stopped is the outcome of a run whose context ended.
func (r *taskRun) stopped() (Outcome, error) {
	cause := context.Cause(r.ctx)
	var fe *fatalError
	switch {
	case r.parent.Err() != nil:
		r.log.Info("task canceled: the agent was stopped")
		return OutcomeCanceled, nil
	case errors.Is(cause, runner.ErrTaskGone):
		r.log.Info("task canceled: the runner API says it is terminal")
		return OutcomeCanceled, nil
	case errors.As(cause, &fe):
		return OutcomeInfrastructureFail, fmt.Errorf("agent: %w", fe.err)
	default:
		return OutcomeInfrastructureFail, fmt.Errorf("agent: stopped: %w", cause)
	}
}

// prepared is a step ready to start.
type prepared struct {
	argv []string
	dir  string
	env  []string
}

// runStep runs one step and returns its terminal status (background steps:
// success once started).
func (r *taskRun) runStep(i int, st runner.Step) string {
	log := r.log.With("step", i, "name", st.Name, "type", st.Type)
	started := r.cfg.Clock.Now()
	fn, builtin := builtins[st.Type]
	if builtin {
		if err := r.cfg.Client.Step(r.ctx, i, runner.StepReport{Status: runner.StatusRunning, StartedAt: started}); err != nil {
			r.fail(err)
			return runner.StatusCanceled
		}
	} else {
		r.reportRunning(i, started)
	}
	if builtin {
		rep := r.runBuiltin(i, st, fn, runner.StepReport{StartedAt: started})
		log.Info("step ended", "status", rep.Status)
		r.reportStep(i, rep)
		return rep.Status
	}
	p, err := r.prepare(i, st)
	if err != nil {
		log.Warn("step could not start", "error", err)
		s := r.newStreamer(i)
		_, _ = fmt.Fprintf(s, "%v\n", err)
		s.Close()
		r.reportStep(i, runner.StepReport{Status: runner.StatusFailed, StartedAt: started,
			StoppedAt: r.cfg.Clock.Now(), Message: err.Error()})
		return runner.StatusFailed
	}
	noOutput := time.Duration(st.NoOutputTimeout)
	if noOutput <= 0 {
		noOutput = r.cfg.NoOutputTimeout
	}
	if st.Background {
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			s := r.newStreamer(i)
			rep := r.execute(r.bgCtx, s, p, noOutput, started)
			s.Close()
			if rep.Status == runner.StatusCanceled && r.ctx.Err() == nil {
				rep.Message = "background step stopped at the end of the job"
			}
			log.Info("background step ended", "status", rep.Status)
			r.reportStep(i, rep)
		}()
		return runner.StatusSuccess
	}
	s := r.newStreamer(i)
	rep := r.execute(r.ctx, s, p, noOutput, started)
	for try := 1; rep.Status == runner.StatusFailed && try <= st.MaxAutoReruns && r.ctx.Err() == nil; try++ {
		delay := time.Duration(st.AutoRerunDelay)
		_, _ = fmt.Fprintf(s, "\nAutomatic rerun %d of %d (max_auto_reruns) in %s\n\n", try, st.MaxAutoReruns, delay)
		log.Info("step failed: rerunning it", "try", try, "max_auto_reruns", st.MaxAutoReruns)
		select {
		case <-r.ctx.Done():
		case <-time.After(delay):
		}
		if r.ctx.Err() == nil {
			rep = r.execute(r.ctx, s, p, noOutput, started)
		}
	}
	s.Close()
	log.Info("step ended", "status", rep.Status, "exit_code", derefInt(rep.ExitCode))
	r.reportStep(i, rep)
	return rep.Status
}

func derefInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// reportRunning sends step i's "running" report while its process starts
// (a round trip less before the step runs); awaitRunning orders the
// step's output and final report after it, so the runner API sees the same
// sequence. A failed report stops the run (r.fail), which kills the step.
func (r *taskRun) reportRunning(i int, started time.Time) {
	done := make(chan struct{})
	r.mu.Lock()
	if r.reporting == nil {
		r.reporting = map[int]chan struct{}{}
	}
	r.reporting[i] = done
	r.mu.Unlock()
	go func() {
		defer close(done)
		if err := r.cfg.Client.Step(r.ctx, i, runner.StepReport{Status: runner.StatusRunning, StartedAt: started}); err != nil {
			r.fail(err)
		}
	}()
}

// awaitRunning waits until step i's "running" report is done.
func (r *taskRun) awaitRunning(i int) {
	r.mu.Lock()
	ch := r.reporting[i]
	r.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (r *taskRun) reportStep(i int, rep runner.StepReport) {
	r.awaitRunning(i)
	ctx, cancel := r.reportCtx()
	defer cancel()
	if err := r.cfg.Client.Step(ctx, i, rep); err != nil && r.ctx.Err() == nil {
		r.fail(err)
	}
}

func (r *taskRun) newStreamer(i int) *streamer {
	// Output posts get a short grace after cancellation too.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.ctx))
	stop := context.AfterFunc(r.ctx, func() { time.AfterFunc(reportGrace, cancel) })
	s := newStreamer(ctx, func(ctx context.Context, seq int, data []byte) error {
		r.awaitRunning(i)
		return r.cfg.Client.StepOutput(ctx, i, seq, data)
	}, r.cfg.ChunkInterval, r.cfg.MaxChunk, r.cfg.MaxStepOutput, r.mask, r.fail)
	r.notices.Do(func() {
		for _, n := range append(hostNotices(r.spec, r.cfg.HostDriver, r.cfg.Host), r.spec.Notices...) {
			_, _ = fmt.Fprintln(s, n)
		}
	})
	go func() {
		<-s.done
		stop()
		cancel()
	}()
	return s
}

// prepare writes the step's script and computes its command, directory and
// environment.
func (r *taskRun) prepare(i int, st runner.Step) (prepared, error) {
	env := r.withShim(r.stepEnv(st.Environment))
	switch st.Type {
	case runner.StepCheckout:
		dest := r.workdir
		if st.Path != "" {
			dest = r.expand(st.Path, r.workdir)
		}
		script, err := r.writeScript(i, checkoutScript)
		if err != nil {
			return prepared{}, err
		}
		co := r.spec.Checkout
		env = mergeEnv(env, []runner.EnvVar{
			{Name: "ORBIT_CHECKOUT_REPO", Value: co.RepoURL},
			{Name: "ORBIT_CHECKOUT_REVISION", Value: co.Revision},
			{Name: "ORBIT_CHECKOUT_BRANCH", Value: co.Branch},
			{Name: "ORBIT_CHECKOUT_TAG", Value: co.Tag},
			{Name: "ORBIT_CHECKOUT_DEST", Value: dest},
			{Name: "ORBIT_CHECKOUT_FILTER", Value: cloneFilter(st.Method)},
			{Name: "GIT_TERMINAL_PROMPT", Value: "0"},
		}, tokenEnv(co))
		return prepared{argv: []string{"/bin/sh", "-e", script}, dir: r.home, env: env}, nil
	case runner.StepRun:
		dir := r.workdir
		if st.WorkingDirectory != "" {
			dir = r.expand(st.WorkingDirectory, r.workdir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return prepared{}, fmt.Errorf("create working directory %s: %w", dir, err)
		}
		shell := st.Shell
		if shell == "" {
			shell = r.spec.Shell
		}
		if shell == "" {
			shell = defaultShell
		}
		script, err := r.writeScript(i, st.Command)
		if err != nil {
			return prepared{}, err
		}
		return prepared{argv: append(strings.Fields(shell), script), dir: dir, env: env}, nil
	default:
		return prepared{}, fmt.Errorf("step type %q is not supported by this agent", st.Type)
	}
}

// stepEnv is the environment steps start from: the base environment, HOME,
// the CA bundle's variables, the job's environment, then extra layers.
func (r *taskRun) stepEnv(extra ...[]runner.EnvVar) []string {
	base := slices.Concat(r.cfg.BaseEnv, []string{"HOME=" + r.home})
	r.mu.Lock()
	docker := r.dockerEnv
	r.mu.Unlock()
	return mergeEnv(base, append([][]runner.EnvVar{r.caEnv, r.spec.Environment, docker}, extra...)...)
}

func (r *taskRun) writeScript(i int, body string) (string, error) {
	f, err := os.CreateTemp(r.tmp, fmt.Sprintf("step-%d-*.sh", i))
	if err != nil {
		return "", fmt.Errorf("write step script: %w", err)
	}
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	_, werr := f.WriteString(body)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(f.Name(), 0o700)); err != nil {
		return "", fmt.Errorf("write step script: %w", err)
	}
	return f.Name(), nil
}

// execute runs a prepared step until it exits, goes silent for noOutput, or
// ctx ends, and returns its terminal report; its output goes to s.
func (r *taskRun) execute(ctx context.Context, s *streamer, p prepared, noOutput time.Duration, started time.Time) runner.StepReport {
	rep := runner.StepReport{StartedAt: started}
	pr, pw, err := os.Pipe()
	if err != nil {
		rep.Status, rep.StoppedAt, rep.Message = runner.StatusFailed, r.cfg.Clock.Now(), fmt.Sprintf("create output pipe: %v", err)
		return rep
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.dir, p.env, pw, pw
	cmd.SysProcAttr = newProcessGroup()
	err = cmd.Start()
	_ = pw.Close()
	if err != nil {
		_ = pr.Close()
		_, _ = fmt.Fprintf(s, "cannot start %s: %v\n", p.argv[0], err)
		code := 127
		rep.Status, rep.ExitCode, rep.StoppedAt = runner.StatusFailed, &code, r.cfg.Clock.Now()
		rep.Message = fmt.Sprintf("cannot start %s: %v", p.argv[0], err)
		return rep
	}
	pgid := cmd.Process.Pid
	r.track(pgid)

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(s, pr)
	}()
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_ = cmd.Wait()
	}()

	timer := time.NewTimer(noOutput)
	defer timer.Stop()
	var timedOut, canceled bool
	done := ctx.Done()
wait:
	for {
		select {
		case <-exited:
			break wait
		case <-s.activity:
			if !timedOut {
				timer.Reset(noOutput)
			}
		case <-timer.C:
			timedOut = true
			r.killGroup(pgid, exited, r.cfg.KillGrace)
		case <-done:
			done = nil
			canceled = !timedOut
			r.killGroup(pgid, exited, r.cfg.KillGrace)
		}
	}
	_ = pr.SetReadDeadline(time.Now().Add(drainAfterExit))
	<-copied
	_ = pr.Close()
	rep.StoppedAt = r.cfg.Clock.Now()
	code := exitCode(cmd.ProcessState)
	switch {
	case timedOut:
		rep.Status = runner.StatusTimedOut
		rep.Message = fmt.Sprintf("Too long with no output (exceeded %s)", noOutput)
		_, _ = fmt.Fprintf(s, "\n%s\n", rep.Message)
	case canceled:
		rep.Status, rep.Message = runner.StatusCanceled, "canceled"
	case code == 0:
		rep.Status, rep.ExitCode = runner.StatusSuccess, &code
	default:
		rep.Status, rep.ExitCode = runner.StatusFailed, &code
		_, _ = fmt.Fprintf(s, "\nExited with code exit status %d\n", code)
	}
	return rep
}

// exitCode is the shell's exit status, 128+signal when it was killed.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if sig, ok := signaled(ps); ok {
		return 128 + sig
	}
	return ps.ExitCode()
}

func (r *taskRun) track(pgid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = append(r.groups, pgid)
}

// killAll kills what is left of every process group the task started
// (processes steps left running in the background with `&`).
func (r *taskRun) killAll() {
	r.mu.Lock()
	groups := r.groups
	r.groups = nil
	r.mu.Unlock()
	for _, g := range groups {
		killGroupNow(g)
	}
}

// killGroup sends SIGTERM to the group, waits for the leader to exit or the
// grace to pass, then SIGKILLs whatever is left of the group.
func (r *taskRun) killGroup(pgid int, exited <-chan struct{}, grace time.Duration) {
	termGroup(pgid)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
	}
	killGroupNow(pgid)
}

// cloneFilter is git's partial-clone filter for checkout's method:
// "blobless" fetches file contents only as the checkout needs them (servers
// that do not support filters send everything, with a warning).
func cloneFilter(method string) string {
	if method == "blobless" {
		return "blob:none"
	}
	return ""
}

// checkoutScript clones Checkout.RepoURL into the destination (or updates an
// existing clone) and checks out the revision, pointing the branch at it.
// Values come from the environment so nothing needs quoting.
const checkoutScript = `dest="$ORBIT_CHECKOUT_DEST"
if [ -d "$dest/.git" ]; then
  echo "Updating the existing checkout in $dest"
  git -C "$dest" remote set-url origin "$ORBIT_CHECKOUT_REPO"
  git -C "$dest" fetch --force --tags origin
else
  if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then
    echo "Directory $dest exists and is not empty, and is not a git checkout" >&2
    exit 1
  fi
  mkdir -p "$dest"
  if [ -n "$ORBIT_CHECKOUT_FILTER" ]; then
    git clone --no-checkout --filter="$ORBIT_CHECKOUT_FILTER" "$ORBIT_CHECKOUT_REPO" "$dest"
  else
    git clone --no-checkout "$ORBIT_CHECKOUT_REPO" "$dest"
  fi
fi
cd "$dest"
rev="$ORBIT_CHECKOUT_REVISION"
if [ -z "$rev" ]; then
  if [ -n "$ORBIT_CHECKOUT_BRANCH" ]; then rev="origin/$ORBIT_CHECKOUT_BRANCH"
  elif [ -n "$ORBIT_CHECKOUT_TAG" ]; then rev="refs/tags/$ORBIT_CHECKOUT_TAG"
  else rev="origin/HEAD"; fi
fi
if ! git cat-file -e "$rev^{commit}" 2>/dev/null; then
  git fetch --force origin "$rev"
fi
if [ -n "$ORBIT_CHECKOUT_BRANCH" ]; then
  git checkout --force -B "$ORBIT_CHECKOUT_BRANCH" "$rev"
else
  git checkout --force --detach "$rev"
fi
git --no-pager log --no-color -n 1 --format='HEAD is now at %h %s'
`
