package insights_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/insights"
	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

const slug = "gh/acme/api"

// fakeTests is the Tests port: results by job number.
type fakeTests struct {
	mu sync.Mutex
	by map[int64][]junit.Test
}

func (f *fakeTests) Tests(_ context.Context, _ string, n int64, _ int) ([]junit.Test, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.by[n], nil
}

// history drives a store (with an observer) through runs on an injected
// clock.
type history struct {
	t     *testing.T
	st    *store.Store
	in    *insights.Insights
	tests *fakeTests
	mu    sync.Mutex
	now   time.Time
	runs  []recorded
}

type recorded struct {
	wf  store.Workflow
	job store.Job
}

func (h *history) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *history) set(t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = t
}

// T is "now" of the figures: 2026-12-02 12:00 UTC.
var T = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func newHistory(t *testing.T) *history {
	h := &history{t: t, tests: &fakeTests{by: map[int64][]junit.Test{}}, now: T}
	// The kv's expiry follows the test's clock too (items expire Retention
	// after their day).
	db, err := boltkv.Open(filepath.Join(t.TempDir(), "orbit.db"), boltkv.Config{Now: h.clock})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	h.st = store.New(db, h.clock)
	h.in, err = insights.New(insights.Config{KV: db, Records: h.st, Tests: h.tests, Now: h.clock})
	require.NoError(t, err)
	h.st.Observe(h.in)
	_, err = h.st.CreateProject(t.Context(), store.Project{Slug: slug, Name: "api", DefaultBranch: "main"})
	require.NoError(t, err)
	return h
}

// spec is one workflow run with one job "test" (docker medium: 10 credits
// a minute per task): created at c, the job queued at c+10s, started after
// queue seconds, stopped after dur seconds, the workflow stopped with it.
type spec struct {
	branch, rev string
	created     time.Time
	queue, dur  int
	job         status.Job
	wf          status.Workflow
	par         int
	tests       []junit.Test
}

func (h *history) run(s spec) {
	t, ctx := h.t, h.t.Context()
	h.set(s.created)
	p, err := h.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: slug, VCS: store.PipelineVCS{Branch: s.branch, Revision: s.rev}})
	require.NoError(t, err)
	id := fmt.Sprintf("wf-%d", p.Number)
	w := store.Workflow{ID: id, Name: "build", PipelineID: p.ID, PipelineNumber: p.Number, ProjectSlug: slug, Status: status.WorkflowRunning, CreatedAt: s.created}
	par := max(s.par, 1)
	j := store.Job{ID: id + "-test", WorkflowID: id, PipelineID: p.ID, ProjectSlug: slug, Name: "test", Type: "build", Status: status.JobBlocked,
		Parallelism: par, Spec: []byte(`{"job":{"executor":{"type":"docker","resource_class":"medium"}}}`)}
	require.NoError(t, h.st.CreateWorkflow(ctx, w, []store.Job{j}))
	j, err = h.st.AssignJobNumber(ctx, j)
	require.NoError(t, err)
	to := func(st status.Job) {
		j, err = h.st.TransitionJob(ctx, id, "test", func(*store.Job) (status.Job, error) { return st, nil })
		require.NoError(t, err)
	}
	h.set(s.created.Add(10 * time.Second))
	to(status.JobQueued)
	h.set(h.clock().Add(time.Duration(s.queue) * time.Second))
	to(status.JobRunning)
	h.set(h.clock().Add(time.Duration(s.dur) * time.Second))
	h.tests.mu.Lock()
	h.tests.by[j.Number] = s.tests
	h.tests.mu.Unlock()
	to(s.job)
	w, err = h.st.TransitionWorkflow(ctx, id, func(*store.Workflow) (status.Workflow, error) { return s.wf, nil })
	require.NoError(t, err)
	h.runs = append(h.runs, recorded{w, j})
	h.set(T)
}

func tc(name, result string, secs float64) junit.Test {
	return junit.Test{Name: name, Classname: "pkg", File: "pkg/a_test.go", Result: result, RunTime: secs}
}

