// Package dockermetrics is the Docker part of Orbit's fleet monitoring (the
// seed's telegraf docker input): every Interval it reads the host's running
// containers from dockerd (shared/hostmetrics/dockerstats) and records
// per-host gauges through the metrics port, so CloudWatch (cwmetrics) or a
// StatsD agent (statsdmetrics) gets them beside the CloudWatch agent's CPU,
// memory, disk and network metrics. `orbit docker-metrics` runs it on the
// Nomad clients and the VM service's VMs.
//
//	every Interval ──▶ List ── error ──▶ dockerd is down: record nothing
//	                    │                 (a gap, which alarms can see),
//	                    │                 log once per outage
//	                    ▼
//	                  Stats of each container, Parallel at a time
//	                    error ──▶ logged, that container skipped
//	                    ▼
//	                  gauges: running count, Σ CPU %, Σ memory used and
//	                  limit, Σ network and block I/O bytes, once per
//	                  dimension set
//
// The byte counters (network, block I/O) are totals since each running
// container started, as dockerd keeps them: the gauge falls when a
// container ends. A rate is the difference of two readings.
package dockermetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/clock"
	"github.com/orbit-ci/orbit/shared/hostmetrics/dockerstats"
	"github.com/orbit-ci/orbit/shared/metrics"
)

// Metric names, the seed's telegraf docker input's in Orbit's dotted form.
const (
	// ContainersRunning counts the running containers.
	ContainersRunning = "docker.containers.running"
	// CPUUsage is the sum of the containers' CPU shares, in percent of one
	// CPU (200 is two CPUs busy).
	CPUUsage = "docker.cpu.usage"
	// MemUsage is the sum of the memory the containers use, page cache they
	// could drop excluded, in bytes.
	MemUsage = "docker.mem.usage"
	// MemLimit is the sum of their memory limits in bytes (a container
	// without one counts the host's memory).
	MemLimit = "docker.mem.limit"
	// NetRxBytes and NetTxBytes are the bytes the running containers
	// received and sent since they started.
	NetRxBytes = "docker.net.rx_bytes"
	NetTxBytes = "docker.net.tx_bytes"
	// IOReadBytes and IOWriteBytes are the bytes they read from and wrote
	// to block devices since they started (0 where the kernel does not
	// account block I/O per cgroup).
	IOReadBytes  = "docker.io.read_bytes"
	IOWriteBytes = "docker.io.write_bytes"
)

// Names lists every metric the collector records, in the order above.
var Names = []string{ContainersRunning, CPUUsage, MemUsage, MemLimit, NetRxBytes, NetTxBytes, IOReadBytes, IOWriteBytes}

// Source is what the collector reads: *dockerstats.Client.
type Source interface {
	// List returns the running containers; an error means dockerd did not
	// answer.
	List(ctx context.Context) ([]dockerstats.Container, error)
	// Stats reads one container's use; an error concerns that container.
	Stats(ctx context.Context, id string) (dockerstats.Usage, error)
}

var _ Source = (*dockerstats.Client)(nil)

// Clock is the collector's time source; tests use a fake one.
type Clock interface {
	After(d time.Duration) <-chan time.Time
}

// Config configures a Collector.
type Config struct {
	// Source is dockerd (required).
	Source Source
	// Sink receives the gauges (required).
	Sink metrics.Sink
	// DimensionSets are the dimensions of the gauges: each gauge is
	// recorded once per set, e.g. {InstanceId, AutoScalingGroupName} for
	// the host and {AutoScalingGroupName} for the group's aggregate. An
	// empty set is a series over every host. Default: one set without
	// dimensions.
	DimensionSets [][]metrics.Dimension
	// Interval is how often the containers are read (default 60 s, the
	// CloudWatch agent's interval); a round may take at most this long.
	Interval time.Duration
	// Parallel bounds the stats read at once (default 4); each takes about
	// a second, as dockerd samples twice.
	Parallel int
	// Clock is the time source (default: the real clock).
	Clock Clock
	// Logger receives outages and failed reads (default: discarded).
	Logger *slog.Logger
}

