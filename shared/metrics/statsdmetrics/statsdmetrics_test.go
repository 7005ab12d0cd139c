package statsdmetrics_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/metricstest"
	"github.com/orbit-ci/orbit/shared/metrics/statsdmetrics"
)

// agent is a StatsD server in the test: it decodes every datagram it
// receives the way the Datadog agent or Telegraf would, independently of
// the sink's code (gauges: last value, a signed value changes it; counts
// add), keyed by the series as the reader asks for it.
type agent struct {
	t    *testing.T
	conn *net.UDPConn
	mode statsdmetrics.Mode

	mu       sync.Mutex
	received int64
	values   map[string]float64
	sizes    []int
	bad      []string
}

func newAgent(t *testing.T, mode statsdmetrics.Mode) *agent {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	_ = conn.SetReadBuffer(8 << 20) // the suite sends 1500 series in one flush
	a := &agent{t: t, conn: conn, mode: mode, values: map[string]float64{}}
	done := make(chan struct{})
	go a.serve(done)
	t.Cleanup(func() { _ = conn.Close(); <-done })
	return a
}

func (a *agent) addr() string { return a.conn.LocalAddr().String() }

func (a *agent) serve(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 65536)
	for {
		n, err := a.conn.Read(buf)
		if err != nil {
			return
		}
		a.mu.Lock()
		a.received++
		a.sizes = append(a.sizes, n)
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			a.apply(line)
		}
		a.mu.Unlock()
	}
}

// apply decodes name:value|type[|#tags].
func (a *agent) apply(line string) {
	name, rest, ok := strings.Cut(line, ":")
	if !ok {
		a.bad = append(a.bad, line)
		return
	}
	fields := strings.Split(rest, "|")
	if len(fields) < 2 {
		a.bad = append(a.bad, line)
		return
	}
	key := name
	if len(fields) == 3 {
		if !strings.HasPrefix(fields[2], "#") || a.mode == statsdmetrics.StatsD {
			a.bad = append(a.bad, line)
			return
		}
		tags := strings.Split(fields[2][1:], ",")
		slices.Sort(tags)
		key += "|#" + strings.Join(tags, ",")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		a.bad = append(a.bad, line)
		return
	}
	switch fields[1] {
	case "c":
		a.values[key] += v
	case "g":
		if strings.HasPrefix(fields[0], "+") || strings.HasPrefix(fields[0], "-") {
			a.values[key] += v
		} else {
			a.values[key] = v
		}
	default:
		a.bad = append(a.bad, line)
	}
}

// key is how the agent files a series: DogStatsD tags sorted, or the
// dimensions folded into the name.
func (a *agent) key(name string, dims []metrics.Dimension) string {
	sorted := slices.Clone(dims)
	slices.SortFunc(sorted, func(x, y metrics.Dimension) int { return strings.Compare(x.Name, y.Name) })
	if a.mode == statsdmetrics.StatsD {
		for _, d := range sorted {
			name += "." + d.Name + "." + d.Value
		}
		return name
	}
	if len(sorted) == 0 {
		return name
	}
	tags := make([]string, len(sorted))
	for i, d := range sorted {
		tags[i] = d.Name + ":" + d.Value
	}
	slices.Sort(tags)
	return name + "|#" + strings.Join(tags, ",")
}

// reader is the conformance suite's view: a flush is done when the agent
// has every datagram the sink wrote.
type reader struct {
	sink  *statsdmetrics.Sink
	agent *agent
}

