package dockermetrics_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/hostmetrics/dockermetrics"
	"github.com/orbit-ci/orbit/shared/hostmetrics/dockerstats"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/memmetrics"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// source is a scripted dockerd for the collector's logic: List answers
// listErr or the containers of usage (in id order), Stats answers usage
// or statsErr of an id.
type source struct {
	mu       sync.Mutex
	listErr  error
	ids      []string
	usage    map[string]dockerstats.Usage
	statsErr map[string]error
	listed   chan struct{} // one value per List, when set
}

func (s *source) List(context.Context) ([]dockerstats.Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listed != nil {
		defer func() { s.listed <- struct{}{} }()
	}
	if s.listErr != nil {
		return nil, s.listErr
	}
	var out []dockerstats.Container
	for _, id := range s.ids {
		out = append(out, dockerstats.Container{ID: id, State: "running"})
	}
	return out, nil
}

func (s *source) Stats(_ context.Context, id string) (dockerstats.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.statsErr[id]; err != nil {
		return dockerstats.Usage{}, err
	}
	return s.usage[id], nil
}

func (s *source) set(f func(s *source)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func logger() (*slog.Logger, *testenv.Buffer) {
	var buf testenv.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), &buf
}

var (
	host  = []metrics.Dimension{{Name: "InstanceId", Value: "i-0abc"}, {Name: "AutoScalingGroupName", Value: "orbit-nomad-clients"}}
	group = []metrics.Dimension{{Name: "AutoScalingGroupName", Value: "orbit-nomad-clients"}}
)

// TestCollect: the gauges are the sums over the containers read, once per
// dimension set; a container that fails is logged and left out, one that
// vanished since List is not counted as running.
func TestCollect(t *testing.T) {
	src := &source{
		ids: []string{"a", "b", "broken", "gone"},
		usage: map[string]dockerstats.Usage{
			"a": {CPUPercent: 99.5, MemUsed: 100, MemLimit: 1000, NetRx: 1, NetTx: 2, IORead: 3, IOWrite: 4},
			"b": {CPUPercent: 0.5, MemUsed: 200, MemLimit: 2000, NetRx: 10, NetTx: 20, IORead: 30, IOWrite: 40},
		},
		statsErr: map[string]error{
			"broken": errors.New("docker GET /containers/broken/stats on unix:///x: HTTP 500: cgroup read failed"),
			"gone":   &dockerstats.StatusError{Status: http.StatusNotFound, Message: "No such container: gone"},
		},
	}
	sink := memmetrics.New()
	log, buf := logger()
	c, err := dockermetrics.New(dockermetrics.Config{Source: src, Sink: sink, DimensionSets: [][]metrics.Dimension{host, group}, Logger: log})
	require.NoError(t, err)
	require.NoError(t, c.Collect(t.Context()))

	want := map[string]float64{
		dockermetrics.ContainersRunning: 3, // a, b and broken; gone stopped
		dockermetrics.CPUUsage:          100,
		dockermetrics.MemUsage:          300, dockermetrics.MemLimit: 3000,
		dockermetrics.NetRxBytes: 11, dockermetrics.NetTxBytes: 22,
		dockermetrics.IOReadBytes: 33, dockermetrics.IOWriteBytes: 44,
	}
	assert.Len(t, want, len(dockermetrics.Names))
	for _, dims := range [][]metrics.Dimension{host, group} {
		for _, name := range dockermetrics.Names {
			v, ok := sink.Value(name, dims...)
			require.True(t, ok, "%s %v recorded", name, dims)
			assert.InDelta(t, want[name], v, 1e-9, "%s %v", name, dims)
		}
	}
	_, ok := sink.Value(dockermetrics.ContainersRunning)
	assert.False(t, ok, "no series without dimensions unless asked for")
	assert.Contains(t, buf.String(), "cgroup read failed")
	assert.Contains(t, buf.String(), "container_id=broken")
	assert.NotContains(t, buf.String(), "container_id=gone", "a build that ended is no failure")
}

