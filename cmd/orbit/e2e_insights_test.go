package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// insightsConfig's TestFlaky fails on the first run of the revision and
// passes on the second (a marker file outside the checkout remembers the
// first); TestSteady always passes.
func insightsConfig(marker string) string {
	return fmt.Sprintf(`version: 2.1
jobs:
  test:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - run:
          name: Test
          command: |
            mkdir -p results
            if [ -f %[1]s ]; then verdict='time="0.5"/>'; code=0
            else touch %[1]s; verdict='time="0.75"><failure message="flaked">x</failure></testcase>'; code=1; fi
            printf '<testsuite name="unit"><testcase name="TestSteady" classname="unit" time="0.25"/><testcase name="TestFlaky" classname="unit" %%s</testsuite>\n' "$verdict" > results/junit.xml
            exit $code
      - store_test_results: {path: results}
workflows:
  ci:
    jobs: [test]
`, marker)
}

// TestE2EInsights: on real Nomad through orbit up, two runs of one
// revision (the first fails, the second passes) reach the Insights API
// through the observer compose wires: the workflow's figures, its test
// metrics, and the flaky test.
func TestE2EInsights(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran-once")
	repo := gitRepo(t, map[string]string{".circleci/config.yml": insightsConfig(marker)})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "insights")

	first := p.waitWorkflowDone(p.trigger(slug, "main"), 3*time.Minute)
	require.Equal(t, "failed", first.Status)
	second := p.waitWorkflowDone(p.trigger(slug, "main"), 3*time.Minute)
	require.Equal(t, "success", second.Status)

	var wfs struct {
		Items []struct {
			Name    string
			Metrics struct {
				TotalRuns       int64   `json:"total_runs"`
				SuccessfulRuns  int64   `json:"successful_runs"`
				FailedRuns      int64   `json:"failed_runs"`
				SuccessRate     float64 `json:"success_rate"`
				TotalRecoveries int64   `json:"total_recoveries"`
			}
		}
	}
	require.Equal(t, 200, p.do("GET", "/api/v2/insights/"+slug+"/workflows?reporting-window=last-24-hours", nil, &wfs))
	require.Len(t, wfs.Items, 1)
	m := wfs.Items[0].Metrics
	assert.Equal(t, "ci", wfs.Items[0].Name)
	assert.Equal(t, int64(2), m.TotalRuns)
	assert.Equal(t, int64(1), m.SuccessfulRuns)
	assert.Equal(t, int64(1), m.FailedRuns)
	assert.Equal(t, 0.5, m.SuccessRate)
	assert.Equal(t, int64(1), m.TotalRecoveries)

	var flaky struct {
		Tests []struct {
			Name        string  `json:"test-name"`
			Job         string  `json:"job-name"`
			TimesFlaked int64   `json:"times-flaked"`
			TimeWasted  float64 `json:"time-wasted"`
		} `json:"flaky-tests"`
		Total float64 `json:"total-flaky-tests"`
	}
	require.Equal(t, 200, p.do("GET", "/api/v2/insights/"+slug+"/flaky-tests", nil, &flaky))
	require.Len(t, flaky.Tests, 1)
	assert.Equal(t, "TestFlaky", flaky.Tests[0].Name)
	assert.Equal(t, "test", flaky.Tests[0].Job)
	assert.Equal(t, int64(1), flaky.Tests[0].TimesFlaked)
	assert.Equal(t, 0.75, flaky.Tests[0].TimeWasted)

	var tm struct {
		TotalTestRuns int64 `json:"total_test_runs"`
		MostFailed    []struct {
			Name   string `json:"test_name"`
			Failed int64  `json:"failed_runs"`
			Flaky  bool
		} `json:"most_failed_tests"`
	}
	require.Equal(t, 200, p.do("GET", "/api/v2/insights/"+slug+"/workflows/ci/test-metrics", nil, &tm))
	assert.Equal(t, int64(4), tm.TotalTestRuns)
	require.Len(t, tm.MostFailed, 1)
	assert.Equal(t, "TestFlaky", tm.MostFailed[0].Name)
	assert.True(t, tm.MostFailed[0].Flaky)
}
