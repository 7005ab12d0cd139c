package compose

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv"
)

func TestMetricsOnlyFromEnv(t *testing.T) {
	c, err := MetricsOnlyFromEnv(env(map[string]string{"ORBIT_METRICS_NAMESPACE": "Orbit/hosts", "AWS_REGION": "eu-west-1",
		"ORBIT_STATSD_ADDR": "127.0.0.1:8125"}))
	require.NoError(t, err)
	assert.Equal(t, MetricsOnly{Namespace: "Orbit/hosts", AWS: AWSConfig{Region: "eu-west-1"}, StatsD: StatsDConfig{Addr: "127.0.0.1:8125"}}, c)
	_, err = MetricsOnlyFromEnv(env(map[string]string{"ORBIT_STATSD_MODE": "graphite"}))
	assert.ErrorContains(t, err, "ORBIT_STATSD_MODE")
	_, _, err = MetricsOnly{}.Sink(t.Context(), nil)
	assert.ErrorContains(t, err, "no metrics destination")
}

// TestMetricsOnlySinks: a gauge reaches CloudWatch (moto) in the namespace
// and the StatsD agent, both sent when the runner ends.
func TestMetricsOnlySinks(t *testing.T) {
	cfg := testenv.AWS(t, "ORBIT_MOTO_ENDPOINT")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	agent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer agent.Close()
	ns := fmt.Sprintf("Orbit/test-%d", time.Now().UnixNano())
	c := MetricsOnly{Namespace: ns, AWS: AWSConfig{Region: cfg.Region, Endpoint: *cfg.BaseEndpoint, CloudWatchQuery: true},
		StatsD: StatsDConfig{Addr: agent.LocalAddr().String()}}
	sink, run, err := c.Sink(t.Context(), nil)
	require.NoError(t, err)
	sink.Gauge("docker.containers.running", 3)
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- run(ctx) }()
	cancel()
	require.NoError(t, <-ran)

	require.NoError(t, agent.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 2048)
	n, err := agent.Read(buf)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(buf[:n]), "docker.containers.running:3|g"), "%q", buf[:n])

	cw := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801) })
	out, err := cw.ListMetrics(t.Context(), &cloudwatch.ListMetricsInput{Namespace: aws.String(ns)})
	require.NoError(t, err)
	require.Len(t, out.Metrics, 1)
	assert.Equal(t, "docker.containers.running", aws.ToString(out.Metrics[0].MetricName))
}
