package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
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