// known is the history every figure below is computed from (T = now):
//
//	#  created  branch   rev queue dur  job/workflow  wf duration (10+queue+dur)  credits (10/min·dur·par)
//	1  T-6d     main     r1   20   100  success         130                      16.667
//	2  T-5d     main     r2   30   200  failed          240                      33.333
//	3  T-4d     main     r3   10   300  failed          320                      50
//	4  T-3d     main     r3   40    50  success         100                       8.333
//	5  T-2d     feature  r5   20   150  canceled        180                      25
//	6  T-1d     main     r6   60    70  success (par 2) 140                      23.333
//	7  T-10d    main     r7   20   100  success         130  (previous window)   16.667
//	8  T-9d     main     r8   20   100  failed          130  (previous window)   16.667
//
// Tests (job "test"): TestA / TestB run times and results per run:
//
//	1 A ok 1.0  B ok 2.0 | 2 A fail 1.5 B ok 2.0 | 3 A fail 1.2 B fail 3.0
//	4 A ok 1.1  B ok 2.5 | 6 A ok 0.9   B ok 2.2 | 5, 7, 8: none
//
// Runs 3 and 4 share revision r3: both tests failed and then passed there.
func known(t *testing.T) *history {
	h := newHistory(t)
	d := func(n int) time.Time { return T.Add(-time.Duration(n) * 24 * time.Hour) }
	ok, fail := junit.ResultSuccess, junit.ResultFailure
	h.run(spec{branch: "main", rev: "r7", created: d(10), queue: 20, dur: 100, job: status.JobSuccess, wf: status.WorkflowSuccess})
	h.run(spec{branch: "main", rev: "r8", created: d(9), queue: 20, dur: 100, job: status.JobFailed, wf: status.WorkflowFailed})
	h.run(spec{branch: "main", rev: "r1", created: d(6), queue: 20, dur: 100, job: status.JobSuccess, wf: status.WorkflowSuccess,
		tests: []junit.Test{tc("TestA", ok, 1.0), tc("TestB", ok, 2.0)}})
	h.run(spec{branch: "main", rev: "r2", created: d(5), queue: 30, dur: 200, job: status.JobFailed, wf: status.WorkflowFailed,
		tests: []junit.Test{tc("TestA", fail, 1.5), tc("TestB", ok, 2.0)}})
	h.run(spec{branch: "main", rev: "r3", created: d(4), queue: 10, dur: 300, job: status.JobFailed, wf: status.WorkflowFailed,
		tests: []junit.Test{tc("TestA", fail, 1.2), tc("TestB", fail, 3.0)}})
	h.run(spec{branch: "main", rev: "r3", created: d(3), queue: 40, dur: 50, job: status.JobSuccess, wf: status.WorkflowSuccess,
		tests: []junit.Test{tc("TestA", ok, 1.1), tc("TestB", ok, 2.5)}})
	h.run(spec{branch: "feature", rev: "r5", created: d(2), queue: 20, dur: 150, job: status.JobCanceled, wf: status.WorkflowCanceled})
	h.run(spec{branch: "main", rev: "r6", created: d(1), queue: 60, dur: 70, job: status.JobSuccess, wf: status.WorkflowSuccess, par: 2,
		tests: []junit.Test{tc("TestA", ok, 0.9), tc("TestB", ok, 2.2)}})
	return h
}

// replay hears every status change of the history again: nothing may
// count twice.
func (h *history) replay() {
	for _, r := range h.runs {
		require.NoError(h.t, h.in.RecordJob(h.t.Context(), r.job))
		require.NoError(h.t, h.in.RecordWorkflow(h.t.Context(), r.wf))
		h.in.JobChanged(h.t.Context(), status.JobRunning, r.job)
		h.in.WorkflowChanged(h.t.Context(), status.WorkflowRunning, r.wf)
	}
}

