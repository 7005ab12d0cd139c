package compose

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/statsdmetrics"
)

// StatsDConfig sends Orbit's metrics to a StatsD or DogStatsD agent as well
// as to the shape's own sink (memory or CloudWatch): the seed's built-in
// Datadog option, and Telegraf's statsd input.
type StatsDConfig struct {
	// Addr is the agent's UDP host:port ($ORBIT_STATSD_ADDR, e.g.
	// 127.0.0.1:8125 for a Datadog or Telegraf agent on the host). Empty:
	// no StatsD.
	Addr string
	// Mode is dogstatsd (tags as |#k:v, the default) or statsd (plain
	// StatsD: dimensions folded into the metric name) ($ORBIT_STATSD_MODE).
	Mode statsdmetrics.Mode
}

func statsDFromEnv(getenv func(string) string) (StatsDConfig, error) {
	c := StatsDConfig{Addr: getenv("ORBIT_STATSD_ADDR"), Mode: statsdmetrics.Mode(getenv("ORBIT_STATSD_MODE"))}
	switch c.Mode {
	case "", statsdmetrics.DogStatsD, statsdmetrics.StatsD:
		return c, nil
	}
	return StatsDConfig{}, fmt.Errorf("ORBIT_STATSD_MODE=%q: want %s or %s", c.Mode, statsdmetrics.DogStatsD, statsdmetrics.StatsD)
}

// withStatsD adds the StatsD sink, when configured, beside sink and its
// runner run.
func (a *Assembly) withStatsD(sink metrics.Sink, run func(context.Context) error) (metrics.Sink, func(context.Context) error, error) {
	return withStatsD(a.cfg.StatsD, a.log, sink, run)
}

// withStatsD adds c's StatsD sink, when c has an address, beside sink
// and its runner run.
func withStatsD(c StatsDConfig, log *slog.Logger, sink metrics.Sink, run func(context.Context) error) (metrics.Sink, func(context.Context) error, error) {
	if c.Addr == "" {
		return sink, run, nil
	}
	sd, err := statsdmetrics.New(statsdmetrics.Config{Addr: c.Addr, Mode: c.Mode,
		Logger: log.With("component", "statsdmetrics")})
	if err != nil {
		return nil, nil, fmt.Errorf("ORBIT_STATSD_ADDR=%s: %w", c.Addr, err)
	}
	both := func(ctx context.Context) error {
		done := make(chan error, 1)
		go func() { done <- run(ctx) }()
		_ = sd.Run(ctx)
		final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = sd.Close(final) // logged by the sink
		return <-done
	}
	return metrics.Tee(sink, sd), both, nil
}