// TestOutage: while dockerd does not answer nothing is recorded and the
// outage is logged once, not every round; its end is logged too.
func TestOutage(t *testing.T) {
	src := &source{listErr: errors.New("dial unix /var/run/docker.sock: connect: connection refused")}
	sink := memmetrics.New()
	log, buf := logger()
	c, err := dockermetrics.New(dockermetrics.Config{Source: src, Sink: sink, DimensionSets: [][]metrics.Dimension{host}, Logger: log})
	require.NoError(t, err)
	for range 3 {
		assert.ErrorContains(t, c.Collect(t.Context()), "connection refused")
	}
	_, ok := sink.Value(dockermetrics.ContainersRunning, host...)
	assert.False(t, ok, "dockerd down records nothing: a gap, not a zero")
	assert.Equal(t, 1, strings.Count(buf.String(), "docker unreachable"), buf.String())

	src.set(func(s *source) { s.listErr = nil })
	require.NoError(t, c.Collect(t.Context()))
	v, ok := sink.Value(dockermetrics.ContainersRunning, host...)
	assert.True(t, ok)
	assert.Zero(t, v, "no containers")
	assert.Contains(t, buf.String(), "docker answers again")

	src.set(func(s *source) { s.listErr = errors.New("down again") })
	assert.Error(t, c.Collect(t.Context()))
	assert.Equal(t, 2, strings.Count(buf.String(), "docker unreachable"), "a new outage is logged")
}

// ticker is a clock whose After hands out one channel the test ticks.
type ticker struct{ ticks chan time.Time }

func (k ticker) After(time.Duration) <-chan time.Time { return k.ticks }

// TestRun: a round at once, one per tick, and Run ends with its context.
func TestRun(t *testing.T) {
	src := &source{ids: []string{"a"}, usage: map[string]dockerstats.Usage{"a": {MemUsed: 5}}, listed: make(chan struct{}, 1)}
	sink := memmetrics.New()
	clk := ticker{ticks: make(chan time.Time)}
	c, err := dockermetrics.New(dockermetrics.Config{Source: src, Sink: sink, Clock: clk})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-src.listed // the first round, before any tick
	src.set(func(s *source) { s.usage["a"] = dockerstats.Usage{MemUsed: 7} })
	clk.ticks <- time.Now()
	<-src.listed
	clk.ticks <- time.Now() // Run is waiting again: the second round recorded
	<-src.listed
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	v, ok := sink.Value(dockermetrics.MemUsage)
	assert.True(t, ok)
	assert.Equal(t, 7.0, v)
}

func TestNew(t *testing.T) {
	_, err := dockermetrics.New(dockermetrics.Config{Sink: metrics.Discard})
	assert.ErrorContains(t, err, "no Docker source")
	_, err = dockermetrics.New(dockermetrics.Config{Source: &source{}})
	assert.ErrorContains(t, err, "no metrics sink")
}

// TestDockerdDown: the real client on a socket nobody serves.
func TestDockerdDown(t *testing.T) {
	dir, err := os.MkdirTemp("", "dm")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	client, err := dockerstats.New(dockerstats.Config{Socket: filepath.Join(dir, "docker.sock")})
	require.NoError(t, err)
	sink := memmetrics.New()
	c, err := dockermetrics.New(dockermetrics.Config{Source: client, Sink: sink})
	require.NoError(t, err)
	err = c.Collect(t.Context())
	assert.ErrorContains(t, err, "unix://"+filepath.Join(dir, "docker.sock"))
	_, ok := sink.Value(dockermetrics.ContainersRunning)
	assert.False(t, ok)
}

// TestDockerd: one round on a real dockerd with a container burning CPU
// and one holding 16 MiB of memory.
func TestDockerd(t *testing.T) {
	h := testenv.Docker(t)
	sock, err := dockerstats.SocketFromHost(h)
	require.NoError(t, err)
	client, err := dockerstats.New(dockerstats.Config{Socket: sock})
	require.NoError(t, err)
	testenv.RunContainer(t, h, "dm-burner", "while :; do :; done")
	holder := testenv.RunContainer(t, h, "dm-holder", "dd if=/dev/zero of=/dev/shm/held bs=1M count=16 && touch /ready && exec sleep 3600")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for deadline := time.Now().Add(time.Minute); ; { // until the holder holds its memory
		u, err := client.Stats(ctx, holder)
		require.NoError(t, err)
		if u.MemUsed >= 16<<20 || time.Now().After(deadline) {
			break
		}
	}
	sink := memmetrics.New()
	c, err := dockermetrics.New(dockermetrics.Config{Source: client, Sink: sink, DimensionSets: [][]metrics.Dimension{host}})
	require.NoError(t, err)
	require.NoError(t, c.Collect(ctx))
	value := func(name string) float64 {
		v, ok := sink.Value(name, host...)
		require.True(t, ok, name)
		return v
	}
	assert.GreaterOrEqual(t, value(dockermetrics.ContainersRunning), 2.0)
	assert.Greater(t, value(dockermetrics.CPUUsage), 0.0, "the burner")
	assert.GreaterOrEqual(t, value(dockermetrics.MemUsage), float64(16<<20), "the holder")
	assert.GreaterOrEqual(t, value(dockermetrics.MemLimit), value(dockermetrics.MemUsage))
	for _, name := range dockermetrics.Names {
		value(name) // every gauge recorded
	}
}
