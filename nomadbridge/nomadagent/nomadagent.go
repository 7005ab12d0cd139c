// Package nomadagent starts and stops a Nomad dev agent (server and client
// in one process) as a child process, for the embedded shape (`orbit up`
// when NOMAD_ADDR is not set) and for tests.
//
//	Start ──▶ write agent.hcl (raw_exec enabled, ports, log at INFO into a
//	          rotated, capped nomad.log) ──▶ nomad agent -dev
//	      ──▶ wait: HTTP API answers ──▶ a node is ready and eligible
//	          with raw_exec healthy ──▶ *Agent (Addr)
//	Stop  ──▶ SIGINT ──grace──▶ SIGKILL
package nomadagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Config configures the dev agent.
type Config struct {
	// Binary is the nomad executable (default "nomad" from PATH).
	Binary string
	// DataDir holds the agent's state, its config file and, by default, its
	// log. Required.
	DataDir string
	// BindAddr is the address every port binds to (default "127.0.0.1").
	BindAddr string
	// HTTPPort, RPCPort and SerfPort are the agent's ports; 0 picks a free
	// one from the kernel.
	HTTPPort, RPCPort, SerfPort int
	// LogFile is the agent's log (default DataDir/nomad.log), written by
	// Nomad itself at LogLevel and rotated: once it holds LogRotateBytes it
	// is renamed nomad-<unix nanos>.log and a new one begun, and only the
	// newest LogRotateMaxFiles of those are kept, so the log never takes
	// more than about (LogRotateMaxFiles+1) × LogRotateBytes. The agent's
	// standard error (start-up failures, panics) goes beside it, to
	// nomad.stderr.log (the previous start's kept as nomad.stderr.log.1);
	// its standard output repeats the log and is discarded.
	LogFile string
	// LogLevel is Nomad's log level (default "INFO"; -dev alone logs at
	// DEBUG, about 10 MB a minute on an idle agent).
	LogLevel string
	// LogRotateBytes and LogRotateMaxFiles bound the log (defaults 8 MiB
	// and 3).
	LogRotateBytes, LogRotateMaxFiles int
	// DieWithParent makes the kernel stop the agent when this process dies
	// (Linux only; ignored elsewhere).
	DieWithParent bool
	// ReadyTimeout bounds the wait for the agent to be usable (default 90 s).
	ReadyTimeout time.Duration
	// StopGrace is how long Stop waits after SIGINT before killing (default
	// 15 s).
	StopGrace time.Duration
}

// Agent is a running dev agent.
type Agent struct {
	cmd      *exec.Cmd
	cfg      Config // as started: ports chosen, paths absolute
	nomadExe string // the binary's resolved path, to recognise its plugins
	addr     string
	logPath  string
	grace    time.Duration
	exited   chan struct{}
	waitErr  error
	logFile  *os.File
}

// live holds the pids of the agents this process runs, which reapOrphans
// must spare (they are this process's children and run the nomad binary).
var live = struct {
	sync.Mutex
	pids map[int]bool
}{pids: map[int]bool{}}

