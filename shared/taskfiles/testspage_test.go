package taskfiles_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/taskfiles"
)

func TestTestsPage(t *testing.T) { forEachBackend(t, testTestsPage) }

// testTestsPage: pages cut across batches and nodes, by count and by bytes,
// list every test once in Tests' order, and a forged token is refused.
func testTestsPage(t *testing.T, h *harness) {
	ctx := context.Background()
	// Node 10 sorts before node 2 as text; pages follow Tests' numeric order.
	for _, node := range []int{0, 2, 10} {
		c := h.task(taskfiles.TaskContext{TaskID: fmt.Sprintf("n%d", node), JobNumber: 4, JobName: "test", Attempt: 1, Index: node})
		for seq, n := range []int{3, 0, 4} {
			batch := []junit.Test{}
			for i := range n {
				batch = append(batch, junit.Test{Name: fmt.Sprintf("T%d-%d-%d", node, seq, i), Result: "success"})
			}
			require.NoError(t, c.StoreTests(ctx, 5, seq, runner.TestBatch{Tests: batch}))
		}
	}
	want, err := h.svc.Tests(ctx, "gh/acme/shop", 4, 1)
	require.NoError(t, err)
	require.Len(t, want, 21)
	assert.Equal(t, "T10-2-3", want[20].Name, "node 10 last")
	// Every test's JSON (and its comma) has this size: names are as long.
	size := len(fmt.Sprintf(`{"name":%q,"classname":"","file":"","run_time":0,"result":"success","message":"","source":""}`, want[0].Name)) + 1
	for _, limits := range []taskfiles.TestsPageLimits{
		{Items: 1, Bytes: 1 << 20}, {Items: 3, Bytes: 1 << 20}, {Items: 4, Bytes: 1 << 20},
		{Items: 21, Bytes: 1 << 20}, {Items: 100, Bytes: 1 << 20},
		{Items: 100, Bytes: 5 * size}, {Items: 100, Bytes: 1},
	} {
		t.Run(fmt.Sprintf("%d items %d bytes", limits.Items, limits.Bytes), func(t *testing.T) {
			var got []junit.Test
			token := ""
			for pages := 1; ; pages++ {
				require.LessOrEqual(t, pages, 22, "paging ends")
				page, next, err := h.svc.TestsPage(ctx, "gh/acme/shop", 4, 1, token, limits)
				require.NoError(t, err)
				require.NotEmpty(t, page, "no empty page before the end")
				assert.LessOrEqual(t, len(page), limits.Items)
				if limits.Bytes >= size {
					assert.LessOrEqual(t, len(page)*size, limits.Bytes, "within the byte bound")
				}
				got = append(got, page...)
				if next == "" {
					break
				}
				token = next
			}
			assert.Equal(t, want, got)
		})
	}

	page, next, err := h.svc.TestsPage(ctx, "gh/acme/shop", 99, 1, "", taskfiles.TestsPageLimits{Items: 10, Bytes: 1 << 20})
	require.NoError(t, err)
	assert.Empty(t, page, "a job without tests")
	assert.Empty(t, next)

	_, next, err = h.svc.TestsPage(ctx, "gh/acme/shop", 4, 1, "", taskfiles.TestsPageLimits{Items: 2, Bytes: 1 << 20})
	require.NoError(t, err)
	for _, bad := range []string{"%%%", "bm9jb2xvbg", "MC8wMDA1LTAwMDAwMC5qc29uOjk5", next + "x"} {
		_, _, err := h.svc.TestsPage(ctx, "gh/acme/shop", 4, 1, bad, taskfiles.TestsPageLimits{Items: 2, Bytes: 1 << 20})
		assert.ErrorIs(t, err, taskfiles.ErrPageToken, "token %q", bad)
	}
	_, _, err = h.svc.TestsPage(ctx, "gh/acme/shop", 5, 1, next, taskfiles.TestsPageLimits{Items: 2, Bytes: 1 << 20})
	assert.ErrorIs(t, err, taskfiles.ErrPageToken, "another job's token")
	assert.False(t, strings.Contains(next, "/"), "the token is URL-safe: %s", next)
}

// TestTestBatchOverTheBound: the runner API refuses a batch over
// runner.MaxTestBatchBytes in both shapes, saying so, as the api Lambda
// would refuse its request: agents split their results under it.
func TestTestBatchOverTheBound(t *testing.T) { forEachBackend(t, testTestBatchOverTheBound) }

func testTestBatchOverTheBound(t *testing.T, h *harness) {
	ctx := context.Background()
	c := h.task(taskfiles.TaskContext{TaskID: "big", JobNumber: 6, JobName: "test", Attempt: 1})
	tests := make([]junit.Test, 60)
	for i := range tests {
		tests[i] = junit.Test{Name: fmt.Sprint(i), Message: strings.Repeat("x", junit.MaxMessage)}
	}
	err := c.StoreTests(ctx, 1, 0, runner.TestBatch{Tests: tests})
	require.Error(t, err)
	assert.ErrorIs(t, err, runner.ErrBadRequest)
	assert.Contains(t, err.Error(), "larger than")
	got, err := h.svc.Tests(ctx, "gh/acme/shop", 6, 1)
	require.NoError(t, err)
	assert.Empty(t, got)

	require.NoError(t, c.StoreTests(ctx, 1, 0, runner.TestBatch{Tests: tests[:40]}), "2.6 MB of JSON passes")
}
