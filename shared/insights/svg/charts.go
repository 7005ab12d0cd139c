package svg

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/orbit-ci/orbit/shared/insights"
)

// The Insights page's charts, from a time series (insights.Series) and
// test metrics.

func labels(points []insights.Point, step time.Duration) []string {
	out := make([]string, 0, len(points))
	layout := "Jan 2"
	if step < 24*time.Hour {
		layout = "Jan 2 15:04"
	}
	for _, p := range points {
		out = append(out, p.Start.UTC().Format(layout))
	}
	return out
}

func values(points []insights.Point, f func(insights.Metrics) float64) []float64 {
	out := make([]float64, 0, len(points))
	for _, p := range points {
		out = append(out, f(p.Metrics))
	}
	return out
}

// DurationTrend draws the median and p95 duration of successful runs per
// interval.
func DurationTrend(id, what string, points []insights.Point, step time.Duration) string {
	return Line(Chart{ID: id, Title: "Duration of " + what, Unit: Seconds,
		Desc: "Median and 95th percentile duration of successful runs of " + what + "."},
		labels(points, step), []Series{
			{Name: "median", Values: values(points, func(m insights.Metrics) float64 { return nanIfNone(m.SuccessfulRuns, m.Duration.Median) })},
			{Name: "p95", Values: values(points, func(m insights.Metrics) float64 { return nanIfNone(m.SuccessfulRuns, m.Duration.P95) })},
		})
}

// SuccessRate draws the success rate per interval (canceled runs
// excluded; a gap where no run succeeded or failed).
func SuccessRate(id, what string, points []insights.Point, step time.Duration) string {
	return Line(Chart{ID: id, Title: "Success rate of " + what, Unit: Percent,
		Desc: "Share of successful runs among successful and failed runs of " + what + "."},
		labels(points, step), []Series{{Name: "success rate", Values: values(points, func(m insights.Metrics) float64 {
			return nanIfNone(m.SuccessfulRuns+m.FailedRuns, 0) + m.SuccessRate
		})}})
}

// QueueTime draws the median queue time of job runs per interval (from
// job runs: queued_at to started_at).
func QueueTime(id, what string, runs []insights.Run, step time.Duration) string {
	by := map[time.Time][]float64{}
	var order []time.Time
	for _, r := range runs {
		if !r.Started {
			continue
		}
		t := r.At.UTC().Truncate(step)
		if _, ok := by[t]; !ok {
			order = append(order, t)
		}
		by[t] = append(by[t], r.Queue)
	}
	slices.SortFunc(order, time.Time.Compare)
	ls, vs := make([]string, 0, len(order)), make([]float64, 0, len(order))
	for _, t := range order {
		ls = append(ls, labels([]insights.Point{{Start: t}}, step)[0])
		vs = append(vs, insights.Percentile(by[t], 0.5))
	}
	return Line(Chart{ID: id, Title: "Queue time of " + what, Unit: Seconds,
		Desc: "Median time jobs of " + what + " waited from queued to started."}, ls, []Series{{Name: "median queue time", Values: vs}})
}

// Throughput draws the runs of each interval as bars.
func Throughput(id, what string, points []insights.Point, step time.Duration) string {
	ls := labels(points, step)
	bars := make([]Bar, 0, len(points))
	for i, p := range points {
		bars = append(bars, Bar{Label: ls[i], Value: float64(p.Metrics.TotalRuns)})
	}
	return Bars(Chart{ID: id, Title: "Runs of " + what, Unit: Count, Desc: "Number of finished runs of " + what + " per interval."}, bars)
}

// SlowestTests draws the tests' p95 run times, slowest first.
func SlowestTests(id string, tests []insights.TestStat) string {
	bars := make([]Bar, 0, len(tests))
	for _, t := range tests {
		bars = append(bars, Bar{Label: t.Classname + " " + t.TestName, Value: t.P95Duration})
	}
	return Bars(Chart{ID: id, Title: "Slowest tests", Unit: Seconds, Desc: "95th percentile run time of the slowest tests of the recent runs."}, bars)
}

// FlakiestTests draws how often each flaky test flaked, most first (then
// by name).
func FlakiestTests(id string, tests []insights.FlakyTest) string {
	tests = slices.Clone(tests)
	slices.SortStableFunc(tests, func(a, b insights.FlakyTest) int {
		return cmp.Or(cmp.Compare(b.TimesFlaked, a.TimesFlaked), cmp.Compare(a.Classname+" "+a.TestName, b.Classname+" "+b.TestName))
	})
	bars := make([]Bar, 0, len(tests))
	for _, t := range tests {
		bars = append(bars, Bar{Label: t.Classname + " " + t.TestName, Value: float64(t.TimesFlaked)})
	}
	return Bars(Chart{ID: id, Title: "Flakiest tests", Unit: Count, Desc: "Times each test failed on a revision where it also passed."}, bars)
}

// nanIfNone is v, or NaN (a gap) when n is 0.
func nanIfNone(n, v int64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return float64(v)
}
