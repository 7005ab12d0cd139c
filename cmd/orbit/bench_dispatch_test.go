package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

// dispatchRounds is how many interleaved rounds BenchmarkDispatchOverhead
// runs per iteration (ORBIT_BENCH_ROUNDS, default 20): make bench runs
// each benchmark once.
func dispatchRounds() int {
	if n, err := strconv.Atoi(os.Getenv("ORBIT_BENCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 20
}

// stampCommand writes the shell's wall clock at the moment it runs, as
// seconds.microseconds, into a file: the start of the process as the
// process itself saw it. bash's $EPOCHREALTIME is a builtin, so nothing is
// forked before the time is read.
func stampCommand(file string) string {
	return fmt.Sprintf(`printf '%%s' "$EPOCHREALTIME" > %s`, file)
}

// dispatchConfig is a one-step job that stamps its start in dir, named by
// its pipeline, on resource class rc (warm agents are kept for medium
// only, so "small" always goes cold).
func dispatchConfig(dir, rc string) string {
	return fmt.Sprintf(`version: 2.1
jobs:
  stamp:
    docker: [{image: cimg/base:stable}]
    resource_class: %s
    steps:
      - run: %s
workflows:
  ci:
    jobs: [stamp]
`, rc, stampCommand(filepath.Join(dir, "$CIRCLE_PIPELINE_ID")))
}

// BenchmarkDispatchOverhead measures trigger → first step's process
// started, read from the step's own timestamp (not from how the benchmark
// waits), for three paths interleaved in each round so drift hits all
// alike, on the same Nomad agent:
//
//   - bare: nomad/api Jobs.Register of a raw_exec batch job whose process
//     writes its start time (the baseline);
//   - cold: POST /api/v2/project/{slug}/pipeline of a one-step job of
//     class small (no warm agent): a new Nomad job;
//   - warm: the same for class medium, with `orbit up`'s warm agent
//     waiting (the benchmark waits for it between rounds, untimed).
//
// It reports medians and p90s, and fails if a warm round did not run on a
// warm agent. Targets (issue 9): warm ≤ 50 ms median, cold ≤ bare + 40 ms.
func BenchmarkDispatchOverhead(b *testing.B) {
	client := nomadtest.Client(b)
	stamps := b.TempDir()
	cold := gitRepo(b, map[string]string{".circleci/config.yml": dispatchConfig(stamps, "small")})
	warm := gitRepo(b, map[string]string{".circleci/config.yml": dispatchConfig(stamps, "medium")})
	p := startOrbit(b, b.TempDir(), freeAddr(b), benchLog)
	coldSlug := p.follow(cold, "acme", "cold")
	warmSlug := p.follow(warm, "acme", "warm")

	rounds := dispatchRounds()
	var bare, coldD, warmD []time.Duration
	prefix := fmt.Sprintf("orbit-bench-%d", time.Now().UnixNano())
	claimed0 := p.warmStats().Claimed
	for i := 0; b.Loop(); i++ {
		for r := range rounds {
			runs := []func(){
				func() { bare = append(bare, bareStamp(b, client, stamps, fmt.Sprintf("%s-%d-%d", prefix, i, r))) },
				func() { coldD = append(coldD, p.orbitStamp(coldSlug, stamps)) },
				func() {
					waitFor(b, time.Minute, "a warm agent waiting", func() bool { return p.warmStats().Waiting["medium"] > 0 })
					warmD = append(warmD, p.orbitStamp(warmSlug, stamps))
				},
			}
			for k := range runs {
				runs[(k+r)%len(runs)]()
			}
		}
	}
	b.StopTimer()
	if got := p.warmStats().Claimed - claimed0; got != int64(len(warmD)) {
		b.Fatalf("%d of %d warm rounds ran on a warm agent", got, len(warmD))
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"bare", bare}, {"cold", coldD}, {"warm", warmD}} {
		b.ReportMetric(ms(quantile(s.d, 50)), s.name+"-ms-median")
		b.ReportMetric(ms(quantile(s.d, 90)), s.name+"-ms-p90")
	}
	b.ReportMetric(ms(quantile(coldD, 50))-ms(quantile(bare, 50)), "cold-added-ms-median")
	b.ReportMetric(float64(quantile(warmD, 50))/float64(quantile(bare, 50)), "warm/bare-median")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d rounds: bare %v | cold %v | warm %v", len(bare), bare, coldD, warmD)
}

// quantile is the q-th percentile (nearest rank).
func quantile(ds []time.Duration, q int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*q+99)/100-1)]
}

// bareStamp registers a raw_exec job that stamps its start into dir and
// returns register → process started.
func bareStamp(b *testing.B, client *api.Client, dir, id string) time.Duration {
	file := filepath.Join(dir, id)
	job := nomadtest.TrivialJob(id)
	task := job.TaskGroups[0].Tasks[0]
	task.Driver = "raw_exec"
	task.Config = map[string]any{"command": "/bin/bash", "args": []string{"-c", stampCommand(file)}}
	start := time.Now()
	if _, _, err := client.Jobs().Register(job, nil); err != nil {
		b.Fatalf("register: %v", err)
	}
	at := waitStamp(b, file)
	if _, _, err := client.Jobs().Deregister(id, true, nil); err != nil {
		b.Fatalf("purge: %v", err)
	}
	return at.Sub(start)
}

// orbitStamp triggers a pipeline of slug and returns trigger → its step's
// process started; it waits for the workflow to finish (untimed).
func (p *orbitProc) orbitStamp(slug, dir string) time.Duration {
	start := time.Now()
	pid := p.trigger(slug, "main")
	at := waitStamp(p.t.(*testing.B), filepath.Join(dir, pid))
	p.waitWorkflowDone(pid, 2*time.Minute)
	return at.Sub(start)
}

// waitStamp waits for a stamp file and returns the time it holds.
func waitStamp(b *testing.B, file string) time.Time {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(file); err == nil {
			if sec, frac, ok := strings.Cut(strings.TrimSpace(string(data)), "."); ok && len(frac) == 6 {
				s, err1 := strconv.ParseInt(sec, 10, 64)
				us, err2 := strconv.ParseInt(frac, 10, 64)
				if err1 != nil || err2 != nil {
					b.Fatalf("stamp %s: %q", file, data)
				}
				return time.UnixMicro(s*1e6 + us)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.Fatalf("no stamp in %s after 2 minutes", file)
	return time.Time{}
}

// warmStats reads the bridge's warm pool from GET /bridge/status.
func (p *orbitProc) warmStats() nomadbridge.WarmStats {
	var body struct {
		Warm nomadbridge.WarmStats `json:"warm_agents"`
	}
	resp, err := http.Get(p.url + "/bridge/status")
	if err != nil {
		p.t.Fatalf("bridge status: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		p.t.Fatalf("bridge status: %v", err)
	}
	return body.Warm
}
