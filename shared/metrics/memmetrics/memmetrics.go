// Package memmetrics is the embedded driver of the metrics port: the latest
// value of every series in memory, served as text, one series per line,
// sorted:
//
//	circle.nomad.server_agent.jobs.running 3
//	orbit.queue.depth{queue="run"} 0
package memmetrics

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/orbit-ci/orbit/shared/metrics"
)

// Store keeps series in memory.
type Store struct {
	mu     sync.Mutex
	series map[string]float64
}

var _ metrics.Sink = (*Store)(nil)

// New returns an empty Store.
func New() *Store { return &Store{series: map[string]float64{}} }

// Gauge implements metrics.Sink.
func (s *Store) Gauge(name string, value float64, dims ...metrics.Dimension) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[Series(name, dims...)] = value
}

// Count implements metrics.Sink.
func (s *Store) Count(name string, delta float64, dims ...metrics.Dimension) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[Series(name, dims...)] += delta
}

// Value returns a series' value and whether it was ever recorded.
func (s *Store) Value(name string, dims ...metrics.Dimension) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.series[Series(name, dims...)]
	return v, ok
}

// Series is a series' key: name{dim="value",…}, dimensions sorted by name.
func Series(name string, dims ...metrics.Dimension) string {
	if len(dims) == 0 {
		return name
	}
	ds := make([]metrics.Dimension, len(dims))
	copy(ds, dims)
	sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Name + "=" + strconv.Quote(d.Value)
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Handler serves every series as text.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		keys := make([]string, 0, len(s.series))
		for k := range s.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s %s\n", k, strconv.FormatFloat(s.series[k], 'g', -1, 64))
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(b.String()))
	})
}
