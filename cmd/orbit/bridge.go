package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	nomad "github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
	"github.com/orbit-ci/orbit/shared/cacerts"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/queue"
)

// startBridge connects to Nomad (the agent at --nomad-addr, or a dev agent
// of its own) and returns the bridge that feeds it.
//
// The dev agent outlives a crash of `orbit up` on purpose: its allocations,
// and the build agents in them, keep running, and the next `orbit up` on the
// same data directory reuses it and recovers their outcomes. A clean
// shutdown stops it.
func startBridge(ctx context.Context, cfg upConfig, dataDir, baseURL string, key []byte, runq queue.Queue, sink metrics.Sink, log *slog.Logger) (*nomadbridge.Bridge, string, func(), error) {
	addr, stop := cfg.nomadAddr, func() {}
	if addr == "" {
		var err error
		if addr, stop, err = devAgent(ctx, cfg.nomadBin, filepath.Join(dataDir, "nomad"), log); err != nil {
			return nil, "", nil, err
		}
	} else if err := nomadagent.Reachable(ctx, addr); err != nil {
		fmt.Fprintf(os.Stderr, "\nWARNING: Nomad at %s is unreachable: %v\n"+
			"Orbit keeps running: triggered jobs stay queued and run once Nomad answers.\n\n", addr, err)
		log.Warn("nomad unreachable", "nomad_addr", addr, "error", err)
	}
	// ORBIT_CA_CERT_DIR: extra CA certificates (the seed's custom root CA)
	// trusted by the bridge's clients and, on the Nomad clients, by agents
	// and steps; HTTP(S)_PROXY and NO_PROXY are honoured and passed on.
	caDir := os.Getenv("ORBIT_CA_CERT_DIR")
	tr, err := cacerts.Transport(caDir)
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	client, err := nomad.NewClient(&nomad.Config{Address: addr, HttpClient: &http.Client{Transport: tr}})
	if err != nil {
		stop()
		return nil, "", nil, fmt.Errorf("nomad client for %s: %w", addr, err)
	}
	self, err := os.Executable()
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	scale, err := strconv.ParseFloat(envOr("ORBIT_RESOURCE_SCALE", "0.05"), 64)
	if err != nil {
		stop()
		return nil, "", nil, fmt.Errorf("ORBIT_RESOURCE_SCALE: %w", err)
	}
	// The runner API is in this process, so heartbeats are cheap: a short
	// interval makes a cancel or a timeout stop the task's Nomad job (the
	// heartbeat answered 410) within seconds.
	heartbeat, err := envDuration("ORBIT_HEARTBEAT_INTERVAL", 2*time.Second)
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	bridge, err := nomadbridge.New(nomadbridge.Config{
		Queue:             runq,
		Nomad:             nomadbridge.NomadFromClient(client),
		RunnerURL:         baseURL + "/runner/v1",
		Agent:             nomadbridge.AgentCommand{Path: self, Args: []string{"agent"}},
		ResourceScale:     scale,
		HeartbeatInterval: heartbeat,
		Metrics:           sink,
		Proxy:             nomadbridge.ProxyFromEnvironment(os.Getenv),
		CACertDir:         caDir,
		Warm:              warmConfig(cfg, baseURL, key),
		Logger:            log.With("component", "nomadbridge"),
	})
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	return bridge, addr, stop, nil
}

// devAgent reuses the dev agent a previous `orbit up` on this data
// directory left running, or starts one.
func devAgent(ctx context.Context, bin, dir string, log *slog.Logger) (string, func(), error) {
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
	// after ORBIT_NOMAD_RESTART_DELAY.
	delay, err := envDuration("ORBIT_NOMAD_RESTART_DELAY", time.Second)
	if err != nil {
		return "", nil, err
	}
	sup, err := nomadagent.Supervise(ctx, nomadagent.SupervisorConfig{
		Backoff: delay,
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

// warmConfig keeps cfg.warmAgents warm agents of the default resource
// class; they claim their task at /bridge/warm of the embedded server.
// With 0 the pool still finishes what warm agents of a previous run took.
func warmConfig(cfg upConfig, baseURL string, key []byte) nomadbridge.WarmConfig {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("orbit warm agents"))
	idle := cfg.warmIdle
	if idle == 0 {
		idle = -1 // never
	}
	return nomadbridge.WarmConfig{
		Agents:    map[string]int{"medium": cfg.warmAgents},
		ClaimURL:  baseURL + warmPath,
		Secret:    m.Sum(nil),
		IdleAfter: idle,
	}
}

// warmPath is where the embedded server mounts the bridge's WarmHandler.
const warmPath = "/bridge/warm"
