// Package nomadbridge runs Orbit's tasks on HashiCorp Nomad: it turns
// run-queue messages into Nomad batch jobs (dispatch), and turns what
// happens to their allocations back into task outcomes and heartbeats for
// the runner API (watch). It is Orbit's schedulerer + nomad-metrics; the
// build agent that runs inside each allocation is in package agent. With a
// VM pool (Config.Pool, package vmpool) machine and macos tasks get a VM
// each instead of a Nomad job (leases.go).
//
//	run queue ──Receive──▶ dispatch: Decode ──malformed──▶ Delete (counted)
//	                           │  runner GET /task ──410──▶ Delete (task is over)
//	                           │  a warm agent of the class waits ──▶ hand-off, Delete (warm.go)
//	                           │  machine/macos and a pool ──▶ Pool.Lease ──ok──▶ Delete
//	                           │       unknown class ──▶ infrastructure_fail, Delete
//	                           │       no VM now ──▶ redelivered after a backoff
//	                           │  BuildJob (jobspec.go)
//	                           ▼
//	                       Jobs.Register if absent ──ok──▶ Delete
//	                           └─ exists: Jobs.Info: same orbit_task_id ──▶ Delete (duplicate),
//	                              another task's ──▶ Jobs.Register (replace)
//	                           └─ Nomad unreachable ──▶ keep the message (Extend),
//	                                                   back off, retry: none is lost
//
//	Nomad /v1/jobs every 10 s ──▶ circle.nomad.server_agent.* metrics (metrics.go)
//
//	Nomad /v1/allocations (blocking queries) ──▶ watch
//	     running   ──▶ POST /task/heartbeat every HeartbeatInterval
//	                   (410: the task is over, e.g. canceled ──▶ Deregister)
//	     terminal  ──▶ Outcome: agent exit code 0/1/3/4, lost node, stopped
//	                   ──▶ POST /task/finish (first terminal result wins)
//	                   ──▶ Jobs.Deregister(purge)
//
//	     registered, no allocation listed after LostJobCheck, or its
//	     allocations gone without a purge ──▶ Jobs.Info 404 (Nomad lost
//	     its state) ──▶ POST /task/finish infrastructure_fail (lostjobs.go)
//
//	Pool.Leases every PoolInterval ──▶ VM leases (leases.go)
//	     running   ──▶ POST /task/heartbeat (410 ──▶ Release)
//	     VM stopped or lease expired ──▶ runner GET /task: 410 (the agent
//	                   reported) or POST /task/finish infrastructure_fail
//	                   ──▶ Release
//
// Every step is idempotent, so the bridge may crash and restart at any
// point: a message is deleted only after Nomad has the job, and the watch's
// first (non-blocking) list after a start is the reconciliation: terminal
// allocations are reported and purged, running ones get heartbeats again.
// The token for reporting is read back from the job's task environment,
// where dispatch put it. VM leases are re-learned the same way, from the
// pool's list of leases and their requests' environment.
package nomadbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/shared/cacerts"
	"github.com/orbit-ci/orbit/shared/clock"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runner"
)

// TaskReporter is the part of the runner API the bridge uses for one task;
// *runner.Client satisfies it.
type TaskReporter interface {
	// Placement answers runner.ErrTaskGone when the task is already
	// terminal. (The bridge never asks for the whole spec: the job's
	// secrets are for the agent only.)
	Placement(ctx context.Context) (runner.TaskPlacement, error)
	Finish(ctx context.Context, r runner.TaskResult) error
	Heartbeat(ctx context.Context) error
}

var _ TaskReporter = (*runner.Client)(nil)