// Start starts the agent and waits until it can run raw_exec tasks.
func Start(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("nomadagent: Config.DataDir is required")
	}
	if cfg.Binary == "" {
		cfg.Binary = "nomad"
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = "127.0.0.1"
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 90 * time.Second
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 15 * time.Second
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "INFO"
	}
	if cfg.LogRotateBytes <= 0 {
		cfg.LogRotateBytes = 8 << 20
	}
	if cfg.LogRotateMaxFiles <= 0 {
		cfg.LogRotateMaxFiles = 3
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("nomadagent: data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("nomadagent: create data dir: %w", err)
	}
	for _, p := range []*int{&cfg.HTTPPort, &cfg.RPCPort, &cfg.SerfPort} {
		if *p == 0 {
			if *p, err = freePort(cfg.BindAddr); err != nil {
				return nil, err
			}
		}
	}
	if cfg.LogFile == "" {
		cfg.LogFile = filepath.Join(dataDir, "nomad.log")
	}
	if cfg.LogFile, err = filepath.Abs(cfg.LogFile); err != nil {
		return nil, fmt.Errorf("nomadagent: log file: %w", err)
	}
	confPath := filepath.Join(dataDir, "agent.hcl")
	if err := os.WriteFile(confPath, []byte(configHCL(cfg)), 0o644); err != nil {
		return nil, fmt.Errorf("nomadagent: write config: %w", err)
	}
	logFile, err := openStderr(StderrFile(cfg.LogFile))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.Binary, "agent", "-dev", "-bind", cfg.BindAddr,
		"-data-dir", filepath.Join(dataDir, "data"), "-config", confPath)
	cmd.Stderr = logFile // Stdout: nil, /dev/null
	cmd.SysProcAttr = sysProcAttr(cfg.DieWithParent)
	// The agent's plugins must not outlive it: adopt them if it dies.
	_ = adoptOrphans()
	live.Lock()
	err = cmd.Start()
	if err == nil {
		live.pids[cmd.Process.Pid] = true
	}
	live.Unlock()
	if err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("nomadagent: start %s: %w", cfg.Binary, err)
	}
	nomadExe, _ := exec.LookPath(cfg.Binary)
	if p, err := filepath.EvalSymlinks(nomadExe); err == nil {
		nomadExe, _ = filepath.Abs(p)
	}
	cfg.DataDir = dataDir
	a := &Agent{
		cmd:      cmd,
		cfg:      cfg,
		nomadExe: nomadExe,
		addr:     "http://" + net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.HTTPPort)),
		logPath:  cfg.LogFile,
		grace:    cfg.StopGrace,
		exited:   make(chan struct{}),
		logFile:  logFile,
	}
	go func() {
		a.waitErr = cmd.Wait()
		live.Lock()
		delete(live.pids, cmd.Process.Pid)
		live.Unlock()
		close(a.exited)
	}()
	rctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if err := a.waitReady(rctx); err != nil {
		_ = a.Stop()
		return nil, fmt.Errorf("nomadagent: agent at %s not ready (log: %s, standard error: %s): %w",
			a.addr, a.logPath, StderrFile(a.logPath), err)
	}
	return a, nil
}

// Addr is the agent's HTTP address, as NOMAD_ADDR spells it.
func (a *Agent) Addr() string { return a.addr }

// Pid is the agent process's id.
func (a *Agent) Pid() int { return a.cmd.Process.Pid }

// LogFile is the agent's current log (see Config.LogFile).
func (a *Agent) LogFile() string { return a.logPath }

// Exited is closed once the agent process has exited.
func (a *Agent) Exited() <-chan struct{} { return a.exited }

// Stop interrupts the agent, kills it if it is still running after the
// grace, waits for it to exit, and kills what it left behind (its logmon
// and executor plugins, its tasks). It may be called more than once.
func (a *Agent) Stop() error {
	select {
	case <-a.exited:
	default:
		_ = a.cmd.Process.Signal(os.Interrupt)
		t := time.NewTimer(a.grace)
		defer t.Stop()
		select {
		case <-a.exited:
		case <-t.C:
			_ = a.cmd.Process.Kill()
			<-a.exited
		}
	}
	_ = a.logFile.Close()
	reapOrphans(a.nomadExe, a.cfg.DataDir, a.grace)
	unmountUnder(a.cfg.DataDir)
	var ee *exec.ExitError
	if a.waitErr != nil && !errors.As(a.waitErr, &ee) {
		return fmt.Errorf("nomadagent: wait for agent: %w", a.waitErr)
	}
	return nil
}

