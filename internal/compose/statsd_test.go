package compose

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatsDFromEnv(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"ORBIT_STATSD_ADDR": "127.0.0.1:8125", "ORBIT_STATSD_MODE": "statsd"}))
	require.NoError(t, err)
	assert.Equal(t, StatsDConfig{Addr: "127.0.0.1:8125", Mode: "statsd"}, c.StatsD)
	_, err = FromEnv(env(map[string]string{"ORBIT_STATSD_MODE": "graphite"}))
	assert.ErrorContains(t, err, `ORBIT_STATSD_MODE="graphite"`)
}

// TestMetricsGoToStatsDBeside: with a StatsD address the embedded shape's
// sink still serves /metrics, and RunMetrics sends the same series to the
// agent when it ends.
func TestMetricsGoToStatsDBeside(t *testing.T) {
	agent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer agent.Close()
	cfg, err := FromEnv(env(map[string]string{"ORBIT_DATA": t.TempDir(), "ORBIT_STATSD_ADDR": agent.LocalAddr().String()}))
	require.NoError(t, err)
	a, err := New(t.Context(), cfg, "test", nil)
	require.NoError(t, err)
	defer a.Close()
	sink, err := a.Metrics()
	require.NoError(t, err)
	sink.Gauge("circle.nomad.server_agent.jobs.running", 2)

	v, ok := a.mem.Value("circle.nomad.server_agent.jobs.running")
	assert.True(t, ok)
	assert.Equal(t, 2.0, v)

	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- a.RunMetrics(ctx) }()
	cancel()
	<-ran
	require.NoError(t, agent.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 2048)
	n, err := agent.Read(buf)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(buf[:n]), "circle.nomad.server_agent.jobs.running:2|g"), "%q", buf[:n])
}
