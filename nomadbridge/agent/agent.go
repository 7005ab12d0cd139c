// Package agent is Orbit's build agent: the process that runs one task's
// steps inside a Nomad allocation (or on a VM) and reports everything to the
// runner API with the task's token. It is started as `orbit agent`.
//
//	GET /task ──410──▶ exit 3 (task already terminal, nothing to do)
//	    │ spec
//	POST /task/start
//	    │
//	GET /task/timings ──▶ task data dir (for `circleci tests split`)
//	    │
//	for each step ──▶ skip? (when: on_success after a failure, on_fail without one)
//	    │  POST /task/steps/{n} running
//	    │  run: <shell> <script file>, own process group, stdout+stderr merged
//	    │       ──▶ masked output chunks POST /task/steps/{n}/output?seq=K
//	    │           (every ChunkInterval, or when MaxChunk bytes are waiting;
//	    │           cut with a notice past MaxStepOutput)
//	    │  built-in steps (caches, workspace, artifacts, test results, ssh
//	    │       keys) run in the agent, objects through presigned URLs
//	    │  POST /task/steps/{n} success | failed | timedout (exit code, times)
//	    │  `circleci step halt` ran? ──▶ no more steps, the task succeeds
//	    ▼
//	POST /task/finish success | failed ──▶ exit 0 | 1
//
// The exit code (ExitCode) carries the outcome to nomadbridge too, which
// reads it from the allocation when the agent could not report. When the
// agent's context is canceled (Nomad stops the allocation, or a user
// canceled the task and the API answers 410) it kills every process group it
// started, reports the running step as canceled, does not POST
// /task/finish, and exits 3: whether that is a cancellation or an
// infrastructure failure is for the bridge and the API to decide, not the
// agent. When the runner API stays unreachable past the client's retry
// deadline the agent gives up and exits 4 (infrastructure_fail).
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/cacerts"
	"github.com/orbit-ci/orbit/shared/clock"
	"github.com/orbit-ci/orbit/shared/runner"
)

// Runner is the part of the runner API the agent uses; *runner.Client
// satisfies it.
type Runner interface {
	Task(ctx context.Context) (runner.TaskSpec, error)
	Start(ctx context.Context, s runner.TaskStart) error
	StepOutput(ctx context.Context, step, seq int, data []byte) error
	Step(ctx context.Context, n int, r runner.StepReport) error
	Finish(ctx context.Context, r runner.TaskResult) error
	Files
}

var _ Runner = (*runner.Client)(nil)

// Clock tells the time of step reports; tests may fix it.
type Clock interface {
	Now() time.Time
}

// Config configures one agent run.
type Config struct {
	// Client talks to the runner API with the task's token. Required.
	Client Runner
	// BaseDir is the task's own directory. "~" in working directories
	// expands to BaseDir/home, which is also HOME; step scripts are written
	// under BaseDir/tmp. Required.
	BaseDir string
	// ChunkInterval is the longest a step's output waits before it is sent
	// (default 250ms).
	ChunkInterval time.Duration
	// MaxChunk is the largest output chunk in bytes; a chunk is sent as soon
	// as this much is waiting (default 64 KiB).
	MaxChunk int
	// MaxStepOutput caps a step's output in bytes; past it a truncation
	// line is sent and the rest discarded (default 32 MiB).
	MaxStepOutput int64
	// Shim is the executable that acts as the `circleci` command when run
	// under that name; the agent links it into a bin directory at the front
	// of the steps' PATH (default: the agent's own executable).
	Shim string
	// NoOutputTimeout applies to steps that set none (default 10m, as
	// CircleCI).
	NoOutputTimeout time.Duration
	// KillGrace is how long a process group has between SIGTERM and SIGKILL
	// when a step is canceled or times out (default 2s; keep it well below
	// the Nomad task's kill_timeout).
	KillGrace time.Duration
	// Host names where the task runs, for POST /task/start (default: the
	// host name).
	Host string
	// CACertDir holds extra CA certificates: steps get a bundle of the
	// system's roots and these (SSL_CERT_FILE, GIT_SSL_CAINFO, …).
	CACertDir string
	// HostDriver is set when the agent runs on the host executor (the
	// Nomad driver, e.g. raw_exec): the job's output then starts with a
	// notice that its image or VM was not used.
	HostDriver string
	// BaseEnv is the environment every step starts from (default: PATH,
	// LANG, TZ, USER and a few more from the agent's own environment; never
	// the agent's credentials). HOME is always set to BaseDir/home.
	BaseEnv []string
	// Logger receives the agent's own log lines (default: discarded). Never
	// given secrets or the token.
	Logger *slog.Logger
	// Clock dates step reports (default: the real clock).
	Clock Clock
	// SSHAddr is where a rerun with SSH listens (host:port; from Nomad's
	// port "ssh"), and SSHHost the host its ssh line names (default: the
	// listener's address). Empty: the job cannot be rerun with SSH here.
	SSHAddr, SSHHost string
	// RemoteDocker is the job's remote Docker engine, leased by the bridge
	// (nil: setup_remote_docker says there is none).
	RemoteDocker *RemoteDocker
}