func (a *Agent) waitReady(ctx context.Context) error {
	client, err := api.NewClient(&api.Config{Address: a.addr})
	if err != nil {
		return err
	}
	var last error
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if last = ready(ctx, client); last == nil {
			return nil
		}
		select {
		case <-a.exited:
			return fmt.Errorf("agent exited: %v (last check: %w)", a.waitErr, last)
		case <-ctx.Done():
			return fmt.Errorf("%w (last check: %w)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// ready checks for a ready, eligible node whose raw_exec driver is healthy.
func ready(ctx context.Context, c *api.Client) error {
	q := (&api.QueryOptions{}).WithContext(ctx)
	nodes, _, err := c.Nodes().List(q)
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes {
		if n.Status != api.NodeStatusReady || n.SchedulingEligibility != api.NodeSchedulingEligible {
			continue
		}
		node, _, err := c.Nodes().Info(n.ID, q)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.ID, err)
		}
		if d := node.Drivers["raw_exec"]; d != nil && d.Detected && d.Healthy {
			return nil
		}
		return fmt.Errorf("node %s: raw_exec driver not healthy yet", n.Name)
	}
	return errors.New("no ready and eligible node yet")
}

// StderrFile is where the agent whose log is logFile writes its standard
// error. (Not nomad-….log: Nomad prunes those as its rotated logs.)
func StderrFile(logFile string) string {
	return strings.TrimSuffix(logFile, ".log") + ".stderr.log"
}

// openStderr opens a fresh standard error file, keeping the previous one
// (a crash's panic) as path.1: two starts' worth at most.
func openStderr(path string) (*os.File, error) {
	if err := os.Rename(path, path+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("nomadagent: keep the previous standard error: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("nomadagent: open standard error file: %w", err)
	}
	return f, nil
}

// ServerGC is the server stanza of every Nomad agent Orbit configures (the
// embedded dev agent, the tests' agent, the AWS servers): Orbit purges each build's Nomad job once its outcome is reported; Nomad
// keeps the job's evaluations and allocations until its garbage collection
// (batch evaluations: 24 h by default), and the bridge's allocation watch
// reads every one of them on each change. Collect them after minutes.
const ServerGC = `server {
  job_gc_interval         = "1m"
  job_gc_threshold        = "5m"
  eval_gc_threshold       = "5m"
  batch_eval_gc_threshold = "5m"
}
`

func configHCL(cfg Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bind_addr = %q\n", cfg.BindAddr)
	fmt.Fprintf(&b, "log_level = %q\nlog_file = %q\nlog_rotate_bytes = %d\nlog_rotate_max_files = %d\n",
		cfg.LogLevel, cfg.LogFile, cfg.LogRotateBytes, cfg.LogRotateMaxFiles)
	fmt.Fprintf(&b, "ports {\n  http = %d\n  rpc  = %d\n  serf = %d\n}\n", cfg.HTTPPort, cfg.RPCPort, cfg.SerfPort)
	b.WriteString("plugin \"raw_exec\" {\n  config {\n    enabled = true\n  }\n}\n")
	// Dynamic ports (SSH into builds) from CircleCI's 64535–65535.
	b.WriteString("client {\n  min_dynamic_port = 64535\n  max_dynamic_port = 65535\n}\n")
	b.WriteString(ServerGC)
	return b.String()
}

func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("nomadagent: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Reachable checks that a Nomad HTTP API answers at addr and has a leader,
// with an error that says what to do otherwise.
func Reachable(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(addr, "/")+"/v1/status/leader", nil)
	if err != nil {
		return fmt.Errorf("nomad address %q is not a URL (want e.g. http://127.0.0.1:4646): %w", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("nomad unreachable at %s: %w (is the agent running? unset NOMAD_ADDR to let `orbit up` start one)", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("nomad at %s answered %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	var leader string
	if err := json.Unmarshal(body, &leader); err != nil {
		return fmt.Errorf("nomad at %s: unexpected answer to /v1/status/leader (is it Nomad?): %w", addr, err)
	}
	if leader == "" {
		return fmt.Errorf("nomad at %s has no cluster leader yet", addr)
	}
	return nil
}
