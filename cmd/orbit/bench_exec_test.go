package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/store"
)

// latencyLines is how many lines the benchmark's step prints, 50 ms apart.
const latencyLines = 200

const latencyConfig = `version: 2.1
jobs:
  print:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: Print
          command: for i in $(seq 1 %d); do echo "LINE $i $EPOCHREALTIME"; sleep 0.05; done
      - run:
          name: Idle
          command: sleep 30
workflows:
  ci:
    jobs: [print]
`

// BenchmarkOutputLatency measures the time from a line printed in a step
// to the line readable through GET /api/v2/project/{slug}/job/{n}/output,
// polled every 10 ms with from=<next seq> (target: p95 at most 500 ms).
// The baseline, measured in the same run against the same running task,
// is the same poller reading chunks that a bare HTTP client posts straight
// to the runner API (POST /task/steps/{n}/output with the task's token):
// what is left once the agent's pipe reading and 250 ms chunking are
// taken away.
func BenchmarkOutputLatency(b *testing.B) {
	repo := gitRepo(b, map[string]string{".circleci/config.yml": fmt.Sprintf(latencyConfig, latencyLines)})
	dataDir := b.TempDir()
	p := startOrbit(b, dataDir, freeAddr(b), benchLog)
	slug := p.follow(repo, "acme", "latency")
	key, err := os.ReadFile(filepath.Join(dataDir, "secret.key"))
	if err != nil {
		b.Fatal(err)
	}
	tokens, err := runner.NewTokens(key, nil)
	if err != nil {
		b.Fatal(err)
	}
	var agent, bare []time.Duration
	for b.Loop() {
		pid := p.trigger(slug, "main")
		var job e2eJob
		waitFor(b, 2*time.Minute, "the job to be numbered", func() bool {
			wfs := p.workflows(pid)
			if len(wfs) == 1 {
				job = p.jobs(wfs[0].ID)["print"]
			}
			return job.JobNumber > 0
		})
		out := fmt.Sprintf("/api/v2/project/%s/job/%d/output?task=0&step=", slug, job.JobNumber)
		agent = append(agent, pollLines(b, p.url+out+"0", "LINE ", latencyLines)...)

		// Baseline: post lines to the idle step's output as a bare client.
		tok := tokens.Sign(store.TaskID(job.ID, 1, 0), time.Now().Add(time.Hour))
		c := runner.NewClient(p.url+"/runner/v1", tok, nil)
		done := make(chan []time.Duration)
		go func() { done <- pollLines(b, p.url+out+"1", "BASE ", latencyLines) }()
		for i := range latencyLines {
			line := fmt.Sprintf("BASE %d %d.%06d\n", i+1, time.Now().Unix(), time.Now().Nanosecond()/1000)
			if err := c.StepOutput(b.Context(), 1, i, []byte(line)); err != nil {
				b.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		bare = append(bare, <-done...)
		b.StopTimer()
		p.waitWorkflowDone(pid, 2*time.Minute)
		b.StartTimer()
	}
	b.ReportMetric(pct(agent, 50), "ms-p50")
	b.ReportMetric(pct(agent, 95), "ms-p95")
	b.ReportMetric(pct(bare, 50), "baseline-ms-p50")
	b.ReportMetric(pct(bare, 95), "baseline-ms-p95")
}

// pollLines follows an output URL from seq 0 until it has seen want lines
// with the prefix, each carrying its print time ("<prefix><n> <unix.micro>"),
// and returns how long after printing each line was first read.
func pollLines(b *testing.B, url, prefix string, want int) []time.Duration {
	var lat []time.Duration
	next, partial := "0", ""
	deadline := time.Now().Add(3 * time.Minute)
	for len(lat) < want {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d lines after 3 minutes", len(lat), want)
		}
		resp, err := http.Get(url + "&from=" + next)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen := time.Now()
		if resp.StatusCode == http.StatusOK {
			if n := resp.Header.Get("X-Orbit-Next-Seq"); n != "" {
				next = n
			}
			text := partial + string(body)
			i := strings.LastIndexByte(text, '\n')
			partial = text[i+1:]
			for _, l := range strings.Split(text[:i+1], "\n") {
				if f := strings.Fields(strings.TrimPrefix(l, prefix)); strings.HasPrefix(l, prefix) && len(f) == 2 {
					at, err := strconv.ParseFloat(f[1], 64)
					if err == nil {
						lat = append(lat, seen.Sub(time.UnixMicro(int64(at*1e6))))
					}
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return lat
}

// pct is the p-th percentile in milliseconds.
func pct(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[min(len(s)-1, len(s)*p/100)].Microseconds()) / 1000
}
