// Package metricstest is the conformance suite of the metrics port: every
// Sink driver runs Run, and the suite reads back what the driver reported
// through a Reader the driver's test provides (memmetrics: its Store;
// CloudWatch: GetMetricData on the namespace the sink writes to), so the
// embedded driver cannot drift from CloudWatch.
//
// What it pins, from the package comment of metrics:
//   - Gauge replaces the series' value within a reporting period; Count adds;
//     a flush reports each series once, and a flush with nothing new
//     reports nothing more.
//   - a series is its name plus its dimensions, in any order; a different
//     dimension set (one more, one fewer, another value) is another series.
//   - every series recorded is reported, however many (CloudWatch takes at
//     most 1000 per call).
//   - concurrent recording and flushing lose nothing.
//   - recording never blocks, even while the backend does not answer.
//
// Metric names are unique to each Run (a random token), so a long-lived
// backend shared by several runs gives each its own series.
package metricstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/metrics"
)

// Reader reads back what a driver reported, as an operator would see it.
type Reader interface {
	// Flush reports everything recorded so far to the backend and returns
	// once it can be read back. A driver without a backend does nothing.
	// It returns when ctx ends, even if the backend does not answer.
	Flush(ctx context.Context) error
	// Value returns what the backend holds for exactly this series (name
	// and dimensions, in any order) after the flushes so far, and whether
	// the series was ever reported. A backend that keeps the current value
	// (memmetrics) returns it; one that stores a data point per reporting
	// period (CloudWatch) returns the sum of the series' data points. The
	// two agree on everything the suite reads: the total of the counts, and
	// a gauge that was set within a single reporting period.
	//
	// The suite never reads a series without dimensions whose name also has
	// series with dimensions in the same test: moto's GetMetricData matches
	// every dimension set when the query names none (CloudWatch matches
	// exactly). Different dimension sets are compared with dimensions.
	Value(ctx context.Context, name string, dims ...metrics.Dimension) (float64, bool, error)
}

// Config describes the driver the suite asks newDriver for.
type Config struct {
	// Unreachable asks for a sink whose backend accepts connections and
	// never answers (a driver without a backend ignores it). The suite only
	// records into it and flushes it with deadlines; it never reads it.
	Unreachable bool
}

// NewDriver makes a fresh sink and its reader for one test and arranges
// their cleanup with t.Cleanup. It fails t when it cannot.
type NewDriver func(t *testing.T, cfg Config) (metrics.Sink, Reader)

// patience bounds every wait for something that should happen.
const patience = 15 * time.Second

// Run runs the conformance suite against the driver that newDriver makes.
func Run(t *testing.T, newDriver NewDriver) {
	t.Helper()
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	prefix := "orbit.test." + hex.EncodeToString(b[:]) + "."

	tests := []struct {
		name string
		run  func(t *testing.T, prefix string, newDriver NewDriver)
	}{
		{"GaugeReplaces", testGaugeReplaces},
		{"CountAdds", testCountAdds},
		{"DimensionOrderIsIrrelevant", testDimensionOrder},
		{"DimensionsMakeSeries", testDimensionsMakeSeries},
		{"NeverRecorded", testNeverRecorded},
		{"ManySeries", testManySeries},
		{"ConcurrentRecordAndFlush", testConcurrent},
		{"RecordingNeverBlocks", testNeverBlocks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, prefix+tc.name+".", newDriver)
		})
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*patience)
	t.Cleanup(cancel)
	return ctx
}

func dim(name, value string) metrics.Dimension { return metrics.Dimension{Name: name, Value: value} }

// requireValue checks that the series reads back as want.
func requireValue(ctx context.Context, t *testing.T, r Reader, want float64, name string, dims ...metrics.Dimension) {
	t.Helper()
	got, ok, err := r.Value(ctx, name, dims...)
	require.NoError(t, err, "read %s %v", name, dims)
	require.True(t, ok, "%s %v was never reported", name, dims)
	assert.Equal(t, want, got, "%s %v", name, dims)
}

// requireAbsent checks that the series was never reported.
func requireAbsent(ctx context.Context, t *testing.T, r Reader, name string, dims ...metrics.Dimension) {
	t.Helper()
	got, ok, err := r.Value(ctx, name, dims...)
	require.NoError(t, err, "read %s %v", name, dims)
	assert.False(t, ok, "%s %v reads %v, but was never recorded", name, dims, got)
}