// Outcome is how a task ended, as far as the agent knows.
type Outcome string

// Outcomes, spelled as the runner API's task statuses.
const (
	OutcomeSuccess            Outcome = runner.StatusSuccess
	OutcomeFailed             Outcome = runner.StatusFailed
	OutcomeCanceled           Outcome = runner.StatusCanceled
	OutcomeInfrastructureFail Outcome = runner.StatusInfrastructureFail
)

// Exit codes of `orbit agent`, read back by nomadbridge from the allocation.
const (
	ExitSuccess            = 0
	ExitFailed             = 1
	ExitCanceled           = 3
	ExitInfrastructureFail = 4
)

// ExitCode maps an outcome to the agent's process exit code.
func ExitCode(o Outcome) int {
	switch o {
	case OutcomeSuccess:
		return ExitSuccess
	case OutcomeFailed:
		return ExitFailed
	case OutcomeCanceled:
		return ExitCanceled
	default:
		return ExitInfrastructureFail
	}
}

// OutcomeOfExitCode is ExitCode's inverse; ok is false for codes the agent
// never uses (a crash, a signal).
func OutcomeOfExitCode(code int) (o Outcome, ok bool) {
	switch code {
	case ExitSuccess:
		return OutcomeSuccess, true
	case ExitFailed:
		return OutcomeFailed, true
	case ExitCanceled:
		return OutcomeCanceled, true
	case ExitInfrastructureFail:
		return OutcomeInfrastructureFail, true
	}
	return OutcomeInfrastructureFail, false
}

// Environment variables read by FromEnv.
const (
	EnvRunnerURL = "ORBIT_RUNNER_URL"
	EnvTaskToken = "ORBIT_TASK_TOKEN"
	EnvTaskDir   = "ORBIT_TASK_DIR"
	// EnvCACertDir names a directory of extra CA certificates the agent
	// and the steps trust.
	EnvCACertDir = "ORBIT_CA_CERT_DIR"
	// EnvOutputInterval sets Config.ChunkInterval (a duration such as 10s):
	// the bridge of the aws shape sends a longer one, so that a step's
	// output is fewer, larger requests through API Gateway and Lambda.
	EnvOutputInterval = "ORBIT_OUTPUT_INTERVAL"
)

// FromEnv builds a Config from the environment Nomad (or the VM launcher)
// gives `orbit agent`: ORBIT_RUNNER_URL, ORBIT_TASK_TOKEN and ORBIT_TASK_DIR
// (falling back to NOMAD_TASK_DIR, then a new temporary directory).
func FromEnv(getenv func(string) string) (Config, error) {
	return fromEnv(getenv, nil)
}

func fromEnv(getenv func(string) string, log *slog.Logger) (Config, error) {
	url, token := getenv(EnvRunnerURL), getenv(EnvTaskToken)
	if url == "" || token == "" {
		return Config{}, fmt.Errorf("agent: %s and %s must be set", EnvRunnerURL, EnvTaskToken)
	}
	dir := getenv(EnvTaskDir)
	if dir == "" {
		dir = getenv("NOMAD_TASK_DIR")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "orbit-task-")
		if err != nil {
			return Config{}, fmt.Errorf("agent: create task directory: %w", err)
		}
		dir = d
	}
	host, _ := os.Hostname()
	if alloc := getenv("NOMAD_ALLOC_ID"); alloc != "" {
		host = fmt.Sprintf("%s (nomad allocation %s)", host, alloc)
	}
	var opts []runner.ClientOption
	if log != nil {
		opts = append(opts, runner.WithLogger(log))
	}
	caDir := getenv(EnvCACertDir)
	tr, err := cacerts.Transport(caDir)
	if err != nil {
		return Config{}, fmt.Errorf("agent: %w", err)
	}
	var interval time.Duration
	if v := getenv(EnvOutputInterval); v != "" {
		if interval, err = time.ParseDuration(v); err != nil || interval <= 0 {
			return Config{}, fmt.Errorf("agent: %s=%q: want a positive duration such as 10s", EnvOutputInterval, v)
		}
	}
	sshAddr, sshHost := sshAddrFromEnv(getenv)
	return Config{
		RemoteDocker:  remoteDockerFromEnv(getenv),
		SSHAddr:       sshAddr,
		SSHHost:       sshHost,
		ChunkInterval: interval,
		Client:        runner.NewClient(url, token, &http.Client{Transport: tr, Timeout: 60 * time.Second}, opts...),
		CACertDir:     caDir,
		BaseDir:       dir,
		Host:          host,
		HostDriver:    getenv(EnvHostDriver),
		Logger:        log,
	}, nil
}

