package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

// BenchmarkDispatchOverhead measures, on the same Nomad agent in the same
// run, the median time from a pipeline trigger (POST /pipeline) to the job's
// Nomad allocation running, and the median time from a bare Jobs.Register
// of a trivial job to its allocation running. The difference is what Orbit
// adds (target: ≤ 300 ms at the median). Run with make bench.
func BenchmarkDispatchOverhead(b *testing.B) {
	client := nomadtest.Client(b)
	repo := gitRepo(b, map[string]string{
		".circleci/config.yml": "version: 2.1\njobs:\n  build:\n    docker: [{image: cimg/base:stable}]\n    steps:\n      - run: sleep 30\nworkflows:\n  ci:\n    jobs: [build]\n",
	})
	p := startOrbit(b, b.TempDir(), freeAddr(b))
	slug := p.follow(repo, "acme", "bench")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	measure := func(b *testing.B, once func(i int) (string, time.Duration)) {
		var samples []time.Duration
		var jobs []string
		for i := 0; b.Loop(); i++ {
			jobID, d := once(i)
			samples = append(samples, d)
			jobs = append(jobs, jobID)
		}
		// Purge only now: stopping a running Orbit task mid-measurement would
		// make the bridge report it lost and Orbit retry it, loading the agent.
		for _, id := range jobs {
			if _, _, err := client.Jobs().Deregister(id, true, nil); err != nil {
				b.Fatalf("purge %s: %v", id, err)
			}
		}
		slices.Sort(samples)
		b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "ms-median")
		b.ReportMetric(float64(samples[len(samples)*95/100].Microseconds())/1000, "ms-p95")
	}

	b.Run("bare-nomad", func(b *testing.B) {
		prefix := fmt.Sprintf("orbit-bench-%d", time.Now().UnixNano())
		measure(b, func(i int) (string, time.Duration) {
			id := fmt.Sprintf("%s-%d", prefix, i)
			start := time.Now()
			if _, _, err := client.Jobs().Register(nomadtest.TrivialJob(id), nil); err != nil {
				b.Fatalf("register: %v", err)
			}
			if _, err := nomadtest.WaitRunning(ctx, client, id); err != nil {
				b.Fatal(err)
			}
			return id, time.Since(start)
		})
	})

	jobNumber := int64(0)
	b.Run("orbit", func(b *testing.B) {
		measure(b, func(int) (string, time.Duration) {
			start := time.Now()
			pid := p.trigger(slug, "main")
			jobNumber++
			id := fmt.Sprintf("%s-0-build-acme-bench-%d", pid, jobNumber)
			if _, err := nomadtest.WaitRunning(ctx, client, id); err != nil {
				b.Fatal(err)
			}
			return id, time.Since(start)
		})
	})
}