// Clock is the bridge's time source; tests may speed it up.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Config configures a Bridge.
type Config struct {
	// Queue is the run queue. Required.
	Queue queue.Queue
	// Nomad is the cluster tasks run on (NomadFromClient). Required.
	Nomad Nomad
	// RunnerURL is the runner API's base URL as build agents reach it, e.g.
	// "http://127.0.0.1:8080/runner/v1". Required.
	RunnerURL string
	// RunnerClient returns a runner API client for one task's token, used
	// to ask whether a task is terminal, report outcomes the bridge observes
	// and send heartbeats. Default: a *runner.Client for RunnerURL that
	// retries for 30 s.
	RunnerClient func(token string) TaskReporter
	// Agent is how Nomad tasks start the build agent, e.g. the orbit binary
	// with Args ["agent"]. Required.
	Agent AgentCommand
	// Datacenters of Orbit's jobs (default: all).
	Datacenters []string
	// Region of Orbit's jobs and of every Nomad call ("" is the agent's).
	Region string
	// Driver runs the agent: "raw_exec" (default, the host executor) or
	// "exec".
	Driver string
	// Docker, when set, runs docker-executor tasks with Nomad's docker
	// driver (see DockerSpec); otherwise they run on the host executor.
	Docker *DockerSpec
	// GPUNodeClass is the node-class pattern of GPU clients (default "^gpu").
	GPUNodeClass string
	// Pool, when set, gives each machine and macos executor task a VM that
	// runs the agent, instead of a Nomad job on the host executor: the
	// bridge heartbeats the task, reports a VM that stops before the task
	// ended as infrastructure_fail and releases the lease once the task is
	// over. Nil: those tasks run on the host executor, which the agent
	// says plainly.
	Pool vmpool.Pool
	// PoolCollector, when set, runs while the bridge is active (one bridge
	// per installation at a time): the pool's garbage collector and upkeep,
	// e.g. ec2pool's Collector.Run, given VMTaskEnded to ask whether a
	// lease's task is over. Its error is logged.
	PoolCollector func(ctx context.Context, taskEnded func(context.Context, vmpool.Lease) (bool, error)) error
	// PoolInterval is how often the bridge lists the pool's leases, to
	// notice stopped VMs and expired leases (default 10 s).
	PoolInterval time.Duration
	// Proxy is given to agents and their steps (ProxyFromEnvironment).
	Proxy ProxyEnv
	// CACertDir holds extra CA certificates trusted by the bridge's runner
	// API calls and, on the clients, by agents and steps ("" for none).
	CACertDir string
	// ResourceScale multiplies resource classes' CPU and memory (default 1;
	// the embedded shape uses about 0.05 so a laptop can place jobs).
	ResourceScale float64
	// Concurrency is how many messages are dispatched at once (default 16:
	// dispatching waits on the network, the runner API and Nomad, not CPU).
	// One receiver feeds the dispatch workers, in batches of up to 10.
	Concurrency int
	// HeartbeatInterval is how often running tasks get a heartbeat
	// (default 30 s).
	HeartbeatInterval time.Duration
	// Visibility is how long a received message stays invisible while it is
	// dispatched (default 2 min).
	Visibility time.Duration
	// ReceiveWait is the run queue's long-poll time (default 20 s).
	ReceiveWait time.Duration
	// MinBackoff and MaxBackoff bound the waits after failures (defaults 1 s
	// and 1 min).
	MinBackoff, MaxBackoff time.Duration
	// ProbeInterval is how often an unreachable Nomad is asked whether it
	// is back; held tasks are dispatched as soon as it answers (default 1 s).
	ProbeInterval time.Duration
	// WatchWait is the longest blocking query on allocations (default 1 min).
	WatchWait time.Duration
	// LostJobCheck is how long a registered job may have no allocation
	// before Nomad is asked whether it still has the job; one it lost is
	// reported infrastructure_fail (lostjobs.go; default 10 s).
	LostJobCheck time.Duration
	// Metrics receives the Nomad metrics (metrics.go) every MetricsInterval
	// (default: discarded; 10 s).
	Metrics         metrics.Sink
	MetricsInterval time.Duration
	// Warm keeps warm agents on Nomad (warm.go; default: none).
	Warm WarmConfig
	// Logger receives the bridge's log lines (default: discarded).
	Logger *slog.Logger
	// Clock is the time source (default: the real clock).
	Clock Clock
	// Lease, when set, makes the bridge active only while it holds this
	// lease (leader.go): at most one bridge per installation dispatches.
	// Nil: always active (the embedded shape has one bridge).
	Lease Lease
	// Also are more loops that run only while the bridge is active, e.g.
	// the fleet's scale-in handler (package scalein): each is started with
	// the term's context and must return when it ends.
	Also []func(ctx context.Context) error
}

