package insights

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/kv"
)

// recentRuns is how many of a workflow's newest runs test metrics cover
// (CircleCI: "calculated based on 10 most recent workflow runs").
const recentRuns = 10

// maxScan bounds the test-run items one request reads looking for the
// scope's recent runs (a branch with few runs among many others' stops
// there, with the runs found so far).
const maxScan = 2000

// topTests is how many tests each of the slowest and most-failed lists
// shows; the rest is counted in the *_extra figures.
const topTests = 10

// TestStat is one test's figures over the recent runs.
type TestStat struct {
	TestName    string  `json:"test_name"`
	Classname   string  `json:"classname"`
	File        string  `json:"file"`
	Source      string  `json:"source"`
	JobName     string  `json:"job_name"`
	TotalRuns   int64   `json:"total_runs"`
	FailedRuns  int64   `json:"failed_runs"`
	P95Duration float64 `json:"p95_duration"`
	Flaky       bool    `json:"flaky"`
}

// TestCounts are a workflow run's test results by outcome.
type TestCounts struct {
	Error   int64 `json:"error"`
	Failure int64 `json:"failure"`
	Skipped int64 `json:"skipped"`
	Success int64 `json:"success"`
	Total   int64 `json:"total"`
}

// WorkflowTestRun is one workflow run's tests.
type WorkflowTestRun struct {
	PipelineNumber int64      `json:"pipeline_number"`
	WorkflowID     string     `json:"workflow_id"`
	SuccessRate    float64    `json:"success_rate"`
	TestCounts     TestCounts `json:"test_counts"`
}

// TestMetrics is CircleCI's test-metrics response.
type TestMetrics struct {
	AverageTestCount     int64             `json:"average_test_count"`
	MostFailedTests      []TestStat        `json:"most_failed_tests"`
	MostFailedTestsExtra int64             `json:"most_failed_tests_extra"`
	SlowestTests         []TestStat        `json:"slowest_tests"`
	SlowestTestsExtra    int64             `json:"slowest_tests_extra"`
	TotalTestRuns        int64             `json:"total_test_runs"`
	TestRuns             []WorkflowTestRun `json:"test_runs"`
}

// TestMetrics computes a workflow's test metrics over its 10 most recent
// runs (in scope) that stored tests, among its newest 2,000 job runs with
// tests (maxScan):
//
//	total_test_runs     test results counted (a test run twice counts twice)
//	average_test_count  total_test_runs ÷ workflow runs, rounded down
//	test_runs           per workflow run: counts by result, success_rate =
//	                    success ÷ (success + failure)
//	most_failed_tests   tests with failed_runs > 0, most failures first (then
//	                    by name), the top 10; _extra: how many more
//	slowest_tests       by p95 of run_time (nearest rank), slowest first, the
//	                    top 10; _extra: how many more
//	flaky               the test is in the project's flaky tests
func (in *Insights) TestMetrics(ctx context.Context, slug, workflow string, scope Scope) (TestMetrics, error) {
	out := TestMetrics{MostFailedTests: []TestStat{}, SlowestTests: []TestStat{}, TestRuns: []WorkflowTestRun{}}
	q := kv.Query{PK: pk(slug, "TESTS", esc(workflow)), Descending: true, Limit: 200}
	var runs []*WorkflowTestRun
	byRun := map[string]*WorkflowTestRun{}
	type acc struct {
		stat  TestStat
		times []float64
	}
	stats := map[string]*acc{}
	scanned := 0
read:
	for {
		page, err := in.kv.Query(ctx, q)
		if err != nil {
			return out, err
		}
		for _, it := range page.Items {
			if scanned++; scanned > maxScan {
				break read
			}
			var tr TestRun
			if err := json.Unmarshal(it.Data, &tr); err != nil {
				return out, fmt.Errorf("decode test run %s: %w", it.SK, err)
			}
			if !scope.All && tr.Branch != scope.Branch {
				continue
			}
			wr := byRun[tr.WorkflowID]
			if wr == nil {
				if len(runs) == recentRuns {
					break read
				}
				wr = &WorkflowTestRun{PipelineNumber: tr.PipelineNumber, WorkflowID: tr.WorkflowID}
				byRun[tr.WorkflowID] = wr
				runs = append(runs, wr)
			}
			for _, t := range tr.Tests {
				c := &wr.TestCounts
				c.Total++
				switch t.Result {
				case junit.ResultSuccess:
					c.Success++
				case junit.ResultFailure:
					c.Failure++
				case junit.ResultSkipped:
					c.Skipped++
				}
				k := tr.Job + "\x00" + testKey(t)
				a := stats[k]
				if a == nil {
					a = &acc{stat: TestStat{TestName: t.Name, Classname: t.Classname, File: t.File, Source: t.Source, JobName: tr.Job}}
					stats[k] = a
				}
				a.stat.TotalRuns++
				if t.Result == junit.ResultFailure {
					a.stat.FailedRuns++
				}
				a.times = append(a.times, t.RunTime)
			}
		}
		if page.Cursor == "" {
			break
		}
		q.Cursor = page.Cursor
	}
	flaky, err := in.FlakyTests(ctx, slug)
	if err != nil {
		return out, err
	}
	isFlaky := map[string]bool{}
	for _, f := range flaky {
		if f.WorkflowName == workflow {
			isFlaky[f.JobName+"\x00"+testKey(TestResult{Name: f.TestName, Classname: f.Classname, File: f.File})] = true
		}
	}
	all := make([]TestStat, 0, len(stats))
	for k, a := range stats {
		a.stat.P95Duration = Percentile(a.times, 0.95)
		a.stat.Flaky = isFlaky[k]
		all = append(all, a.stat)
	}
	name := func(a, b TestStat) int {
		return strings.Compare(a.JobName+"\x00"+a.Classname+"\x00"+a.TestName, b.JobName+"\x00"+b.Classname+"\x00"+b.TestName)
	}
	failedOnes := slices.DeleteFunc(slices.Clone(all), func(t TestStat) bool { return t.FailedRuns == 0 })
	slices.SortFunc(failedOnes, func(a, b TestStat) int {
		if a.FailedRuns != b.FailedRuns {
			return int(b.FailedRuns - a.FailedRuns)
		}
		return name(a, b)
	})
	slices.SortFunc(all, func(a, b TestStat) int {
		if a.P95Duration != b.P95Duration {
			if a.P95Duration > b.P95Duration {
				return -1
			}
			return 1
		}
		return name(a, b)
	})
	out.MostFailedTests, out.MostFailedTestsExtra = top(failedOnes)
	out.SlowestTests, out.SlowestTestsExtra = top(all)
	for i := len(runs) - 1; i >= 0; i-- { // oldest first
		wr := runs[i]
		if n := wr.TestCounts.Success + wr.TestCounts.Failure; n > 0 {
			wr.SuccessRate = float64(wr.TestCounts.Success) / float64(n)
		}
		out.TotalTestRuns += wr.TestCounts.Total
		out.TestRuns = append(out.TestRuns, *wr)
	}
	if len(runs) > 0 {
		out.AverageTestCount = int64(math.Floor(float64(out.TotalTestRuns) / float64(len(runs))))
	}
	return out, nil
}

func top(s []TestStat) ([]TestStat, int64) {
	if len(s) <= topTests {
		return s, 0
	}
	return s[:topTests], int64(len(s) - topTests)
}
