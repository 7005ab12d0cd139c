package nomadbridge_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/queue/boltqueue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
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

// burstSize is how many tasks BenchmarkDispatchBurst dispatches at once.
const burstSize = 500

// BenchmarkDispatchBurst compares, on the same Nomad agent, how fast the
// bridge turns a burst of 500 queued tasks into registered Nomad jobs
// (receive from a bbolt run queue, ask the runner API whether the task is
// over, Jobs.Register if absent, delete the message; default Concurrency)
// with a bare nomad/api Jobs.Register loop of 500 trivial jobs. Both kinds
// of job are placed in a datacenter no client is in, so Nomad evaluates
// them but starts nothing: the figure is the dispatch path's, not the
// client's capacity to start 500 processes. All jobs are purged and Nomad
// garbage-collected after each burst, outside the timing, and the two
// alternate which goes first, so that drift in the agent's speed hits both.
func BenchmarkDispatchBurst(b *testing.B) {
	client := nomadtest.Client(b)
	srv, err := agenttest.New()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	var ratios, bareRates, bridgeRates []float64
	for round := 0; b.Loop(); round++ {
		prefix := fmt.Sprintf("orbit-burst-%d-%d", time.Now().UnixNano(), round)
		var bare, bridge time.Duration
		if round%2 == 0 {
			bare = bareBurst(b, client, prefix)
			bridge = bridgeBurst(b, client, srv, prefix)
		} else {
			bridge = bridgeBurst(b, client, srv, prefix)
			bare = bareBurst(b, client, prefix)
		}
		bareRates = append(bareRates, burstSize/bare.Seconds())
		bridgeRates = append(bridgeRates, burstSize/bridge.Seconds())
		ratios = append(ratios, bare.Seconds()/bridge.Seconds())
		b.Logf("round %d: bare loop %s (%.0f jobs/s), bridge %s (%.0f jobs/s), ratio %.2f", round,
			bare.Round(time.Millisecond), burstSize/bare.Seconds(), bridge.Round(time.Millisecond),
			burstSize/bridge.Seconds(), bare.Seconds()/bridge.Seconds())
	}
	b.ReportMetric(median(bareRates), "bare-jobs/s")
	b.ReportMetric(median(bridgeRates), "bridge-jobs/s")
	b.ReportMetric(median(ratios), "ratio-median")
}

// nowhere is a datacenter no Nomad client is in.
const nowhere = "orbit-bench-nowhere"

// bareBurst times a plain register loop of burstSize trivial jobs.
func bareBurst(b *testing.B, client *api.Client, prefix string) time.Duration {
	ids := make([]string, burstSize)
	jobs := make([]*api.Job, burstSize)
	for i := range jobs {
		ids[i] = fmt.Sprintf("%s-bare-%d", prefix, i)
		jobs[i] = nomadtest.TrivialJob(ids[i])
		jobs[i].Datacenters = []string{nowhere}
	}
	start := time.Now()
	for _, job := range jobs {
		if _, _, err := client.Jobs().Register(job, nil); err != nil {
			b.Fatalf("register: %v", err)
		}
	}
	d := time.Since(start)
	b.StopTimer()
	purgeAll(b, client, ids)
	b.StartTimer()
	return d
}

// bridgeBurst times the bridge registering burstSize queued tasks.
func bridgeBurst(b *testing.B, client *api.Client, srv *agenttest.Server, prefix string) time.Duration {
	ctx := context.Background()
	b.StopTimer()
	defer b.StartTimer()
	q, err := boltqueue.Open(filepath.Join(b.TempDir(), "q.db"), "run", boltqueue.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ids := make([]string, burstSize)
	for i := range ids {
		m := runqueue.Message{TaskID: fmt.Sprintf("%s-task-%d", prefix, i), JobID: "job", WorkflowID: "wf",
			PipelineID: prefix, ProjectSlug: "gh/bench/burst", JobNumber: int64(i + 1), JobName: "build",
			Total: 1, Attempt: 1, Executor: "docker", Image: "cimg/base:stable", Token: fmt.Sprintf("%s-tok-%d", prefix, i)}
		srv.Add(m.Token, runner.TaskSpec{TaskID: m.TaskID})
		body, err := m.Encode()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := q.Send(ctx, body, queue.SendOptions{}); err != nil {
			b.Fatal(err)
		}
		ids[i] = m.NomadJobID()
	}
	br, err := nomadbridge.New(nomadbridge.Config{
		Queue: q, Nomad: nomadbridge.NomadFromClient(client), RunnerURL: srv.URL,
		Agent:       nomadbridge.AgentCommand{Path: "/bin/sleep", Args: []string{"30"}},
		Datacenters: []string{nowhere}, ResourceScale: 0.005, HeartbeatInterval: time.Hour,
		Concurrency: benchConcurrency(),
	})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.StartTimer()
	start := time.Now()
	go func() { defer close(done); _ = br.Run(rctx) }()
	for br.Stats().Registered < burstSize {
		time.Sleep(time.Millisecond)
	}
	d := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	purgeAll(b, client, ids)
	return d
}

// benchConcurrency is BENCH_CONCURRENCY, to compare settings (0: the
// bridge's default).
func benchConcurrency() int {
	n, _ := strconv.Atoi(os.Getenv("BENCH_CONCURRENCY"))
	return n
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// purgeAll deregisters and purges jobs, eight at a time, then has Nomad
// collect their evaluations so the next burst starts from the same state.
func purgeAll(b *testing.B, client *api.Client, ids []string) {
	b.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, _, err := client.Jobs().Deregister(id, true, nil); err != nil {
				b.Errorf("purge %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	if err := client.System().GarbageCollect(); err != nil {
		b.Errorf("garbage collect: %v", err)
	}
}
