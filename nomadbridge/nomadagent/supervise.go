package nomadagent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/clock"
)

// Supervisor keeps the dev agent that the embedded shape owns running:
//
//	Supervise ──▶ Start (ports chosen once) ──▶ Run:
//	    agent exits (crash, kill -9) ──▶ Stop: kill its leftover logmon,
//	        executor and task processes ──▶ wait Backoff ──▶ Start again on
//	        the same ports (the address the bridge knows stays valid) ──▶ …
//	        a failed start waits twice as long (up to MaxBackoff)
//	    ctx ends ──▶ Stop the agent, return nil
//
// A dev agent keeps its server state in memory: a restarted one knows no
// jobs. The bridge re-registers what it still holds; allocations of the
// dead agent are gone with it.
type Supervisor struct {
	cfg SupervisorConfig
	log *slog.Logger

	mu    sync.Mutex
	agent *Agent
}

// Clock is the supervisor's time source.
type Clock interface {
	After(d time.Duration) <-chan time.Time
}

// SupervisorConfig configures a Supervisor.
type SupervisorConfig struct {
	// Agent configures each start; ports left 0 are chosen at the first.
	Agent Config
	// Backoff is the wait before a restart (default 1 s); MaxBackoff bounds
	// it after failed starts (default 30 s).
	Backoff, MaxBackoff time.Duration
	// OnStart, if set, is called with each agent started after the first
	// (e.g. to record its pid).
	OnStart func(*Agent)
	// Logger receives restarts (default: discarded).
	Logger *slog.Logger
	// Clock is the time source (default: the real clock).
	Clock Clock
}

// Supervise starts the agent (as Start does) and returns its supervisor;
// Run keeps it running.
func Supervise(ctx context.Context, cfg SupervisorConfig) (*Supervisor, error) {
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.Backoff)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	a, err := Start(ctx, cfg.Agent)
	if err != nil {
		return nil, err
	}
	cfg.Agent = a.cfg // the same ports and paths for every restart
	return &Supervisor{cfg: cfg, log: cfg.Logger, agent: a}, nil
}

// Agent is the agent running now (or the one that just died).
func (s *Supervisor) Agent() *Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agent
}

// Addr is the agents' HTTP address; it does not change across restarts.
func (s *Supervisor) Addr() string { return s.Agent().Addr() }

// Run restarts the agent whenever it exits, until ctx ends; then it stops
// the agent and returns nil.
func (s *Supervisor) Run(ctx context.Context) error {
	for {
		a := s.Agent()
		select {
		case <-ctx.Done():
			return s.stop(a)
		case <-a.Exited():
		}
		s.log.Error("the Nomad dev agent exited; restarting it", "pid", a.Pid(), "error", a.waitErr,
			"log", a.LogFile(), "restart_in", s.cfg.Backoff)
		if err := a.Stop(); err != nil {
			s.log.Warn("stop the dead Nomad agent", "error", err)
		}
		next, err := s.restart(ctx)
		if err != nil {
			return nil // ctx ended
		}
		s.mu.Lock()
		s.agent = next
		s.mu.Unlock()
		s.log.Info("the Nomad dev agent runs again", "pid", next.Pid(), "nomad_addr", next.Addr())
		if s.cfg.OnStart != nil {
			s.cfg.OnStart(next)
		}
	}
}

// restart starts a new agent after the backoff, doubling it after each
// failed start, until one starts or ctx ends.
func (s *Supervisor) restart(ctx context.Context) (*Agent, error) {
	wait := s.cfg.Backoff
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.cfg.Clock.After(wait):
		}
		a, err := Start(ctx, s.cfg.Agent)
		if err == nil {
			return a, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait = min(2*wait, s.cfg.MaxBackoff)
		s.log.Error("restart the Nomad dev agent", "error", err, "retry_in", wait)
	}
}

func (s *Supervisor) stop(a *Agent) error {
	if err := a.Stop(); err != nil {
		return fmt.Errorf("stop the Nomad dev agent: %w", err)
	}
	return nil
}
