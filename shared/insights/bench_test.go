package insights_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/insights"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// benchPipelines is the size of the benchmark's project.
const benchPipelines = 10000

type benchFixture struct {
	st  *store.Store
	in  *insights.Insights
	kvs kv.Store
}

// benchSetup fills a store (bbolt without fsync: the benchmark reads) with
// a project of 10,000 pipelines over the last 90 days, each with one
// workflow ("build" or "deploy", on one of three branches, one in five
// failed) of two jobs, and records each job and workflow in Insights as
// the observer does when they finish.
func benchSetup(dir string) (benchFixture, error) {
	db, err := bolt.Open(filepath.Join(dir, "bench.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		return benchFixture{}, err
	}
	kvs, err := boltkv.New(db, boltkv.Config{Now: func() time.Time { return T }})
	if err != nil {
		return benchFixture{}, err
	}
	st := store.New(kvs, func() time.Time { return T })
	in, err := insights.New(insights.Config{KV: kvs, Records: st, Now: func() time.Time { return T }})
	if err != nil {
		return benchFixture{}, err
	}
	if _, err := st.CreateProject(ctxBG, store.Project{Slug: slug, Name: "api", DefaultBranch: "main"}); err != nil {
		return benchFixture{}, err
	}
	const workers = 8
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * benchPipelines / workers; i < (w+1)*benchPipelines/workers; i++ {
				if err := benchPipeline(st, in, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return benchFixture{}, err
	}
	return benchFixture{st: st, in: in, kvs: kvs}, nil
}

func benchPipeline(st *store.Store, in *insights.Insights, i int) error {
	created := T.Add(-90 * 24 * time.Hour).Add(time.Duration(i) * (90 * 24 * time.Hour / benchPipelines))
	p, err := st.CreatePipeline(ctxBG, store.Pipeline{ProjectSlug: slug, VCS: store.PipelineVCS{Branch: []string{"main", "dev", "feature"}[i%3]}})
	if err != nil {
		return err
	}
	ws, js := status.WorkflowSuccess, status.JobSuccess
	if i%5 == 0 {
		ws, js = status.WorkflowFailed, status.JobFailed
	}
	id := fmt.Sprintf("wf-%05d", i)
	var jobs []store.Job
	at := created
	for k, name := range []string{"test", "lint"} {
		q := at.Add(5 * time.Second)
		s := q.Add(time.Duration(3+i%20) * time.Second)
		e := s.Add(time.Duration(60+i%300+k*30) * time.Second)
		jobs = append(jobs, store.Job{ID: id + "-" + name, WorkflowID: id, PipelineID: p.ID, ProjectSlug: slug, Name: name, Type: "build",
			Status: js, Parallelism: 1 + k, CreatedAt: created, QueuedAt: &q, StartedAt: &s, StoppedAt: &e})
		at = e
	}
	w := store.Workflow{ID: id, Name: []string{"build", "deploy"}[i%2], PipelineID: p.ID, PipelineNumber: p.Number, ProjectSlug: slug,
		Status: ws, CreatedAt: created, StoppedAt: &at}
	if err := st.CreateWorkflow(ctxBG, w, jobs); err != nil {
		return err
	}
	for _, j := range jobs {
		if err := in.RecordJob(ctxBG, j); err != nil {
			return err
		}
	}
	return in.RecordWorkflow(ctxBG, w)
}

var ctxBG = context.Background()

// BenchmarkProjectSummary computes a project's 90-day summary (the pages
// summary route's work: project figures, previous window, per workflow
// and per workflow × branch) from the aggregates, decoding every bucket
// (cold) or with the decoded buckets of earlier requests (warm), beside a bare loop that
// only reads and decodes the same bucket items and sums their durations,
// and beside what the aggregates avoid: walking every pipeline, workflow
// and job of the store.
func BenchmarkProjectSummary(b *testing.B) {
	// The parent of sub-benchmarks runs once: the fixture is built once.
	start := time.Now()
	bench, err := benchSetup(b.TempDir())
	require.NoError(b, err)
	b.Logf("setup: %d pipelines recorded in %v", benchPipelines, time.Since(start).Round(time.Millisecond))
	in, kvs := bench.in, bench.kvs
	cold, err := insights.New(insights.Config{KV: kvs, Records: bench.st, Now: func() time.Time { return T }, CacheRuns: -1})
	require.NoError(b, err)
	for _, c := range []struct {
		name string
		in   *insights.Insights
	}{{"insights-cold", cold}, {"insights-warm", in}} {
		b.Run(c.name, func(b *testing.B) {
			var runs int
			defer cpuPerOp(b)()
			for b.Loop() {
				s, err := c.in.Summarize(ctxBG, slug, insights.Last90Days, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				insights.Group(s.Runs, s.PrevRuns, s.Days, func(r insights.Run) (string, string) { return r.Workflow, "" })
				insights.Group(s.Runs, s.PrevRuns, s.Days, func(r insights.Run) (string, string) { return r.Workflow, r.Branch })
				runs = len(s.Runs) + len(s.PrevRuns)
			}
			b.ReportMetric(float64(runs), "runs/op")
		})
	}
	b.Run("baseline-bare-loop", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			q := kv.Query{PK: "INSIGHTS#" + slug + "#WF", From: T.Add(-180 * 24 * time.Hour).Format(time.DateOnly), To: T.Format(time.DateOnly) + "$", Limit: 1000}
			var sum float64
			for {
				page, err := kvs.Query(ctxBG, q)
				if err != nil {
					b.Fatal(err)
				}
				for _, it := range page.Items {
					var bk struct{ Runs []insights.Run }
					if err := json.Unmarshal(it.Data, &bk); err != nil {
						b.Fatal(err)
					}
					for _, r := range bk.Runs {
						sum += r.Duration
					}
				}
				if page.Cursor == "" {
					break
				}
				q.Cursor = page.Cursor
			}
		}
	})
	b.Run("scan-every-job", func(b *testing.B) {
		st := bench.st
		defer cpuPerOp(b)()
		for b.Loop() {
			var durs []float64
			cursor := ""
			for {
				ps, next, err := st.ListPipelines(ctxBG, slug, cursor, 100)
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range ps {
					wfs, err := st.ListWorkflows(ctxBG, p.ID)
					if err != nil {
						b.Fatal(err)
					}
					for _, w := range wfs {
						if _, err := st.ListJobs(ctxBG, w.ID); err != nil {
							b.Fatal(err)
						}
						if w.StoppedAt != nil {
							durs = append(durs, w.StoppedAt.Sub(w.CreatedAt).Seconds())
						}
					}
				}
				if next == "" {
					break
				}
				cursor = next
			}
			_ = insights.Percentile(durs, 0.95)
		}
	})
}

// cpuPerOp reports the process's CPU time (user + system) per operation:
// on a loaded machine the wall time per op mostly measures the wait for a
// core, the CPU time what the work costs.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpu()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		}
	}
}
