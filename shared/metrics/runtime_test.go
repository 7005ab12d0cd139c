package metrics_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/memmetrics"
)

func TestRunRuntimeRecordsGauges(t *testing.T) {
	runtime.GC() // the live heap is what a collection found: 0 before the first
	sink := memmetrics.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.RunRuntime(ctx, sink, time.Hour) }()
	require.Eventually(t, func() bool {
		_, ok := sink.Value(metrics.RuntimeHeapInuse)
		return ok
	}, 10*time.Second, 10*time.Millisecond)
	g, ok := sink.Value(metrics.RuntimeGoroutines)
	require.True(t, ok)
	assert.GreaterOrEqual(t, g, 2.0, "the test's goroutine and RunRuntime's")
	h, _ := sink.Value(metrics.RuntimeHeapInuse)
	assert.Greater(t, h, 0.0)
	live, ok := sink.Value(metrics.RuntimeHeapLive)
	require.True(t, ok, "the live heap is recorded with the others")
	assert.Greater(t, live, 0.0)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}
