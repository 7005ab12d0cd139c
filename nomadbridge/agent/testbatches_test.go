package agent

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/runner"
)

func tests(n, messageBytes int) []junit.Test {
	out := make([]junit.Test, n)
	for i := range out {
		out[i] = junit.Test{Name: fmt.Sprintf("Test%05d", i), Classname: "pkg", Result: junit.ResultSuccess,
			Message: strings.Repeat("m", messageBytes)}
	}
	return out
}

func TestSplitTests(t *testing.T) {
	huge := junit.Test{Name: "Huge", Classname: "pkg", Message: strings.Repeat("h", 2000)}
	cases := []struct {
		name     string
		tests    []junit.Test
		maxItems int
		maxBytes int
		sizes    []int
		skipped  int
	}{
		{name: "no tests: one empty batch", tests: nil, maxItems: 3, maxBytes: 1 << 20, sizes: []int{0}},
		{name: "under both bounds", tests: tests(3, 0), maxItems: 3, maxBytes: 1 << 20, sizes: []int{3}},
		{name: "by count", tests: tests(7, 0), maxItems: 3, maxBytes: 1 << 20, sizes: []int{3, 3, 1}},
		{name: "by bytes", tests: tests(10, 400), maxItems: 100, maxBytes: 1800, sizes: []int{3, 3, 3, 1}},
		{name: "a test too large alone is skipped", tests: append(append(tests(2, 0), huge), tests(1, 0)...),
			maxItems: 100, maxBytes: 1800, sizes: []int{3}, skipped: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			batches, skipped, err := splitTests(tc.tests, tc.maxItems, tc.maxBytes)
			require.NoError(t, err)
			var sizes []int
			var all []junit.Test
			for _, b := range batches {
				sizes = append(sizes, len(b))
				all = append(all, b...)
				body, err := json.Marshal(runner.TestBatch{Tests: b})
				require.NoError(t, err)
				assert.LessOrEqual(t, len(body), tc.maxBytes, "the batch's body is within the bound")
				assert.LessOrEqual(t, len(b), tc.maxItems)
			}
			assert.Equal(t, tc.sizes, sizes)
			assert.Len(t, skipped, tc.skipped)
			var want []junit.Test
			for _, x := range tc.tests {
				if x.Name != "Huge" {
					want = append(want, x)
				}
			}
			assert.Equal(t, want, all, "every test that fits is sent once, in order")
		})
	}
}

// TestSplitTestsFitsTheRunnerAPI: 200 tests with the longest messages
// junit keeps are sent in batches the runner API (the api Lambda in AWS)
// takes.
func TestSplitTestsFitsTheRunnerAPI(t *testing.T) {
	batches, skipped, err := splitTests(tests(200, junit.MaxMessage), testBatch, runner.MaxTestBatchBytes)
	require.NoError(t, err)
	assert.Empty(t, skipped)
	assert.Greater(t, len(batches), 1)
	n := 0
	for _, b := range batches {
		body, err := json.Marshal(runner.TestBatch{Tests: b})
		require.NoError(t, err)
		assert.LessOrEqual(t, len(body), runner.MaxTestBatchBytes)
		n += len(b)
	}
	assert.Equal(t, 200, n)
}
