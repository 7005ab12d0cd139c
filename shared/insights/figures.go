package insights

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// The figures, from a set of runs (pure functions of the runs):
//
//	total_runs        every finished run (canceled included)
//	successful_runs   status success
//	failed_runs       workflows: failed, error, unauthorized; jobs: failed,
//	                  infrastructure_fail, timedout, unauthorized
//	success_rate      successful / (successful + failed); canceled runs are
//	                  excluded; 0 when there is neither
//	throughput        total_runs / the window's length in days
//	duration_metrics  over successful runs, in whole seconds: min, max,
//	                  mean (rounded), median and p95 by nearest rank (the
//	                  value at rank ⌈p·n⌉ of the sorted durations: no
//	                  interpolation, so every figure is a real run's),
//	                  population standard deviation; total over all runs
//	mttr              mean time to recovery: per workflow (job) and branch,
//	                  runs in order of stopped_at; a failed run after a
//	                  success (or the window's start) opens a failure, the
//	                  next successful run closes it: stopped_at(success) −
//	                  stopped_at(first failure); mttr is the mean over the
//	                  window's closed failures (whole seconds, rounded),
//	                  total_recoveries how many there were
//	total_credits     Σ credits-equivalent (credits.go), rounded
//	trends            current window ÷ previous window of the same length
//	                  (a ratio: 1 is unchanged); 0 when the previous is 0
//
// Exact: every run of the window is read (bucket.go), so these have no
// estimation error; only the rounding to whole seconds and credits.

// Durations are duration statistics in whole seconds.
type Durations struct {
	Min    int64   `json:"min"`
	Mean   int64   `json:"mean"`
	Median int64   `json:"median"`
	P95    int64   `json:"p95"`
	Max    int64   `json:"max"`
	StdDev float64 `json:"standard_deviation"`
	// Total is the sum over every run, successful or not.
	Total int64 `json:"total"`
}

// Metrics are a set of runs' figures.
type Metrics struct {
	TotalRuns       int64     `json:"total_runs"`
	SuccessfulRuns  int64     `json:"successful_runs"`
	FailedRuns      int64     `json:"failed_runs"`
	CanceledRuns    int64     `json:"canceled_runs"`
	SuccessRate     float64   `json:"success_rate"`
	Throughput      float64   `json:"throughput"`
	MTTR            int64     `json:"mttr"`
	TotalRecoveries int64     `json:"total_recoveries"`
	TotalCredits    int64     `json:"total_credits_used"`
	MedianCredits   int64     `json:"median_credits_used"`
	Duration        Durations `json:"duration_metrics"`
	// MinStartedAt and MaxEndedAt bound the runs (zero without runs).
	MinStartedAt time.Time `json:"-"`
	MaxEndedAt   time.Time `json:"-"`
}

func succeeded(r Run) bool { return r.Status == "success" }

func failed(r Run) bool {
	switch r.Status {
	case "failed", "error", "unauthorized", "infrastructure_fail", "timedout":
		return true
	}
	return false
}

// Compute returns the figures of runs over a window of days days.
func Compute(runs []Run, days float64) Metrics {
	var m Metrics
	// Compute's own slices: sorted in place, one allocation each.
	ok := make([]float64, 0, len(runs))
	credits := make([]float64, 0, len(runs))
	var total, creditSum float64
	for _, r := range runs {
		m.TotalRuns++
		switch {
		case succeeded(r):
			m.SuccessfulRuns++
			ok = append(ok, r.Duration)
		case failed(r):
			m.FailedRuns++
		case r.Status == "canceled":
			m.CanceledRuns++
		}
		total += r.Duration
		creditSum += r.Credits
		credits = append(credits, r.Credits)
		if m.MinStartedAt.IsZero() || r.At.Before(m.MinStartedAt) {
			m.MinStartedAt = r.At
		}
		if r.StoppedAt.After(m.MaxEndedAt) {
			m.MaxEndedAt = r.StoppedAt
		}
	}
	if n := m.SuccessfulRuns + m.FailedRuns; n > 0 {
		m.SuccessRate = float64(m.SuccessfulRuns) / float64(n)
	}
	if days > 0 {
		m.Throughput = float64(m.TotalRuns) / days
	}
	m.Duration = durations(ok)
	m.Duration.Total = int64(math.Round(total))
	m.TotalCredits = int64(math.Round(creditSum))
	slices.Sort(credits)
	m.MedianCredits = int64(math.Round(Percentile(credits, 0.5)))
	m.MTTR, m.TotalRecoveries = mttr(runs)
	return m
}

