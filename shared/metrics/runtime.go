package metrics

import (
	"context"
	"runtime"
	"time"
)

// Names of the process's own gauges, for operators and for the soak drill
// (make chaos), which asserts they stay flat while jobs come and go.
const (
	// RuntimeGoroutines is the number of goroutines in the process.
	RuntimeGoroutines = "orbit.runtime.goroutines"
	// RuntimeHeapInuse is the bytes of the Go heap in use (spans with at
	// least one live object), after the last collection.
	RuntimeHeapInuse = "orbit.runtime.heap_inuse_bytes"
)

// RecordRuntime records the runtime gauges once.
func RecordRuntime(sink Sink) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sink.Gauge(RuntimeGoroutines, float64(runtime.NumGoroutine()))
	sink.Gauge(RuntimeHeapInuse, float64(ms.HeapInuse))
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