func testGaugeReplaces(t *testing.T, prefix string, newDriver NewDriver) {
	ctx := testContext(t)
	s, r := newDriver(t, Config{})
	running := prefix + "jobs.running"
	queued := prefix + "jobs.queued"
	s.Gauge(running, 3)
	s.Gauge(running, 5)
	s.Gauge(running, 2)
	s.Gauge(queued, 7, dim("queue", "run"))
	s.Gauge(queued, 0, dim("queue", "run")) // zero is a value, not an absence
	require.NoError(t, r.Flush(ctx))
	requireValue(ctx, t, r, 2, running)
	requireValue(ctx, t, r, 0, queued, dim("queue", "run"))

	// A flush with nothing new recorded reports nothing more.
	require.NoError(t, r.Flush(ctx))
	requireValue(ctx, t, r, 2, running)
	requireValue(ctx, t, r, 0, queued, dim("queue", "run"))
}

func testCountAdds(t *testing.T, prefix string, newDriver NewDriver) {
	ctx := testContext(t)
	s, r := newDriver(t, Config{})
	dispatched := prefix + "dispatched"
	failed := prefix + "failed"
	s.Count(dispatched, 1)
	s.Count(dispatched, 2)
	s.Count(dispatched, 0.5)
	s.Count(failed, 1, dim("reason", "timeout"))
	require.NoError(t, r.Flush(ctx))
	requireValue(ctx, t, r, 3.5, dispatched)

	// Counts of later periods add to the total; nothing is counted twice.
	s.Count(dispatched, 4)
	s.Count(failed, 2, dim("reason", "timeout"))
	require.NoError(t, r.Flush(ctx))
	require.NoError(t, r.Flush(ctx))
	requireValue(ctx, t, r, 7.5, dispatched)
	requireValue(ctx, t, r, 3, failed, dim("reason", "timeout"))
}

func testDimensionOrder(t *testing.T, prefix string, newDriver NewDriver) {
	ctx := testContext(t)
	s, r := newDriver(t, Config{})
	count, gauge := prefix+"count", prefix+"gauge"
	q, reg, cls := dim("queue", "run"), dim("region", "eu"), dim("class", "medium")
	s.Count(count, 1, q, reg, cls)
	s.Count(count, 2, cls, reg, q)
	s.Count(count, 4, reg, q, cls)
	s.Gauge(gauge, 6, q, reg)
	s.Gauge(gauge, 9, reg, q)
	require.NoError(t, r.Flush(ctx))
	requireValue(ctx, t, r, 7, count, q, reg, cls)
	requireValue(ctx, t, r, 7, count, cls, q, reg)
	requireValue(ctx, t, r, 9, gauge, q, reg)
	requireValue(ctx, t, r, 9, gauge, reg, q)
}

func testDimensionsMakeSeries(t *testing.T, prefix string, newDriver NewDriver) {
	ctx := testContext(t)
	s, r := newDriver(t, Config{})
	name := prefix + "depth"
	run, dlq, eu := dim("queue", "run"), dim("queue", "dlq"), dim("region", "eu")
	s.Count(name, 1) // no dimensions: its own series, never read here (see Reader)
	s.Count(name, 2, run)
	s.Count(name, 4, dlq)
	s.Count(name, 8, run, eu)
	s.Count(name, 16, eu)
	s.Gauge(name+".max", 32, run) // another name, same dimensions
	require.NoError(t, r.Flush(ctx))

	requireValue(ctx, t, r, 2, name, run)
	requireValue(ctx, t, r, 4, name, dlq)
	requireValue(ctx, t, r, 8, name, run, eu)
	requireValue(ctx, t, r, 8, name, eu, run)
	requireValue(ctx, t, r, 16, name, eu)
	requireValue(ctx, t, r, 32, name+".max", run)
	requireAbsent(ctx, t, r, name, dim("queue", "other"))
	requireAbsent(ctx, t, r, name, dlq, eu)
	requireAbsent(ctx, t, r, name, dim("Queue", "run")) // names are case-sensitive
}

