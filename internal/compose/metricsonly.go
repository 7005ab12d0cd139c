package compose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/orbit-ci/orbit/shared/metrics"
)

// MetricsOnly configures the sinks of a process that records metrics and
// nothing else (`orbit docker-metrics` on the Nomad clients and VMs): no
// table, queue or installation secret, so no Assembly. Its drivers are the
// aws shape's (cwmetrics) and StatsD's, built as an Assembly builds them.
type MetricsOnly struct {
	// Namespace, when set, sends the metrics to CloudWatch in it
	// ($ORBIT_METRICS_NAMESPACE).
	Namespace string
	// AWS is where CloudWatch is: Region ($AWS_REGION, default
	// us-east-1), Endpoint ($ORBIT_AWS_ENDPOINT) and CloudWatchQuery
	// ($ORBIT_CLOUDWATCH_QUERY=1); the other fields are not read.
	AWS AWSConfig
	// StatsD, when its Addr is set, sends them to a StatsD or DogStatsD
	// agent ($ORBIT_STATSD_ADDR, $ORBIT_STATSD_MODE), beside CloudWatch
	// when both are set.
	StatsD StatsDConfig
}

// MetricsOnlyFromEnv reads a MetricsOnly from the variables named in its
// fields' comments.
func MetricsOnlyFromEnv(getenv func(string) string) (MetricsOnly, error) {
	sd, err := statsDFromEnv(getenv)
	if err != nil {
		return MetricsOnly{}, err
	}
	region := getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	return MetricsOnly{
		Namespace: getenv("ORBIT_METRICS_NAMESPACE"),
		AWS:       AWSConfig{Region: region, Endpoint: getenv("ORBIT_AWS_ENDPOINT"), CloudWatchQuery: getenv("ORBIT_CLOUDWATCH_QUERY") == "1"},
		StatsD:    sd,
	}, nil
}

// Sink builds the configured sinks and the runner that flushes them until
// its context ends (and once more then). At least one of Namespace and
// StatsD.Addr must be set.
func (c MetricsOnly) Sink(ctx context.Context, log *slog.Logger) (metrics.Sink, func(context.Context) error, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.Namespace == "" && c.StatsD.Addr == "" {
		return nil, nil, errors.New("no metrics destination: set a CloudWatch namespace ($ORBIT_METRICS_NAMESPACE) or a StatsD agent ($ORBIT_STATSD_ADDR)")
	}
	// StatsD alone tees beside Discard.
	var sink metrics.Sink = metrics.Discard
	run := func(ctx context.Context) error { <-ctx.Done(); return nil }
	if c.Namespace != "" {
		cfg, err := loadAWS(ctx, c.AWS)
		if err != nil {
			return nil, nil, err
		}
		cw, err := newCloudWatch(cfg, c.AWS.CloudWatchQuery, c.Namespace, log)
		if err != nil {
			return nil, nil, fmt.Errorf("CloudWatch namespace %s: %w", c.Namespace, err)
		}
		sink, run = cw, runCloudWatch(cw)
	}
	return withStatsD(c.StatsD, log, sink, run)
}