// Main runs the agent as `orbit agent` does and returns the process exit
// code; cmd/orbit passes it to os.Exit. Logs go to stderr as text.
func Main(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if getenv(EnvWarmClaimURL) != "" {
		tok, err := claimWarm(ctx, getenv, log)
		switch {
		case errors.Is(err, ErrRetired):
			log.Info("warm agent retired before it got a task")
			return ExitSuccess
		case ctx.Err() != nil:
			return ExitCanceled
		case err != nil:
			log.Error("warm agent cannot claim a task", "error", err)
			return ExitInfrastructureFail
		}
		getenv = withTaskToken(getenv, tok)
	}
	cfg, err := fromEnv(getenv, log)
	if err != nil {
		log.Error("cannot start the build agent", "error", err)
		return ExitInfrastructureFail
	}
	out, err := Run(ctx, cfg)
	if err != nil {
		log.Error("build agent stopped", "outcome", out, "error", err)
	} else {
		log.Info("build agent done", "outcome", out)
	}
	return ExitCode(out)
}

func (c *Config) defaults() error {
	if c.Client == nil {
		return errors.New("agent: Config.Client is required")
	}
	if c.BaseDir == "" {
		return errors.New("agent: Config.BaseDir is required")
	}
	abs, err := filepath.Abs(c.BaseDir)
	if err != nil {
		return fmt.Errorf("agent: base directory: %w", err)
	}
	c.BaseDir = abs
	if c.ChunkInterval <= 0 {
		c.ChunkInterval = 250 * time.Millisecond
	}
	if c.MaxChunk <= 0 {
		c.MaxChunk = 64 << 10
	}
	if c.MaxStepOutput <= 0 {
		c.MaxStepOutput = 32 << 20
	}
	if c.Shim == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("agent: find the circleci shim: %w", err)
		}
		c.Shim = exe
	}
	if c.NoOutputTimeout <= 0 {
		c.NoOutputTimeout = 10 * time.Minute
	}
	if c.KillGrace <= 0 {
		c.KillGrace = 2 * time.Second
	}
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
	if c.BaseEnv == nil {
		c.BaseEnv = baseEnv(os.Getenv)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return nil
}

// Run runs the task whose token the client carries, from GET /task to POST
// /task/finish, and returns its outcome. A non-nil error explains an
// infrastructure_fail outcome (or a failure to report); failing steps are
// not errors.
func Run(ctx context.Context, cfg Config) (Outcome, error) {
	if err := cfg.defaults(); err != nil {
		return OutcomeInfrastructureFail, err
	}
	spec, err := cfg.Client.Task(ctx)
	switch {
	case errors.Is(err, runner.ErrTaskGone):
		cfg.Logger.Info("task is already terminal, nothing to run")
		return OutcomeCanceled, nil
	case ctx.Err() != nil:
		return OutcomeCanceled, nil
	case err != nil:
		return OutcomeInfrastructureFail, fmt.Errorf("agent: fetch task spec: %w", err)
	}
	r, err := newTaskRun(ctx, cfg, spec)
	if err != nil {
		return OutcomeInfrastructureFail, err
	}
	defer r.cleanup()
	return r.run()
}

// baseEnv picks from the agent's environment what every step needs.
func baseEnv(getenv func(string) string) []string {
	var env []string
	for _, k := range []string{"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME",
		"TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "TERM",
		"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	if getenv("PATH") == "" {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return env
}

// mergeEnv applies layers in order; a later value of a name wins, and the
// result keeps first-appearance order.
func mergeEnv(base []string, layers ...[]runner.EnvVar) []string {
	idx := map[string]int{}
	var out []string
	set := func(k, v string) {
		if i, ok := idx[k]; ok {
			out[i] = k + "=" + v
			return
		}
		idx[k] = len(out)
		out = append(out, k+"="+v)
	}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			set(k, v)
		}
	}
	for _, l := range layers {
		for _, e := range l {
			if e.Name != "" {
				set(e.Name, e.Value)
			}
		}
	}
	return out
}