func (r reader) Flush(ctx context.Context) error {
	err := r.sink.Flush(ctx)
	want := r.sink.Stats().Packets
	for {
		r.agent.mu.Lock()
		got := r.agent.received
		r.agent.mu.Unlock()
		if got >= want {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent received %d of %d datagrams: %w", got, want, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (r reader) Value(_ context.Context, name string, dims ...metrics.Dimension) (float64, bool, error) {
	r.agent.mu.Lock()
	defer r.agent.mu.Unlock()
	if len(r.agent.bad) > 0 {
		return 0, false, fmt.Errorf("agent could not decode %q", r.agent.bad)
	}
	v, ok := r.agent.values[r.agent.key(name, dims)]
	return v, ok, nil
}

// silentAddr is a UDP socket that receives and never reads.
func silentAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c.LocalAddr().String()
}

func newDriver(mode statsdmetrics.Mode) metricstest.NewDriver {
	return func(t *testing.T, cfg metricstest.Config) (metrics.Sink, metricstest.Reader) {
		a := newAgent(t, mode)
		addr := a.addr()
		if cfg.Unreachable {
			addr = silentAddr(t)
		}
		s, err := statsdmetrics.New(statsdmetrics.Config{Addr: addr, Mode: mode})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		return s, reader{sink: s, agent: a}
	}
}

func TestConformanceDogStatsD(t *testing.T) { metricstest.Run(t, newDriver(statsdmetrics.DogStatsD)) }

func TestConformanceStatsD(t *testing.T) { metricstest.Run(t, newDriver(statsdmetrics.StatsD)) }

func TestWireFormat(t *testing.T) {
	tests := []struct {
		name   string
		mode   statsdmetrics.Mode
		record func(s *statsdmetrics.Sink)
		want   []string
	}{
		{"dogstatsd tags sorted", statsdmetrics.DogStatsD, func(s *statsdmetrics.Sink) {
			s.Gauge("circle.nomad.server_agent.jobs.running", 3, metrics.Dimension{Name: "region", Value: "eu"},
				metrics.Dimension{Name: "queue", Value: "run"})
		}, []string{"circle.nomad.server_agent.jobs.running:3|g|#queue:run,region:eu"}},
		{"count without tags", statsdmetrics.DogStatsD, func(s *statsdmetrics.Sink) {
			s.Count("orbit.dispatched", 1)
			s.Count("orbit.dispatched", 1.5)
		}, []string{"orbit.dispatched:2.5|c"}},
		{"statsd folds dimensions into the name", statsdmetrics.StatsD, func(s *statsdmetrics.Sink) {
			s.Count("orbit.failed", 2, metrics.Dimension{Name: "reason", Value: "time:out|x"})
		}, []string{"orbit.failed.reason.time_out_x:2|c"}},
		{"negative gauge is reset first", statsdmetrics.StatsD, func(s *statsdmetrics.Sink) {
			s.Gauge("orbit.delta", -4)
		}, []string{"orbit.delta:0|g\norbit.delta:-4|g"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			require.NoError(t, err)
			defer conn.Close()
			s, err := statsdmetrics.New(statsdmetrics.Config{Addr: conn.LocalAddr().String(), Mode: tc.mode})
			require.NoError(t, err)
			defer s.Close(context.Background())
			tc.record(s)
			require.NoError(t, s.Flush(t.Context()))
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
			buf := make([]byte, 2048)
			n, err := conn.Read(buf)
			require.NoError(t, err)
			assert.Equal(t, strings.Join(tc.want, "\n"), string(buf[:n]))
		})
	}
}

// TestPacketsAndDrops: datagrams stay within MaxPacket, a series longer
// than one is dropped and counted, and series beyond MaxSeries are dropped
// and counted while the others arrive.
func TestPacketsAndDrops(t *testing.T) {
	a := newAgent(t, statsdmetrics.DogStatsD)
	s, err := statsdmetrics.New(statsdmetrics.Config{Addr: a.addr(), MaxSeries: 300})
	require.NoError(t, err)
	defer s.Close(context.Background())
	for i := range 310 {
		s.Count("orbit.test.packets", 1, metrics.Dimension{Name: "index", Value: fmt.Sprintf("%04d", i)})
	}
	require.NoError(t, reader{s, a}.Flush(t.Context()))
	assert.EqualValues(t, 10, s.Stats().Dropped, "the 10 series beyond MaxSeries")

	s.Gauge(strings.Repeat("x", statsdmetrics.DefaultMaxPacket), 1)
	s.Gauge("orbit.test.short", 1)
	require.NoError(t, reader{s, a}.Flush(t.Context()))
	assert.EqualValues(t, 11, s.Stats().Dropped, "and the series too long for a datagram")

	a.mu.Lock()
	defer a.mu.Unlock()
	assert.Empty(t, a.bad)
	assert.Len(t, a.values, 301)
	assert.Greater(t, len(a.sizes), 5, "300 series need several datagrams")
	for _, n := range a.sizes {
		assert.LessOrEqual(t, n, statsdmetrics.DefaultMaxPacket)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []statsdmetrics.Config{
		{},
		{Addr: "127.0.0.1:8125", Mode: "graphite"},
		{Addr: "127.0.0.1:8125", MaxPacket: 70000},
		{Addr: "127.0.0.1:8125", Interval: -time.Second},
	} {
		_, err := statsdmetrics.New(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}
