package memmetrics_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/memmetrics"
	"github.com/orbit-ci/orbit/shared/metrics/metricstest"
)

func TestConformance(t *testing.T) {
	metricstest.Run(t, func(*testing.T, metricstest.Config) (metrics.Sink, metricstest.Reader) {
		s := memmetrics.New()
		return s, reader{s}
	})
}

// reader reads a Store back for the suite: it has no backend to flush to.
type reader struct{ s *memmetrics.Store }

func (reader) Flush(context.Context) error { return nil }

func (r reader) Value(_ context.Context, name string, dims ...metrics.Dimension) (float64, bool, error) {
	v, ok := r.s.Value(name, dims...)
	return v, ok, nil
}

func TestStore(t *testing.T) {
	s := memmetrics.New()
	q := metrics.Dimension{Name: "queue", Value: "run"}
	r := metrics.Dimension{Name: "region", Value: "eu"}
	s.Gauge(metrics.NomadJobsRunning, 3)
	s.Gauge(metrics.NomadJobsRunning, 2)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { s.Count("orbit.dispatched", 1, r, q) })
	}
	wg.Wait()
	s.Count("orbit.dispatched", 0.5, q, r) // same series, dimensions in another order

	v, ok := s.Value(metrics.NomadJobsRunning)
	assert.True(t, ok)
	assert.Equal(t, 2.0, v)
	v, _ = s.Value("orbit.dispatched", q, r)
	assert.Equal(t, 10.5, v)
	_, ok = s.Value("never")
	assert.False(t, ok)

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "circle.nomad.server_agent.jobs.running 2\norbit.dispatched{queue=\"run\",region=\"eu\"} 10.5\n", rec.Body.String())
	metrics.Discard.Gauge("x", 1)
}
