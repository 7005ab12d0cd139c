package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUIInsightsPages: the history of insightsEnv drawn as charts, with
// the seed's figures.
func TestUIInsightsPages(t *testing.T) {
	e, _ := insightsEnv(t)
	get := func(path string) string {
		t.Helper()
		rec := e.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", path, rec.Body.String())
		body := rec.Body.String()
		assert.NotContains(t, body, "style=", "%s: the CSP allows no inline style", path)
		assert.Equal(t, strings.Count(body, "<svg "), strings.Count(body, `role="img"`), path)
		return body
	}

	list := get("/ui/insights")
	assert.Contains(t, list, `<a href="/ui/insights/gh/acme/api">gh/acme/api</a></td><td>4</td>`)
	assert.Contains(t, list, "<td>75%</td>", "3 of the 4 workflow runs succeeded")

	proj := get("/ui/insights/gh/acme/api?window=last-7-days")
	for _, want := range []string{
		`<dd id="fig-builds">4</dd>`,
		`<dd id="fig-success-rate">75%</dd>`, // jobs: 3 of 4
		`<dd id="fig-median-build">40s</dd>`, // job durations 20, 40, 70, 100
		`<dd id="fig-median-queue">10s</dd>`,
		`<dd id="fig-last-build">`,
		`<dd id="fig-parallelism">1</dd>`,
		`<dd id="fig-runs">4</dd>`,
		`<a href="/ui/insights/gh/acme/api/workflows/build?window=last-7-days">build</a>`,
		"<title", "Duration of gh/acme/api", "Success rate of gh/acme/api", "Queue time of gh/acme/api", "Runs of gh/acme/api",
		"Flakiest tests",
	} {
		assert.Contains(t, proj, want)
	}
	// Three days have runs: three bars of throughput, three points a line.
	throughput := chart(t, proj, "ins-throughput")
	assert.Equal(t, 3, strings.Count(throughput, `<g class="bar">`))
	assert.Equal(t, 3, strings.Count(chart(t, proj, "ins-success"), "<circle "))

	wf := get("/ui/insights/gh/acme/api/workflows/build?window=last-7-days")
	assert.Contains(t, wf, `<dd id="fig-runs">3</dd>`)
	assert.Contains(t, wf, `<dd id="fig-wf-success">66.7%</dd>`)
	runs := chart(t, wf, "ins-runs")
	assert.Equal(t, 3, strings.Count(runs, `<g class="bar">`), "a bar per run")
	assert.Contains(t, runs, "failed")
	assert.Contains(t, wf, "Slowest tests")
	assert.Contains(t, proj, "No flaky tests")
	assert.Contains(t, wf, "<td>test</td>", "the workflow's jobs")

	main := get("/ui/insights/gh/acme/api/workflows/build?window=last-7-days&branch=main")
	assert.Equal(t, 2, strings.Count(chart(t, main, "ins-runs"), `<g class="bar">`), "the feature run is left out")
	assert.Contains(t, main, `<option value="main" selected>main</option>`)

	bad := e.do(http.MethodGet, "/ui/insights/gh/acme/api?window=forever", "")
	assert.Equal(t, http.StatusBadRequest, bad.Code)
	assert.Contains(t, bad.Body.String(), "window: ")
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/ui/insights/gh/acme/nope", "").Code)
}

// chart is the svg element whose title id is id+"-title".
func chart(t *testing.T, page, id string) string {
	t.Helper()
	i := strings.Index(page, `aria-labelledby="`+id+`-title`)
	require.GreaterOrEqual(t, i, 0, "chart %s in the page", id)
	end := strings.Index(page[i:], "</svg>")
	require.Greater(t, end, 0)
	return page[i : i+end]
}