// Stats counts what the bridge did since it started.
type Stats struct {
	// Received counts deliveries of run-queue messages.
	Received int64
	// Registered counts Nomad jobs registered.
	Registered int64
	// Duplicates counts messages whose job Nomad (or whose VM lease the
	// bridge) already had.
	Duplicates int64
	// Terminal counts messages dropped because their task was already over.
	Terminal int64
	// Malformed counts messages deleted because they could not be decoded.
	Malformed int64
	// Unplaceable counts tasks reported infrastructure_fail at dispatch
	// (e.g. an unknown resource class, or a VM the pool does not have).
	Unplaceable int64
	// NomadErrors counts failed Nomad calls.
	NomadErrors int64
	// Reported counts outcomes reported from allocations and from VMs that
	// stopped before their task ended.
	Reported int64
	// Purged counts Nomad jobs purged after their outcome was reported.
	Purged int64
	// Heartbeats counts heartbeats sent.
	Heartbeats int64
	// Leased counts VMs leased for tasks.
	Leased int64
	// PoolUnavailable counts leases the pool refused for want of a VM (the
	// message is redelivered later).
	PoolUnavailable int64
	// PoolErrors counts other failed VM pool calls.
	PoolErrors int64
	// Released counts VM leases released after their task ended.
	Released int64
	// Lost counts tasks reported infrastructure_fail because Nomad no
	// longer had their job.
	Lost int64
}

// Bridge is the running bridge. Create it with New and start it with Run.
type Bridge struct {
	cfg     Config
	log     *slog.Logger
	jobSpec JobSpec

	stats struct {
		received, registered, duplicates, terminal, malformed, unplaceable,
		nomadErrors, reported, purged, heartbeats, leased, poolUnavailable,
		poolErrors, released, lost atomic.Int64
	}

	watch  watchState
	leases leaseState
	gate   nomadGate
	warm   *warmPool // nil without warm agents
	// dockerCAs are the remote Docker authorities of tasks being
	// dispatched, by task ID (remotedocker.go).
	dockerCAs sync.Map
	// pollErr is the last metrics poll's error (nil when it succeeded).
	pollErr atomic.Pointer[error]
}