func TestFiguresOnAKnownHistory(t *testing.T) {
	for _, replayed := range []bool{false, true} {
		t.Run(fmt.Sprintf("replayed=%v", replayed), func(t *testing.T) {
			h := known(t)
			if replayed {
				h.replay()
			}
			ctx := t.Context()
			all := insights.Scope{All: true}
			s, err := h.in.Summarize(ctx, slug, insights.Last7Days, nil, all.Has)
			require.NoError(t, err)
			// Runs 1-6 are in [T-7d, T); 7 and 8 in the previous week.
			m := s.Cur
			assert.Equal(t, int64(6), m.TotalRuns)
			assert.Equal(t, int64(3), m.SuccessfulRuns) // 1, 4, 6
			assert.Equal(t, int64(2), m.FailedRuns)     // 2, 3
			assert.Equal(t, int64(1), m.CanceledRuns)   // 5
			assert.InDelta(t, 0.6, m.SuccessRate, 1e-9) // 3 / (3+2): canceled excluded
			assert.InDelta(t, 6.0/7, m.Throughput, 1e-9)
			// Successful durations 130, 100, 140 → sorted 100 130 140; median rank ⌈1.5⌉=2,
			// p95 rank ⌈2.85⌉=3; mean 123.33; σ = √((23.33²+6.67²+16.67²)/3) = 16.997.
			assert.Equal(t, insights.Durations{Min: 100, Mean: 123, Median: 130, P95: 140, Max: 140, StdDev: m.Duration.StdDev, Total: 1110}, m.Duration)
			assert.InDelta(t, 16.997, m.Duration.StdDev, 1e-3)
			// 130+240+320+100+180+140 = 1110 (total over every run, above).
			// MTTR: on main, run 2 (stopped T-5d+240s) opens a failure, run 4 (T-3d+100s) closes it:
			// 2 days − 140 s = 172660 s; one recovery.
			assert.Equal(t, int64(172660), m.MTTR)
			assert.Equal(t, int64(1), m.TotalRecoveries)
			// 16.667+33.333+50+8.333+25+23.333 = 156.67 → 157.
			assert.Equal(t, int64(157), m.TotalCredits)
			// Previous window: runs 7 and 8.
			assert.Equal(t, int64(2), s.Prev.TotalRuns)
			assert.InDelta(t, 0.5, s.Prev.SuccessRate, 1e-9)
			assert.Equal(t, int64(33), s.Prev.TotalCredits)
			assert.InDelta(t, 3.0, insights.Trend(float64(m.TotalRuns), float64(s.Prev.TotalRuns)), 1e-9)
			assert.InDelta(t, 1.2, insights.Trend(m.SuccessRate, s.Prev.SuccessRate), 1e-9)

			// Branch main only: runs 1-4 and 6.
			main := insights.Scope{Branch: "main"}
			s, err = h.in.Summarize(ctx, slug, insights.Last7Days, []string{"build"}, main.Has)
			require.NoError(t, err)
			assert.Equal(t, int64(5), s.Cur.TotalRuns)
			assert.InDelta(t, 0.6, s.Cur.SuccessRate, 1e-9)
			// last-24-hours: run 6 only (created T-1d, in [T-24h, T)).
			s, err = h.in.Summarize(ctx, slug, insights.Last24Hours, nil, nil)
			require.NoError(t, err)
			assert.Equal(t, int64(1), s.Cur.TotalRuns)
			assert.Equal(t, int64(1), s.Prev.TotalRuns) // run 5, T-2d

			// Job "test" over the week: successful durations 100, 50, 70 → 50 70 100.
			cur, _ := h.in.Spans(insights.Last7Days)
			jobs, err := h.in.JobRuns(ctx, slug, "build", cur)
			require.NoError(t, err)
			jm := insights.Compute(jobs, 7)
			assert.Equal(t, int64(6), jm.TotalRuns)
			assert.Equal(t, insights.Durations{Min: 50, Mean: 73, Median: 70, P95: 100, Max: 100, StdDev: jm.Duration.StdDev, Total: 870}, jm.Duration)
			assert.Equal(t, int64(157), jm.TotalCredits)

			// The seed's figures over the week's builds: durations 50 70 100 150 200 300
			// (median rank 3 → 100), queues 10 20 20 30 40 60 (rank 3 → 20), the last
			// build is run 6's: stopped T-1d+140s, 70 s, parallelism 2.
			dash, err := h.in.Dashboard(ctx, slug, insights.Last7Days)
			require.NoError(t, err)
			last := T.Add(-24*time.Hour + 140*time.Second)
			assert.Equal(t, insights.Dashboard{MedianBuildSecs: 100, MedianQueueSecs: 20, LastBuildAt: &last, LastBuildSecs: 70,
				SuccessRate: 0.6, Parallelism: 2, MaxParallelism: 2, Builds: 6}, dash)

			// Daily series: one run a day on days T-6d … T-1d.
			series := insights.Series(jobs, 24*time.Hour)
			require.Len(t, series, 6)
			assert.Equal(t, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), series[0].Start)
			assert.Equal(t, int64(1), series[0].Metrics.TotalRuns)

			branches, err := h.in.Branches(ctx, slug, "")
			require.NoError(t, err)
			assert.Equal(t, []string{"feature", "main"}, branches)

			// Flaky: on r3 TestA failed (1.2 s) then passed; TestB failed (3.0 s) then passed.
			flaky, err := h.in.FlakyTests(ctx, slug)
			require.NoError(t, err)
			require.Len(t, flaky, 2)
			byName := map[string]insights.FlakyTest{}
			for _, f := range flaky {
				byName[f.TestName] = f
			}
			assert.Equal(t, int64(1), byName["TestA"].TimesFlaked)
			assert.InDelta(t, 1.2, byName["TestA"].TimeWasted, 1e-9)
			assert.Equal(t, int64(1), byName["TestB"].TimesFlaked)
			assert.InDelta(t, 3.0, byName["TestB"].TimeWasted, 1e-9)
			assert.Equal(t, "build", byName["TestA"].WorkflowName)
			assert.Equal(t, "test", byName["TestA"].JobName)

			// Test metrics of main's recent runs (1, 2, 3, 4, 6 stored tests): 10 results,
			// 2 a run. TestA: 5 runs, 2 failed, times 0.9 1.0 1.1 1.2 1.5 → p95 rank 5 = 1.5;
			// TestB: 5 runs, 1 failed, p95 = 3.0.
			tm, err := h.in.TestMetrics(ctx, slug, "build", main)
			require.NoError(t, err)
			assert.Equal(t, int64(10), tm.TotalTestRuns)
			assert.Equal(t, int64(2), tm.AverageTestCount)
			require.Len(t, tm.MostFailedTests, 2)
			assert.Equal(t, "TestA", tm.MostFailedTests[0].TestName)
			assert.Equal(t, int64(2), tm.MostFailedTests[0].FailedRuns)
			assert.Equal(t, int64(5), tm.MostFailedTests[0].TotalRuns)
			assert.InDelta(t, 1.5, tm.MostFailedTests[0].P95Duration, 1e-9)
			assert.True(t, tm.MostFailedTests[0].Flaky)
			require.Len(t, tm.SlowestTests, 2)
			assert.Equal(t, "TestB", tm.SlowestTests[0].TestName)
			assert.InDelta(t, 3.0, tm.SlowestTests[0].P95Duration, 1e-9)
			rates := []float64{}
			for _, r := range tm.TestRuns {
				rates = append(rates, r.SuccessRate)
			}
			assert.Equal(t, []float64{1, 0.5, 0, 1, 1}, rates, "runs 1 2 3 4 6, oldest first")
		})
	}
}

