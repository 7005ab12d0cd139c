package metrics_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/memmetrics"
)

func TestTeeRecordsIntoEverySink(t *testing.T) {
	a, b := memmetrics.New(), memmetrics.New()
	s := metrics.Tee(a, b)
	d := metrics.Dimension{Name: "queue", Value: "run"}
	s.Gauge("g", 3, d)
	s.Count("c", 2)
	s.Count("c", 1)
	for _, m := range []*memmetrics.Store{a, b} {
		g, ok := m.Value("g", d)
		assert.True(t, ok)
		assert.Equal(t, 3.0, g)
		c, ok := m.Value("c")
		assert.True(t, ok)
		assert.Equal(t, 3.0, c)
	}
}
