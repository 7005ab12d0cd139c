package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingTestsConfig's test step writes JUnit results and fails; the
// upload steps follow it without a when (as most configs write them), and
// one with `when: always`, which CircleCI accepts on store_test_results.
const failingTestsConfig = `version: 2.1
jobs:
  test:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - run:
          name: Test
          command: |
            mkdir -p results/unit
            cat > results/unit/junit.xml <<'XML'
            <testsuite name="unit">
              <testcase name="TestPasses" classname="unit" file="a_test.go" time="0.25"/>
              <testcase name="TestFails" classname="unit" file="b_test.go" time="1.5"><failure message="want 1, got 2">b_test.go:12</failure></testcase>
            </testsuite>
            XML
            echo "the test log" > test.log
            exit 1
      - save_cache: {key: never, paths: [results]}
      - store_test_results:
          path: results
          when: always
      - store_artifacts: {path: test.log}
workflows:
  ci:
    jobs: [test]
`

// TestE2EFailedJobKeepsTestResults: on real Nomad, a job whose test step
// fails still uploads its test results (the failing test among them, with
// its timing) and its artifacts, as CircleCI does; the save_cache after
// the failure is skipped.
func TestE2EFailedJobKeepsTestResults(t *testing.T) {
	repo := gitRepo(t, map[string]string{".circleci/config.yml": failingTestsConfig})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "failing")

	pid := p.trigger(slug, "main")
	wf := p.waitWorkflowDone(pid, 3*time.Minute)
	jobs := p.jobs(wf.ID)
	require.Equal(t, "failed", wf.Status)
	num := jobs["test"].JobNumber
	assert.Equal(t, "failed", jobs["test"].Status)

	byName := map[string]string{}
	for _, s := range p.steps(slug, num) {
		if len(s.Actions) > 0 {
			byName[s.Name] = s.Actions[0].Status
		}
	}
	assert.Equal(t, "failed", byName["Test"])
	assert.Equal(t, "success", byName["Uploading test results"], "store_test_results runs after the failure")
	assert.Equal(t, "success", byName["Uploading artifacts"], "store_artifacts runs after the failure")
	assert.NotContains(t, byName, "Saving cache", "save_cache is skipped after the failure")

	var tests struct {
		Items []struct {
			Name, File, Result, Message string
			RunTime                     float64 `json:"run_time"`
		}
	}
	require.Equal(t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/tests", slug, num), nil, &tests))
	require.Len(t, tests.Items, 2)
	results := map[string]string{}
	for _, it := range tests.Items {
		results[it.Name] = it.Result
		if it.Name == "TestFails" {
			assert.Equal(t, 1.5, it.RunTime, "the failing test's timing is kept for --split-by=timings")
			assert.Contains(t, it.Message, "want 1, got 2")
		}
	}
	assert.Equal(t, map[string]string{"TestPasses": "success", "TestFails": "failure"}, results)

	var arts struct{ Items []struct{ Path string } }
	require.Equal(t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/artifacts", slug, num), nil, &arts))
	require.Len(t, arts.Items, 1)
	assert.Equal(t, "test.log", arts.Items[0].Path)

	// The tolerated when is a warning in the pipeline's errors, in the API
	// and the UI; the pipeline ran all the same.
	var pl struct {
		State  string
		Errors []struct{ Type, Message string }
	}
	require.Equal(t, 200, p.do("GET", "/api/v2/pipeline/"+pid, nil, &pl))
	assert.NotEqual(t, "errored", pl.State)
	require.Len(t, pl.Errors, 1)
	assert.Equal(t, "config", pl.Errors[0].Type)
	assert.Contains(t, pl.Errors[0].Message, ".circleci/config.yml:22:11: warning: jobs.test.steps[3].store_test_results.when: has no effect")
	assert.Contains(t, p.text("/ui/pipeline/"+pid), "warning: jobs.test.steps[3].store_test_results.when: has no effect")
}
