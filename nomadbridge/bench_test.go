package nomadbridge_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

// BenchmarkRegisterToRunning measures a bare Jobs.Register of a trivial
// raw_exec batch job until its allocation runs: the baseline that Orbit's
// dispatch overhead (queue → bridge → Nomad) is compared against.
func BenchmarkRegisterToRunning(b *testing.B) {
	client := nomadtest.Client(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("orbit-bench-%d", time.Now().UnixNano())
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if _, _, err := client.Jobs().Register(nomadtest.TrivialJob(id), nil); err != nil {
			b.Fatalf("register: %v", err)
		}
		if _, err := nomadtest.WaitRunning(ctx, client, id); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, _, err := client.Jobs().Deregister(id, true, nil); err != nil {
			b.Fatalf("purge: %v", err)
		}
		b.StartTimer()
	}
}
