package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

// BenchmarkTriggerPost measures POST /api/v2/project/{slug}/pipeline on the
// real `orbit up` (target: median at most 10 ms: record the pipeline and
// start its execution; fetching and compiling the config run after the
// answer). The baseline, interleaved in the same run, is a bare net/http
// server on loopback that decodes the same request body and encodes the
// same PipelineCreation answer: what HTTP and JSON cost alone. The pipelines
// the POSTs create run meanwhile, as they would.
func BenchmarkTriggerPost(b *testing.B) {
	repo := gitRepo(b, map[string]string{".circleci/config.yml": oneStepConfig("true")})
	p := startOrbit(b, b.TempDir(), freeAddr(b), benchLog)
	slug := p.follow(repo, "acme", "post")
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Branch     string         `json:"branch"`
			Tag        string         `json:"tag"`
			Parameters map[string]any `json:"parameters"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": uuid.NewString(), "state": "pending", "number": 1, "created_at": time.Now().UTC()})
	}))
	defer bare.Close()
	client := &http.Client{}
	post := func(url string) time.Duration {
		start := time.Now()
		resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(`{"branch":"main"}`)))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("POST %s: %s", url, resp.Status)
		}
		return time.Since(start)
	}
	// back-to-back: each POST as soon as the last answered, so the
	// pipelines they start pile up and share the two cores with the API;
	// paced: one POST every 100 ms (10 pipelines/s, below what the
	// machine sustains), the steady state of a busy installation.
	for _, mode := range []struct {
		name string
		gap  time.Duration
	}{{"back-to-back", 0}, {"paced-10/s", 100 * time.Millisecond}} {
		b.Run(mode.name, func(b *testing.B) {
			var orbit, baseline []time.Duration
			next := time.Now()
			for b.Loop() {
				time.Sleep(time.Until(next))
				next = time.Now().Add(mode.gap)
				baseline = append(baseline, post(bare.URL+"/api/v2/project/"+slug+"/pipeline"))
				orbit = append(orbit, post(p.url+"/api/v2/project/"+slug+"/pipeline"))
			}
			b.ReportMetric(pct(orbit, 50), "ms-median")
			b.ReportMetric(pct(orbit, 90), "ms-p90")
			b.ReportMetric(pct(baseline, 50), "baseline-ms-median")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchLog runs orbit up at the log level an installation runs at.
const benchLog = "ORBIT_LOG_LEVEL=info"

// throughputPipelines is how many pipelines one throughput run triggers.
const throughputPipelines = 50

// BenchmarkThroughput measures pipelines per second from the first trigger
// to the last pipeline finished: throughputPipelines one-step pipelines
// triggered back to back by 1 and by 4 concurrent clients (targets: 30/s
// and 40/s). The baseline, in the same run on the same Nomad agent, is the
// bare Nomad register loop: as many trivial raw_exec batch jobs (`true`)
// registered by as many clients with nomad/api, until all are complete.
func BenchmarkThroughput(b *testing.B) {
	nomad := nomadtest.Client(b)
	repo := gitRepo(b, map[string]string{".circleci/config.yml": oneStepConfig("true")})
	p := startOrbit(b, b.TempDir(), freeAddr(b), benchLog)
	slug := p.follow(repo, "acme", "throughput")
	for _, clients := range []int{1, 4} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			var orbit, baseline []float64
			for b.Loop() {
				baseline = append(baseline, bareNomadRate(b, nomad, clients))
				orbit = append(orbit, orbitRate(b, p, slug, clients))
			}
			b.ReportMetric(slices.Max(orbit), "pipelines/s")
			b.ReportMetric(slices.Max(baseline), "baseline-jobs/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// spread runs n units of work on clients goroutines, back to back.
func spread(clients, n int, work func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range clients {
		wg.Go(func() {
			for i := range next {
				work(i)
			}
		})
	}
	wg.Wait()
}

// orbitRate triggers throughputPipelines pipelines from clients clients and
// returns pipelines per second until all have finished.
func orbitRate(b *testing.B, p *orbitProc, slug string, clients int) float64 {
	start := time.Now()
	ids := make([]string, throughputPipelines)
	spread(clients, throughputPipelines, func(i int) { ids[i] = p.trigger(slug, "main") })
	left := slices.Clone(ids)
	deadline := time.Now().Add(5 * time.Minute)
	for len(left) > 0 {
		if time.Now().After(deadline) {
			b.Fatalf("%d pipelines not finished after 5 minutes", len(left))
		}
		left = slices.DeleteFunc(left, func(id string) bool {
			wfs := p.workflows(id)
			if len(wfs) != 1 || !terminalWorkflow(wfs[0].Status) {
				return false
			}
			if wfs[0].Status != "success" {
				b.Fatalf("pipeline %s: workflow %s", id, wfs[0].Status)
			}
			return true
		})
		time.Sleep(20 * time.Millisecond)
	}
	return throughputPipelines / time.Since(start).Seconds()
}

// bareNomadRate registers throughputPipelines trivial jobs from clients
// clients and returns jobs per second until all are complete.
func bareNomadRate(b *testing.B, nomad *api.Client, clients int) float64 {
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("orbit-bench-rate-%d", time.Now().UnixNano())
	start := time.Now()
	spread(clients, throughputPipelines, func(i int) {
		job := nomadtest.TrivialJob(fmt.Sprintf("%s-%d", prefix, i))
		job.TaskGroups[0].Tasks[0].Config = map[string]any{"command": "/bin/true"}
		if _, _, err := nomad.Jobs().Register(job, nil); err != nil {
			b.Error(err)
		}
	})
	spread(clients, throughputPipelines, func(i int) {
		id := fmt.Sprintf("%s-%d", prefix, i)
		_, err := nomadtest.WaitAlloc(ctx, nomad, id, func(a *api.AllocationListStub) (bool, error) {
			return a.ClientStatus == api.AllocClientStatusComplete, nil
		})
		if err != nil {
			b.Error(err)
		}
	})
	rate := throughputPipelines / time.Since(start).Seconds()
	for i := range throughputPipelines {
		_, _, _ = nomad.Jobs().Deregister(fmt.Sprintf("%s-%d", prefix, i), true, nil)
	}
	return rate
}
