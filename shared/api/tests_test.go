package api_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/runner"
)

// TestTestsAPIPages: a job's tests come a page at a time (next_page_token
// ↔ page-token): at most 1,000 a page, and no page over the api Lambda's
// response budget when messages are long; every test once, in order.
func TestTestsAPIPages(t *testing.T) {
	e, s, files := filesEnvService(t, false)
	ctx := context.Background()
	var stored []string
	batch := func(seq, n, message int) {
		tests := make([]junit.Test, n)
		for i := range tests {
			tests[i] = junit.Test{Name: fmt.Sprintf("T%d-%04d", seq, i), Classname: "pkg", Result: "failure",
				Message: strings.Repeat("x", message)}
			stored = append(stored, tests[i].Name)
		}
		require.NoError(t, files.StoreTests(ctx, s.task1, 5, seq, runner.TestBatch{Tests: tests}))
	}
	batch(0, 2500, 0)
	batch(1, 100, junit.MaxMessage) // 6.5 MB of messages
	batch(2, 10, 0)

	type page struct {
		Items         []struct{ Name string } `json:"items"`
		NextPageToken *string                 `json:"next_page_token"`
	}
	base := fmt.Sprintf("/api/v2/project/%s/%d/tests", s.project.Slug, s.build.Number)
	var names []string
	token, pages, cutBySize := "", 0, 0
	for {
		pages++
		require.LessOrEqual(t, pages, 10, "paging ends")
		target := base
		if token != "" {
			target += "?page-token=" + url.QueryEscape(token)
		}
		rec := e.do("GET", target, "")
		require.Equal(t, 200, rec.Code, rec.Body.String())
		assert.LessOrEqual(t, rec.Body.Len(), api.MaxOutputResponse+64<<10, "page %d fits the api Lambda's response", pages)
		p := decodeBody[page](t, rec)
		require.NotEmpty(t, p.Items)
		assert.LessOrEqual(t, len(p.Items), 1000)
		for _, it := range p.Items {
			names = append(names, it.Name)
		}
		if p.NextPageToken == nil {
			break
		}
		if len(p.Items) < 1000 {
			cutBySize++
		}
		token = *p.NextPageToken
	}
	// filesEnv's batch (step 4) first, then step 5's in order.
	require.Equal(t, len(stored)+2, len(names))
	assert.True(t, slices.Equal(append([]string{"TestA", "TestB"}, stored...), names), "every test once, in order")
	assert.Equal(t, 4, pages, "two pages of 1,000, then the long messages cut the third by size")
	assert.Equal(t, 1, cutBySize)

	rec := e.do("GET", base+"?page-token=bm9wZQ", "")
	assert.Equal(t, 400, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "page-token")
}