// New checks cfg, fills in defaults and returns a bridge.
func New(cfg Config) (*Bridge, error) {
	switch {
	case cfg.Queue == nil:
		return nil, errors.New("nomadbridge: Config.Queue is required")
	case cfg.Nomad.Jobs == nil || cfg.Nomad.Allocations == nil:
		return nil, errors.New("nomadbridge: Config.Nomad needs Jobs and Allocations")
	case cfg.RunnerURL == "":
		return nil, errors.New("nomadbridge: Config.RunnerURL is required")
	case cfg.Agent.Path == "":
		return nil, errors.New("nomadbridge: Config.Agent.Path is required")
	case cfg.Driver != "" && cfg.Driver != "raw_exec" && cfg.Driver != "exec":
		return nil, fmt.Errorf("nomadbridge: driver %q is not supported (raw_exec or exec)", cfg.Driver)
	}
	if err := checkWarm(cfg); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Driver == "" {
		cfg.Driver = DefaultDriver
	}
	if cfg.ResourceScale <= 0 {
		cfg.ResourceScale = 1
	}
	setDefault(&cfg.Concurrency, 16)
	setDefault(&cfg.HeartbeatInterval, 30*time.Second)
	setDefault(&cfg.Visibility, 2*time.Minute)
	setDefault(&cfg.ReceiveWait, 20*time.Second)
	setDefault(&cfg.MinBackoff, time.Second)
	setDefault(&cfg.MaxBackoff, time.Minute)
	setDefault(&cfg.WatchWait, time.Minute)
	setDefault(&cfg.LostJobCheck, 10*time.Second)
	setDefault(&cfg.ProbeInterval, time.Second)
	setDefault(&cfg.MetricsInterval, 10*time.Second)
	setDefault(&cfg.PoolInterval, 10*time.Second)
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.Discard
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.Nomad.Addr == "" {
		cfg.Nomad.Addr = "(unknown address)"
	}
	log := cfg.Logger
	if cfg.RunnerClient == nil {
		tr, err := cacerts.Transport(cfg.CACertDir)
		if err != nil {
			return nil, fmt.Errorf("nomadbridge: %w", err)
		}
		hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
		url := cfg.RunnerURL
		cfg.RunnerClient = func(token string) TaskReporter {
			return runner.NewClient(url, token, hc, runner.WithRetryDeadline(30*time.Second),
				runner.WithUserAgent("orbit-nomadbridge"), runner.WithLogger(log))
		}
	}
	b := &Bridge{
		cfg: cfg,
		log: cfg.Logger,
		jobSpec: JobSpec{
			Datacenters:   cfg.Datacenters,
			Region:        cfg.Region,
			Driver:        cfg.Driver,
			Docker:        cfg.Docker,
			GPUNodeClass:  cfg.GPUNodeClass,
			Proxy:         cfg.Proxy,
			CACertDir:     cfg.CACertDir,
			Agent:         cfg.Agent,
			RunnerURL:     cfg.RunnerURL,
			ResourceScale: cfg.ResourceScale,
		},
	}
	if cfg.Warm.ClaimURL != "" {
		b.warm = newWarmPool(cfg.Warm, cfg.RunnerURL)
	}
	b.watch.init()
	b.leases.init()
	return b, nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Run dispatches and watches until ctx ends, then returns nil; with
// Config.Lease, only while it holds the lease (leader.go). Failures of
// Nomad, the queue or the runner API are logged and retried with backoff;
// they do not stop Run.
func (b *Bridge) Run(ctx context.Context) error {
	if b.cfg.Lease != nil {
		return b.runLeased(ctx)
	}
	return b.runActive(ctx)
}

// runActive is Run while the bridge is active.
func (b *Bridge) runActive(ctx context.Context) error {
	b.log.Info("nomadbridge started", "nomad", b.cfg.Nomad.Addr, "driver", b.cfg.Driver,
		"concurrency", b.cfg.Concurrency, "runner_url", b.cfg.RunnerURL, "vm_pool", b.cfg.Pool != nil)
	var wg sync.WaitGroup
	work := make(chan queue.Message)
	wg.Go(func() { b.receiveLoop(ctx, work) })
	for range b.cfg.Concurrency {
		wg.Go(func() { b.dispatchLoop(ctx, work) })
	}
	if b.warm != nil {
		wg.Go(func() { b.warmLoop(ctx) })
	}
	wg.Go(func() {
		// After a restart, warm jobs are told from busy ones only once
		// the pool is recovered.
		if b.warmReady(ctx) {
			b.watchLoop(ctx)
		}
	})
	wg.Go(func() { b.evalWatchLoop(ctx) })
	wg.Go(func() { b.heartbeatLoop(ctx) })
	wg.Go(func() { b.lostJobLoop(ctx) })
	wg.Go(func() { b.metricsLoop(ctx) })
	if b.cfg.Pool != nil {
		wg.Go(func() { b.leaseLoop(ctx) })
	}
	for _, loop := range b.cfg.Also {
		wg.Go(func() {
			if err := loop(ctx); err != nil && ctx.Err() == nil {
				b.log.Error("nomadbridge: a loop stopped", "error", err)
			}
		})
	}
	if b.cfg.PoolCollector != nil {
		wg.Go(func() {
			if err := b.cfg.PoolCollector(ctx, b.VMTaskEnded); err != nil && ctx.Err() == nil {
				b.log.Error("the VM pool's collector stopped", "error", err)
			}
		})
	}
	wg.Wait()
	b.watch.wait()
	b.leases.wait()
	b.gate.probes.Wait()
	b.log.Info("nomadbridge stopped")
	return nil
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	s := &b.stats
	return Stats{
		Received: s.received.Load(), Registered: s.registered.Load(), Duplicates: s.duplicates.Load(),
		Terminal: s.terminal.Load(), Malformed: s.malformed.Load(), Unplaceable: s.unplaceable.Load(),
		NomadErrors: s.nomadErrors.Load(), Reported: s.reported.Load(), Purged: s.purged.Load(),
		Heartbeats: s.heartbeats.Load(), Leased: s.leased.Load(), PoolUnavailable: s.poolUnavailable.Load(),
		PoolErrors: s.poolErrors.Load(), Released: s.released.Load(), Lost: s.lost.Load(),
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func (b *Bridge) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-b.cfg.Clock.After(d):
		return true
	}
}

func (b *Bridge) nextBackoff(d time.Duration) time.Duration {
	return min(2*d, b.cfg.MaxBackoff)
}
