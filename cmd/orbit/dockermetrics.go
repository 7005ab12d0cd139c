package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/internal/compose"
	"github.com/orbit-ci/orbit/shared/hostmetrics/dockermetrics"
	"github.com/orbit-ci/orbit/shared/hostmetrics/dockerstats"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/statsdmetrics"
)

const dockerMetricsUsage = `usage: orbit docker-metrics [flags]

Records the Docker host metrics of this machine (shared/hostmetrics/
dockermetrics) every --interval: running containers and their summed CPU,
memory, network and block I/O, read from dockerd's socket, sent to
CloudWatch (--namespace) and/or a StatsD agent (--statsd-addr). The Nomad
clients and the VM service's VMs run it beside the CloudWatch agent.

  orbit docker-metrics --namespace Orbit/hosts \
    --dimension InstanceId=i-0abc --dimension AutoScalingGroupName=orbit-nomad-clients \
    --aggregate AutoScalingGroupName

Flags:
`

// cmdDockerMetrics runs the Docker metrics collector until ctx ends.
func cmdDockerMetrics(ctx context.Context, args []string) error {
	mc, err := compose.MetricsOnlyFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	logCfg := compose.Config{LogFormat: envOr("ORBIT_LOG_FORMAT", "text"), LogLevel: envOr("ORBIT_LOG_LEVEL", "info")}
	host := envOr("ORBIT_DOCKER_HOST", "unix://"+dockerstats.DefaultSocket)
	interval := time.Minute
	var dims dimensionFlag
	var aggs aggregateFlag
	fs := flag.NewFlagSet("docker-metrics", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), dockerMetricsUsage); fs.PrintDefaults() }
	fs.StringVar(&host, "docker-host", host, "dockerd's socket, unix:///path or /path ($ORBIT_DOCKER_HOST)")
	fs.DurationVar(&interval, "interval", interval, "how often the containers are read")
	fs.StringVar(&mc.Namespace, "namespace", mc.Namespace, "send to CloudWatch in this namespace ($ORBIT_METRICS_NAMESPACE)")
	fs.StringVar(&mc.StatsD.Addr, "statsd-addr", mc.StatsD.Addr, "send to the StatsD agent at host:port ($ORBIT_STATSD_ADDR)")
	fs.StringVar((*string)(&mc.StatsD.Mode), "statsd-mode", string(mc.StatsD.Mode), "dogstatsd or statsd ($ORBIT_STATSD_MODE)")
	fs.Var(&dims, "dimension", "a dimension of this host's series, Name=Value (repeatable)")
	fs.Var(&aggs, "aggregate", "also record a series with only these dimensions, Name[,Name] of --dimension's, or all for none (repeatable)")
	logCfg.LogFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: "orbit docker-metrics takes no arguments"}
	}
	switch mc.StatsD.Mode {
	case "", statsdmetrics.DogStatsD, statsdmetrics.StatsD:
	default:
		return fmt.Errorf("--statsd-mode %q: want %s or %s", mc.StatsD.Mode, statsdmetrics.DogStatsD, statsdmetrics.StatsD)
	}
	sets, err := dimensionSets(dims, aggs)
	if err != nil {
		return err
	}
	sock, err := dockerstats.SocketFromHost(host)
	if err != nil {
		return err
	}
	log, err := logCfg.Logger(os.Stderr)
	if err != nil {
		return err
	}
	client, err := dockerstats.New(dockerstats.Config{Socket: sock})
	if err != nil {
		return err
	}
	sink, runSink, err := mc.Sink(ctx, log)
	if err != nil {
		return err
	}
	c, err := dockermetrics.New(dockermetrics.Config{Source: client, Sink: sink, DimensionSets: sets, Interval: interval,
		Logger: log.With("component", "dockermetrics")})
	if err != nil {
		return err
	}
	sinkCtx, stopSink := context.WithCancel(context.WithoutCancel(ctx))
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- runSink(sinkCtx) }()
	log.Info("docker metrics started", "docker_host", "unix://"+sock, "interval", interval.String(),
		"namespace", mc.Namespace, "statsd_addr", mc.StatsD.Addr, "dimension_sets", len(sets))
	err = c.Run(ctx)
	stopSink() // after the last round: the final flush sends it
	if serr := <-sinkDone; serr != nil {
		log.Warn("final metrics flush", "error", serr)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// dimensionFlag collects --dimension Name=Value.
type dimensionFlag []metrics.Dimension

func (d *dimensionFlag) String() string {
	var parts []string
	for _, x := range *d {
		parts = append(parts, x.Name+"="+x.Value)
	}
	return strings.Join(parts, ",")
}

func (d *dimensionFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" || value == "" {
		return fmt.Errorf("%q: want Name=Value", s)
	}
	if slices.ContainsFunc(*d, func(x metrics.Dimension) bool { return x.Name == name }) {
		return fmt.Errorf("dimension %s given twice", name)
	}
	*d = append(*d, metrics.Dimension{Name: name, Value: value})
	return nil
}

// aggregateFlag collects --aggregate Name[,Name] (all: no dimension).
type aggregateFlag [][]string

func (a *aggregateFlag) String() string {
	var parts []string
	for _, names := range *a {
		parts = append(parts, strings.Join(names, ","))
	}
	return strings.Join(parts, " ")
}

func (a *aggregateFlag) Set(s string) error {
	if s == "all" {
		*a = append(*a, nil)
		return nil
	}
	names := strings.Split(s, ",")
	if slices.Contains(names, "") {
		return fmt.Errorf("%q: want Name[,Name] or all", s)
	}
	*a = append(*a, names)
	return nil
}

// dimensionSets is the host's set (dims; none when empty) and one set
// per --aggregate, each made of dims' values.
func dimensionSets(dims dimensionFlag, aggs aggregateFlag) ([][]metrics.Dimension, error) {
	sets := [][]metrics.Dimension{dims}
	for _, names := range aggs {
		var set []metrics.Dimension
		for _, n := range names {
			i := slices.IndexFunc(dims, func(x metrics.Dimension) bool { return x.Name == n })
			if i < 0 {
				return nil, fmt.Errorf("--aggregate %s: no --dimension %s=…", strings.Join(names, ","), n)
			}
			set = append(set, dims[i])
		}
		sets = append(sets, set)
	}
	return sets, nil
}