// Collector records the Docker gauges of one host.
type Collector struct {
	cfg Config
	log *slog.Logger

	down bool // dockerd did not answer the last List; only Run's goroutine touches it
}

// New returns a collector.
func New(cfg Config) (*Collector, error) {
	if cfg.Source == nil {
		return nil, errors.New("dockermetrics: no Docker source")
	}
	if cfg.Sink == nil {
		return nil, errors.New("dockermetrics: no metrics sink")
	}
	if len(cfg.DimensionSets) == 0 {
		cfg.DimensionSets = [][]metrics.Dimension{nil}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{cfg: cfg, log: log}, nil
}

// Run collects at once and then every Interval until ctx ends, and
// returns ctx's error. Failed rounds are logged, never fatal.
func (c *Collector) Run(ctx context.Context) error {
	for {
		_ = c.Collect(ctx) // logged by Collect
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.cfg.Clock.After(c.cfg.Interval):
		}
	}
}

// totals are one round's gauges.
type totals struct {
	Running           int
	CPUPercent        float64
	MemUsed, MemLimit uint64
	NetRx, NetTx      uint64
	IORead, IOWrite   uint64
	Vanished          int // containers gone since List
}

// Collect reads every running container once and records the gauges. It
// returns an error, after logging it, only when dockerd did not answer
// (then nothing is recorded); a container that cannot be read is logged
// and left out of the sums. Not safe for concurrent use.
func (c *Collector) Collect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Interval)
	defer cancel()
	list, err := c.cfg.Source.List(ctx)
	if err != nil {
		if ctx.Err() == nil && !c.down {
			c.log.Warn("docker unreachable: no Docker metrics until it answers", "error", err)
		}
		c.down = true
		return fmt.Errorf("list containers: %w", err)
	}
	if c.down {
		c.log.Info("docker answers again", "containers", len(list))
		c.down = false
	}
	t := c.read(ctx, list)
	for _, dims := range c.cfg.DimensionSets {
		c.record(t, dims)
	}
	return nil
}

func (c *Collector) read(ctx context.Context, list []dockerstats.Container) totals {
	t := totals{Running: len(list)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, c.cfg.Parallel)
	for _, ct := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			u, err := c.cfg.Source.Stats(ctx, ct.ID)
			mu.Lock()
			defer mu.Unlock()
			var se *dockerstats.StatusError
			switch {
			case errors.As(err, &se) && se.Status == http.StatusNotFound:
				t.Vanished++ // it stopped since List: a build ended
				c.log.Debug("container gone before its stats were read", "container_id", ct.ID)
			case err != nil:
				c.log.Warn("read container stats", "container_id", ct.ID, "image", ct.Image, "error", err)
			default:
				t.CPUPercent += u.CPUPercent
				t.MemUsed += u.MemUsed
				t.MemLimit += u.MemLimit
				t.NetRx += u.NetRx
				t.NetTx += u.NetTx
				t.IORead += u.IORead
				t.IOWrite += u.IOWrite
			}
		}()
	}
	wg.Wait()
	t.Running -= t.Vanished
	return t
}

func (c *Collector) record(t totals, dims []metrics.Dimension) {
	s := c.cfg.Sink
	s.Gauge(ContainersRunning, float64(t.Running), dims...)
	s.Gauge(CPUUsage, t.CPUPercent, dims...)
	s.Gauge(MemUsage, float64(t.MemUsed), dims...)
	s.Gauge(MemLimit, float64(t.MemLimit), dims...)
	s.Gauge(NetRxBytes, float64(t.NetRx), dims...)
	s.Gauge(NetTxBytes, float64(t.NetTx), dims...)
	s.Gauge(IOReadBytes, float64(t.IORead), dims...)
	s.Gauge(IOWriteBytes, float64(t.IOWrite), dims...)
}
