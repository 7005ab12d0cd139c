package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/hostmetrics/dockermetrics"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/testenv"
)

func TestDockerMetricsFlags(t *testing.T) {
	t.Setenv("ORBIT_METRICS_NAMESPACE", "")
	t.Setenv("ORBIT_STATSD_ADDR", "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no destination", args: nil, want: "no metrics destination"},
		{name: "tcp docker host", args: []string{"--statsd-addr", "127.0.0.1:1", "--docker-host", "tcp://10.0.0.1:2375"}, want: "only unix sockets"},
		{name: "bad dimension", args: []string{"--dimension", "InstanceId"}, want: `"InstanceId": want Name=Value`},
		{name: "dimension twice", args: []string{"--dimension", "A=1", "--dimension", "A=2"}, want: "dimension A given twice"},
		{name: "aggregate of an unknown dimension", args: []string{"--statsd-addr", "127.0.0.1:1", "--dimension", "InstanceId=i-1", "--aggregate", "AutoScalingGroupName"},
			want: "--aggregate AutoScalingGroupName: no --dimension AutoScalingGroupName="},
		{name: "bad statsd mode", args: []string{"--statsd-addr", "127.0.0.1:1", "--statsd-mode", "graphite"}, want: `--statsd-mode "graphite"`},
		{name: "arguments", args: []string{"extra"}, want: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cmdDockerMetrics(t.Context(), tt.args)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestDimensionSets(t *testing.T) {
	var dims dimensionFlag
	require.NoError(t, dims.Set("InstanceId=i-1"))
	require.NoError(t, dims.Set("AutoScalingGroupName=g"))
	var aggs aggregateFlag
	require.NoError(t, aggs.Set("AutoScalingGroupName"))
	require.NoError(t, aggs.Set("all"))
	assert.Error(t, aggs.Set("a,,b"))
	sets, err := dimensionSets(dims, aggs)
	require.NoError(t, err)
	assert.Equal(t, [][]metrics.Dimension{
		{{Name: "InstanceId", Value: "i-1"}, {Name: "AutoScalingGroupName", Value: "g"}},
		{{Name: "AutoScalingGroupName", Value: "g"}},
		nil,
	}, sets)
}

// TestDockerMetricsCommand runs `orbit docker-metrics` on the test dockerd
// with a StatsD agent of the test's: the host's series and the aggregate
// arrive (at the sink's first flush, within 10 s).
func TestDockerMetricsCommand(t *testing.T) {
	host := testenv.Docker(t)
	testenv.RunContainer(t, host, "cmd-burner", "while :; do :; done")
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer conn.Close()
	t.Setenv("ORBIT_METRICS_NAMESPACE", "")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"docker-metrics", "--docker-host", host, "--statsd-addr", conn.LocalAddr().String(),
			"--dimension", "InstanceId=i-test", "--aggregate", "all", "--log-level", "warn"})
	}()
	var host1, all bool
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Minute)))
	buf := make([]byte, 64<<10)
	for !host1 || !all {
		n, err := conn.Read(buf)
		require.NoError(t, err, "no docker.containers.running from orbit docker-metrics")
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			name, rest, _ := strings.Cut(line, ":")
			if name != dockermetrics.ContainersRunning {
				continue
			}
			value, tags, _ := strings.Cut(rest, "|g")
			assert.NotEqual(t, "0", value, "the burner runs")
			host1 = host1 || tags == "|#InstanceId:i-test"
			all = all || tags == ""
		}
	}
	cancel()
	assert.NoError(t, <-done)
}