func testNeverRecorded(t *testing.T, prefix string, newDriver NewDriver) {
	ctx := testContext(t)
	s, r := newDriver(t, Config{})
	requireAbsent(ctx, t, r, prefix+"never")
	s.Gauge(prefix+"once", 1)
	require.NoError(t, r.Flush(ctx))
	requireAbsent(ctx, t, r, prefix+"never")
	requireAbsent(ctx, t, r, prefix+"onc")
	requireAbsent(ctx, t, r, prefix+"once.more")
}

// testManySeries reports more series in one flush than CloudWatch takes in
// one call.
func testManySeries(t *testing.T, prefix string, newDriver NewDriver) {
	// Three full PutMetricData calls and seven reads: on an emulator
	// sharing a loaded machine (moto answers a 500-datum call in seconds
	// there) that outlasts the other cases' bound, which is about hangs,
	// not speed.
	ctx, cancel := context.WithTimeout(t.Context(), 10*patience)
	defer cancel()
	s, r := newDriver(t, Config{})
	const n = 1500
	gauge, count := prefix+"gauge", prefix+"count"
	for i := range n {
		idx := dim("index", fmt.Sprintf("%04d", i))
		if i%2 == 0 {
			s.Gauge(gauge, float64(i), idx)
		} else {
			s.Count(count, float64(i), idx)
			s.Count(count, 1, idx)
		}
	}
	require.NoError(t, r.Flush(ctx))
	for _, i := range []int{0, 998, 999, 1000, 1001, n - 2, n - 1} {
		idx := dim("index", fmt.Sprintf("%04d", i))
		if i%2 == 0 {
			requireValue(ctx, t, r, float64(i), gauge, idx)
		} else {
			requireValue(ctx, t, r, float64(i+1), count, idx)
		}
	}
}

// testConcurrent records from many goroutines while another flushes
// repeatedly: every count lands in exactly one flush. Gauges are recorded
// alongside for the race detector; a gauge set across several periods is
// not read back (see Reader).
func testConcurrent(t *testing.T, prefix string, newDriver NewDriver) {
	ctx := testContext(t)
	s, r := newDriver(t, Config{})
	const writers, each = 8, 250
	count := prefix + "count"
	a, b := dim("a", "1"), dim("b", "2")

	var writing sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			for i := range each {
				if i%2 == 0 {
					s.Count(count, 1, a, b)
				} else {
					s.Count(count, 1, b, a)
				}
				s.Gauge(prefix+"gauge", float64(i), dim("writer", fmt.Sprint(w)))
			}
		})
	}
	done := make(chan struct{})
	flushed := make(chan error, 1)
	go func() {
		var err error
		for {
			select {
			case <-done:
				flushed <- err
				return
			default:
			}
			if ferr := r.Flush(ctx); ferr != nil && err == nil {
				err = ferr
			}
		}
	}()
	writing.Wait()
	close(done)
	require.NoError(t, <-flushed, "a flush during recording failed")
	require.NoError(t, r.Flush(ctx))
	requireValue(ctx, t, r, writers*each, count, a, b)
}

// testNeverBlocks records into a sink whose backend does not answer, while
// a flush to it hangs: recording returns at once, and the flush returns
// when its context ends. Every call into the sink runs under a deadline, so
// a driver that blocks fails the test instead of hanging it.
func testNeverBlocks(t *testing.T, prefix string, newDriver NewDriver) {
	s, r := newDriver(t, Config{Unreachable: true})
	flushCtx, cancelFlush := context.WithCancel(t.Context())
	defer cancelFlush()
	flushed := make(chan error, 1)
	within(t, "recording while the backend is down", func() {
		s.Gauge(prefix+"before", 1)
		go func() { flushed <- r.Flush(flushCtx) }() // hangs on the backend
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 1000 {
					d := dim("series", fmt.Sprint((w*1000+i)%50))
					s.Gauge(prefix+"gauge", float64(i), d)
					s.Count(prefix+"count", 1, d)
				}
			})
		}
		wg.Wait()
	})

	cancelFlush()
	select {
	case <-flushed: // an error or nil: only returning matters
	case <-time.After(patience):
		t.Fatalf("Flush did not return within %v of its context ending", patience)
	}

	// A flush with a short deadline gives up by itself, and recording still
	// works afterwards.
	within(t, "a flush with a deadline, then recording", func() {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_ = r.Flush(ctx)
		s.Count(prefix+"after", 1)
	})
}

// within runs f and fails t if it does not return within patience.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatalf("%s did not return within %v", what, patience)
	}
}
