package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

// BenchmarkDispatchOverhead measures, on the same Nomad agent and
// interleaved so that drift in the agent's speed hits both alike, the time
// from a pipeline trigger (POST /api/v2/project/{slug}/pipeline) to the
// job's Nomad allocation running, and the time from a bare nomad/api
// Jobs.Register of a trivial job to its allocation running. The difference
// of the medians is what Orbit adds (target: at most 300 ms). make bench runs
// it; figures go to docs/PERFORMANCE.md.
func BenchmarkDispatchOverhead(b *testing.B) {
	client := nomadtest.Client(b)
	repo := gitRepo(b, map[string]string{
		".circleci/config.yml": "version: 2.1\njobs:\n  build:\n    docker: [{image: cimg/base:stable}]\n    steps:\n      - run: sleep 20\nworkflows:\n  ci:\n    jobs: [build]\n",
	})
	p := startOrbit(b, b.TempDir(), freeAddr(b))
	slug := p.follow(repo, "acme", "bench")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	var bare, orbit []time.Duration
	var jobs []string
	prefix := fmt.Sprintf("orbit-bench-%d", time.Now().UnixNano())
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		start := time.Now()
		if _, _, err := client.Jobs().Register(nomadtest.TrivialJob(id), nil); err != nil {
			b.Fatalf("register: %v", err)
		}
		if _, err := nomadtest.WaitRunning(ctx, client, id); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, time.Since(start))

		start = time.Now()
		pid := p.trigger(slug, "main")
		nomadID := fmt.Sprintf("%s-0-build-acme-bench-%d", pid, i+1)
		if _, err := nomadtest.WaitRunning(ctx, client, nomadID); err != nil {
			b.Fatal(err)
		}
		orbit = append(orbit, time.Since(start))
		jobs = append(jobs, id, nomadID)
	}
	b.StopTimer()
	// Purge only now: stopping a running Orbit task mid-run would make the
	// bridge report it lost and Orbit retry it, loading the agent.
	for _, id := range jobs {
		_, _, _ = client.Jobs().Deregister(id, true, nil)
	}
	med := func(d []time.Duration) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds()) / 1000
	}
	b.ReportMetric(med(bare), "bare-ms-median")
	b.ReportMetric(med(orbit), "orbit-ms-median")
	b.ReportMetric(med(orbit)-med(bare), "added-ms-median")
	b.ReportMetric(0, "ns/op")
}
