package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/orbit-ci/orbit/internal/compose"
	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
)

// nomadAgent returns the Nomad agent the embedded bridge uses: the one at
// --nomad-addr (warning when it does not answer), or a dev agent of its own.
//
// The dev agent outlives a crash of `orbit up` on purpose: its allocations,
// and the build agents in them, keep running, and the next `orbit up` on the
// same data directory reuses it and recovers their outcomes. A clean
// shutdown stops it.
func nomadAgent(ctx context.Context, cfg compose.Config, dataDir string, log *slog.Logger) (string, func(), error) {
	if cfg.NomadAddr == "" {
		return devAgent(ctx, cfg.NomadBin, filepath.Join(dataDir, "nomad"), cfg.NomadRestartDelay, log)
	}
	if err := nomadagent.Reachable(ctx, cfg.NomadAddr); err != nil {
		fmt.Fprintf(os.Stderr, "\nWARNING: Nomad at %s is unreachable: %v\n"+
			"Orbit keeps running: triggered jobs stay queued and run once Nomad answers.\n\n", cfg.NomadAddr, err)
		log.Warn("nomad unreachable", "nomad_addr", cfg.NomadAddr, "error", err)
	}
	return cfg.NomadAddr, func() {}, nil
}

// devAgent reuses the dev agent a previous `orbit up` on this data
// directory left running, or starts one.
func devAgent(ctx context.Context, bin, dir string, restartDelay time.Duration, log *slog.Logger) (string, func(), error) {
	addrFile, pidFile := filepath.Join(dir, "addr"), filepath.Join(dir, "pid")
	if b, err := os.ReadFile(addrFile); err == nil {
		addr := strings.TrimSpace(string(b))
		if nomadagent.Reachable(ctx, addr) == nil {
			log.Info("reusing the Nomad dev agent of a previous run", "nomad_addr", addr)
			return addr, func() { stopPID(pidFile) }, nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	if _, err := os.Stat(bin); err != nil && strings.Contains(bin, "/") {
		return "", nil, fmt.Errorf("nomad binary %s not found: run `make tools` (or set NOMAD_ADDR to use a running agent): %w", bin, err)
	}
	fmt.Fprintf(os.Stderr, "starting a Nomad dev agent (%s)…\n", bin)
	// The supervisor restarts the agent if it dies (killing what it left),
	// after restartDelay.
	sup, err := nomadagent.Supervise(ctx, nomadagent.SupervisorConfig{
		Backoff: restartDelay,
		Agent:   nomadagent.Config{Binary: bin, DataDir: filepath.Join(dir, "data"), LogFile: filepath.Join(dir, "nomad.log")},
		OnStart: func(a *nomadagent.Agent) { _ = os.WriteFile(pidFile, []byte(strconv.Itoa(a.Pid())), 0o600) },
		Logger:  log.With("component", "nomadagent"),
	})
	if err != nil {
		return "", nil, fmt.Errorf("start Nomad dev agent: %w (log: %s)", err, filepath.Join(dir, "nomad.log"))
	}
	_ = os.WriteFile(addrFile, []byte(sup.Addr()), 0o600)
	_ = os.WriteFile(pidFile, []byte(strconv.Itoa(sup.Agent().Pid())), 0o600)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- sup.Run(sctx) }()
	return sup.Addr(), func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("stop nomad", "error", err)
		}
		os.Remove(addrFile)
		os.Remove(pidFile)
	}, nil
}

// stopPID stops a dev agent this process did not start.
func stopPID(pidFile string) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	_ = proc.Signal(syscall.SIGINT)
	for range 150 {
		if err := proc.Signal(syscall.Signal(0)); errors.Is(err, os.ErrProcessDone) || err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = proc.Signal(syscall.SIGKILL)
	os.Remove(pidFile)
	os.Remove(filepath.Join(filepath.Dir(pidFile), "addr"))
}

const bridgeUsage = `usage: orbit bridge [flags]

Runs nomadbridge alone, as the aws shape's bridge instances do: it reads the
SQS run queue ($ORBIT_RUN_QUEUE_URL), registers a Nomad job per task on the
agent at --nomad-addr, reports what it sees through the runner API at
--api-url/runner/v1, sends the Nomad metrics to CloudWatch, and serves
/status and /health-check at --addr. The settings are those of the aws shape
(ORBIT_SHAPE=aws, AWS_REGION, ORBIT_AWS_ENDPOINT, …; see internal/compose).

Flags:
`

// cmdBridge runs the bridge on its own until ctx ends.
func cmdBridge(ctx context.Context, args []string) error {
	cfg, err := compose.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8081"
	}
	if cfg.NomadAddr == "" {
		cfg.NomadAddr = "http://127.0.0.1:4646" // Nomad's own default: the local agent
	}
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), bridgeUsage); fs.PrintDefaults() }
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address of the bridge's /status and /health-check ($ORBIT_ADDR)")
	fs.StringVar(&cfg.NomadAddr, "nomad-addr", cfg.NomadAddr, "the Nomad agent ($NOMAD_ADDR)")
	fs.StringVar(&cfg.BaseURL, "api-url", cfg.BaseURL, "the API's URL as build agents reach it ($ORBIT_BASE_URL)")
	cfg.LogFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Shape != compose.AWS {
		return errors.New("orbit bridge runs the aws shape's bridge (ORBIT_SHAPE=aws); `orbit up` runs its own")
	}
	log, err := cfg.Logger(os.Stderr)
	if err != nil {
		return err
	}
	a, err := compose.New(ctx, cfg, version, log)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (use --addr or ORBIT_ADDR): %w", cfg.Addr, err)
	}
	// Warm agents on the Nomad clients claim their task here.
	bridge, err := a.Bridge(cfg.NomadAddr, "http://"+ln.Addr().String()+compose.WarmPath)
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(compose.WarmPath+"/", http.StripPrefix(compose.WarmPath, bridge.WarmHandler()))
	mux.Handle("/", bridge.StatusHandler(version))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	mctx, stopMetrics := context.WithCancel(ctx)
	metricsDone := make(chan error, 1)
	go func() { metricsDone <- a.RunMetrics(mctx) }()
	log.Info("bridge started", "addr", ln.Addr().String(), "nomad_addr", cfg.NomadAddr, "runner_url", cfg.BaseURL+"/runner/v1")
	err = bridge.Run(ctx)
	stopMetrics()
	if merr := <-metricsDone; merr != nil {
		log.Warn("final metrics flush", "error", merr)
	}
	return err
}
