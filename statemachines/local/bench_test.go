package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/statemachines/local"
)

// passChain is a machine of n Pass states, each doing a little input and
// output processing, as Orbit's machines do.
func passChain(n int) map[string]any {
	states := map[string]any{}
	for i := range n {
		s := map[string]any{"Type": "Pass", "Parameters": map[string]any{
			"pipeline.$": "$.pipeline", "step": i, "name.$": "$$.State.Name"}, "ResultPath": "$.last"}
		if i == n-1 {
			s["End"] = true
		} else {
			s["Next"] = fmt.Sprintf("S%d", i+1)
		}
		states[fmt.Sprintf("S%d", i)] = s
	}
	return map[string]any{"StartAt": "S0", "States": states}
}

// BenchmarkTransition runs a chain of 100 Pass states per iteration and
// reports the median time per transition (target ≤ 50µs).
func BenchmarkTransition(b *testing.B) {
	for _, withStore := range []bool{false, true} {
		b.Run(fmt.Sprintf("store=%v", withStore), func(b *testing.B) {
			cfg := local.Config{Clock: local.RealClock{}}
			if withStore {
				db, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), 0o600, &bolt.Options{NoSync: true})
				require.NoError(b, err)
				b.Cleanup(func() { db.Close() })
				cfg.Store, err = local.NewBoltStore(db)
				require.NoError(b, err)
			}
			e, err := local.New(cfg)
			require.NoError(b, err)
			b.Cleanup(e.Close)
			const n = 100
			arn := define(b, e, "chain", passChain(n))
			ctx := context.Background()
			input := json.RawMessage(`{"pipeline":{"id":"5034460f-c7c4-4c43-9457-de07e2029e7b","number":42,"vcs":{"branch":"main"}}}`)
			per := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				exec, err := e.StartExecution(ctx, arn, "", input)
				if err != nil {
					b.Fatal(err)
				}
				d, err := e.WaitExecution(ctx, exec)
				if err != nil || d.Status != local.StatusSucceeded {
					b.Fatal(err, d.Status, d.Cause)
				}
				per = append(per, time.Since(start)/n)
			}
			slices.Sort(per)
			b.ReportMetric(float64(per[len(per)/2].Nanoseconds()), "median-ns/transition")
		})
	}
}

// BenchmarkParkedExecutions starts 1,000 executions of Orbit's job machine
// (../job.asl.json, its conductor a Go handler that keeps each Dispatch task
// token and answers Finish at once), waits until every one is parked on its
// token, then releases them all with SendTaskSuccess. It reports the memory
// each parked execution holds (runtime.ReadMemStats after a GC, before and
// after starting them: HeapAlloc + StackInuse, per execution), the
// goroutines each one keeps, and the time from the first SendTaskSuccess
// until the last execution has SUCCEEDED.
func BenchmarkParkedExecutions(b *testing.B) {
	const n = 1000
	def, err := os.ReadFile("../job.asl.json")
	require.NoError(b, err)
	for _, withStore := range []bool{false, true} {
		b.Run(fmt.Sprintf("store=%v", withStore), func(b *testing.B) {
			var perExec, goroutines, releaseMs []float64
			for b.Loop() {
				r := parkAndRelease(b, def, n, withStore)
				perExec = append(perExec, r.bytes)
				goroutines = append(goroutines, r.goroutines)
				releaseMs = append(releaseMs, float64(r.release.Microseconds())/1000)
			}
			b.ReportMetric(median(perExec), "B/parked-execution")
			b.ReportMetric(median(goroutines), "goroutines/parked-execution")
			b.ReportMetric(median(releaseMs), "ms/release-1000")
		})
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

type parkedRound struct {
	bytes, goroutines float64 // per parked execution
	release           time.Duration
}

// parkAndRelease runs one round of BenchmarkParkedExecutions on a fresh
// engine.
func parkAndRelease(b *testing.B, def []byte, n int, withStore bool) parkedRound {
	b.Helper()
	ctx := context.Background()
	cfg := local.Config{Clock: local.RealClock{}, MaxFinished: 2 * n}
	if withStore {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "parked.db"), 0o600, &bolt.Options{NoSync: true})
		require.NoError(b, err)
		defer db.Close()
		cfg.Store, err = local.NewBoltStore(db)
		require.NoError(b, err)
	}
	e, err := local.New(cfg)
	require.NoError(b, err)
	defer e.Close()
	tokens := make(chan string, n)
	e.RegisterLambda("conductor", func(_ context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var p struct {
			Action string `json:"action"`
			Token  string `json:"task_token"`
		}
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, err
		}
		if p.Action == "dispatch" {
			tokens <- p.Token
		}
		return json.RawMessage(`{}`), nil
	})
	arn, err := e.Define("orbit-job", def, map[string]string{"ConductorFunction": "conductor"})
	require.NoError(b, err)

	before, goBefore := memAfterGC(), runtime.NumGoroutine()
	execs := make([]string, n)
	for i := range n {
		input := fmt.Sprintf(`{"workflow_id":"5034460f-c7c4-4c43-9457-de07e2029e7b","job_name":"build-%d","timeout_seconds":3600}`, i)
		execs[i], err = e.StartExecution(ctx, arn, "", json.RawMessage(input))
		require.NoError(b, err)
	}
	parked := make([]string, 0, n)
	for range n {
		parked = append(parked, <-tokens)
	}
	r := parkedRound{
		bytes:      float64(memAfterGC()-before) / float64(n),
		goroutines: float64(runtime.NumGoroutine()-goBefore) / float64(n),
	}

	start := time.Now()
	for _, tok := range parked {
		if err := e.SendTaskSuccess(ctx, tok, json.RawMessage(`{"status":"success"}`)); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, x := range execs {
		wg.Go(func() {
			d, err := e.WaitExecution(ctx, x)
			if err != nil || d.Status != local.StatusSucceeded {
				b.Error(err, d.Status, d.Error, d.Cause)
			}
		})
	}
	wg.Wait()
	r.release = time.Since(start)
	return r
}

// memAfterGC is the memory in use after a GC: heap objects and goroutine
// stacks.
func memAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}