// TestRecordingIsIdempotentUnderConcurrency: the same finished job and
// workflow heard by many writers at once count once.
func TestRecordingIsIdempotentUnderConcurrency(t *testing.T) {
	h := known(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, r := range h.runs {
				assert.NoError(t, h.in.RecordJob(t.Context(), r.job))
				assert.NoError(t, h.in.RecordWorkflow(t.Context(), r.wf))
			}
		})
	}
	wg.Wait()
	s, err := h.in.Summarize(t.Context(), slug, insights.Last90Days, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(8), s.Cur.TotalRuns)
	flaky, err := h.in.FlakyTests(t.Context(), slug)
	require.NoError(t, err)
	for _, f := range flaky {
		assert.Equal(t, int64(1), f.TimesFlaked, f.TestName)
	}
}

func TestParseWindow(t *testing.T) {
	w, err := insights.ParseWindow("")
	require.NoError(t, err)
	assert.Equal(t, insights.Last90Days, w)
	_, err = insights.ParseWindow("last-3-days")
	assert.ErrorIs(t, err, insights.ErrBadWindow)
	assert.ErrorContains(t, err, `"last-3-days"`)
}

// TestDecodedBucketsFollowWrites: a summary after a summary sees the runs
// written in between (the decoded buckets are kept by version).
func TestDecodedBucketsFollowWrites(t *testing.T) {
	h := known(t)
	before, err := h.in.Summarize(t.Context(), slug, insights.Last7Days, nil, nil)
	require.NoError(t, err)
	require.Equal(t, int64(6), before.Cur.TotalRuns)
	// Another run on T-1d: the same day bucket as run 6, now one run longer.
	h.run(spec{branch: "main", rev: "r9", created: T.Add(-23 * time.Hour), queue: 5, dur: 10, job: status.JobFailed, wf: status.WorkflowFailed})
	after, err := h.in.Summarize(t.Context(), slug, insights.Last7Days, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(7), after.Cur.TotalRuns)
	assert.Equal(t, int64(3), after.Cur.FailedRuns)
}

// TestRetention: a day's aggregates expire Retention after it.
func TestRetention(t *testing.T) {
	h := known(t)
	s, err := h.in.Summarize(t.Context(), slug, insights.Last90Days, nil, nil)
	require.NoError(t, err)
	require.Equal(t, int64(8), s.Cur.TotalRuns)
	// Run 6's day (T-1d) ends its retention last; move the clock past that of
	// the T-6d bucket (run 1) but not of T-5d's.
	h.set(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).Add(insights.Retention).Add(time.Hour))
	s, err = h.in.Summarize(t.Context(), slug, insights.Last90Days, nil, nil)
	require.NoError(t, err)
	assert.Zero(t, s.Cur.TotalRuns, "the window moved on")
	runs, err := h.in.WorkflowRuns(t.Context(), slug, insights.Span{From: T.Add(-30 * 24 * time.Hour), To: T}, nil)
	require.NoError(t, err)
	assert.Len(t, runs, 5, "runs 7, 8 (T-10d, T-9d) and 1 (T-6d) expired; 2, 3, 4, 5, 6 kept")
}
