package metrics

import (
	"context"
	"runtime"
	rtmetrics "runtime/metrics"
	"time"
)

// Names of the process's own gauges, for operators and for the soak drill
// (make chaos), which asserts they stay flat while jobs come and go.
const (
	// RuntimeGoroutines is the number of goroutines in the process.
	RuntimeGoroutines = "orbit.runtime.goroutines"
	// RuntimeHeapInuse is the bytes of the Go heap's spans in use now:
	// the live objects plus the garbage made since the last collection,
	// so it swings with the collector's pacing (up to about twice the
	// largest live heap of the last cycle, GOGC=100).
	RuntimeHeapInuse = "orbit.runtime.heap_inuse_bytes"
	// RuntimeHeapLive is the bytes of heap objects the last collection
	// found reachable: what a leak makes grow, and what the soak drill
	// checks.
	RuntimeHeapLive = "orbit.runtime.heap_live_bytes"
)

// heapLive is runtime/metrics' name of the live heap after the last GC.
const heapLive = "/gc/heap/live:bytes"

// RecordRuntime records the runtime gauges once.
func RecordRuntime(sink Sink) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sink.Gauge(RuntimeGoroutines, float64(runtime.NumGoroutine()))
	sink.Gauge(RuntimeHeapInuse, float64(ms.HeapInuse))
	live := []rtmetrics.Sample{{Name: heapLive}}
	rtmetrics.Read(live)
	if live[0].Value.Kind() == rtmetrics.KindUint64 {
		sink.Gauge(RuntimeHeapLive, float64(live[0].Value.Uint64()))
	}
}

// RunRuntime records the runtime gauges now and then every interval until
// ctx ends; it returns ctx's error. A long-running process (orbit up,
// orbit bridge) runs it; a Lambda does not (its gauges come with EMF).
func RunRuntime(ctx context.Context, sink Sink, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		RecordRuntime(sink)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