// durations sorts v in place.
func durations(v []float64) Durations {
	if len(v) == 0 {
		return Durations{}
	}
	s := v
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mean := sum / float64(len(s))
	var sq float64
	for _, x := range s {
		sq += (x - mean) * (x - mean)
	}
	return Durations{
		Min: int64(math.Round(s[0])), Max: int64(math.Round(s[len(s)-1])), Mean: int64(math.Round(mean)),
		Median: int64(math.Round(Percentile(s, 0.5))), P95: int64(math.Round(Percentile(s, 0.95))),
		StdDev: math.Sqrt(sq / float64(len(s))),
	}
}

// Percentile is the nearest-rank p-quantile of v (0 < p ≤ 1): the value at
// rank ⌈p·n⌉ of v sorted; 0 for no values.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := v
	if !slices.IsSorted(s) {
		s = slices.Clone(v)
		slices.Sort(s)
	}
	rank := int(math.Ceil(p * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// mttr is the mean time to recovery in seconds and the number of
// recoveries (see the figures' definitions above).
func mttr(runs []Run) (int64, int64) {
	type key struct{ w, j, b string }
	idx := make([]int32, len(runs))
	for i := range idx {
		idx[i] = int32(i)
	}
	// One sort by group, then by stopped_at, instead of a slice per group.
	slices.SortStableFunc(idx, func(a, b int32) int {
		x, y := &runs[a], &runs[b]
		if c := cmp.Compare(x.Workflow, y.Workflow); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Job, y.Job); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Branch, y.Branch); c != 0 {
			return c
		}
		return x.StoppedAt.Compare(y.StoppedAt)
	})
	var sum float64
	var n int64
	var cur key
	var since *time.Time
	for _, i := range idx {
		r := &runs[i]
		if k := (key{r.Workflow, r.Job, r.Branch}); k != cur {
			cur, since = k, nil
		}
		switch {
		case failed(*r) && since == nil:
			since = &r.StoppedAt
		case succeeded(*r) && since != nil:
			sum += r.StoppedAt.Sub(*since).Seconds()
			n++
			since = nil
		}
	}
	if n == 0 {
		return 0, 0
	}
	return int64(math.Round(sum / float64(n))), n
}

// Trend is cur ÷ prev; 0 when prev is 0.
func Trend(cur, prev float64) float64 {
	if prev == 0 {
		return 0
	}
	return cur / prev
}

// Dashboard is the seed's Insights page figures of a project, over its
// build (job) runs of a window.
type Dashboard struct {
	// MedianBuildSecs is the median duration of the builds that ran
	// (started), whatever their outcome.
	MedianBuildSecs int64 `json:"median_build_time_secs"`
	// MedianQueueSecs is the median of started_at − queued_at.
	MedianQueueSecs int64 `json:"median_queue_time_secs"`
	// LastBuildAt is when the newest build ended, LastBuildSecs how long
	// it ran; nil and 0 without builds.
	LastBuildAt   *time.Time `json:"last_build_at"`
	LastBuildSecs int64      `json:"last_build_time_secs"`
	// SuccessRate is successful ÷ (successful + failed) builds.
	SuccessRate float64 `json:"success_rate"`
	// Parallelism is the newest build's parallelism; MaxParallelism the
	// highest of the window.
	Parallelism    int `json:"parallelism"`
	MaxParallelism int `json:"max_parallelism"`
	// Builds counts the window's builds.
	Builds int64 `json:"builds"`
}

// ComputeDashboard returns the seed's figures of job runs.
func ComputeDashboard(jobs []Run) Dashboard {
	var d Dashboard
	var durs, queues []float64
	var ok, bad int64
	var last *Run
	for i, r := range jobs {
		d.Builds++
		if r.Started {
			durs = append(durs, r.Duration)
			queues = append(queues, r.Queue)
		}
		switch {
		case succeeded(r):
			ok++
		case failed(r):
			bad++
		}
		if last == nil || r.StoppedAt.After(last.StoppedAt) {
			last = &jobs[i]
		}
		d.MaxParallelism = max(d.MaxParallelism, r.Parallelism)
	}
	if ok+bad > 0 {
		d.SuccessRate = float64(ok) / float64(ok+bad)
	}
	d.MedianBuildSecs = int64(math.Round(Percentile(durs, 0.5)))
	d.MedianQueueSecs = int64(math.Round(Percentile(queues, 0.5)))
	if last != nil {
		t := last.StoppedAt
		d.LastBuildAt, d.LastBuildSecs, d.Parallelism = &t, int64(math.Round(last.Duration)), last.Parallelism
	}
	return d
}
