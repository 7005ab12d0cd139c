package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/insights"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// insightsEnv is an API whose Insights keep their aggregates in their own
// kv, with "now" fixed at insightsNow, and a project with runs recorded:
//
//	build  main     T-3d  success  60 s   (job test 40 s)
//	build  main     T-2d  failed   90 s   (job test 70 s)
//	build  feature  T-1d  success  30 s   (job test 20 s)
//	deploy main     T-1d  success 120 s   (job ship 100 s)
func insightsEnv(t *testing.T) (*env, *insights.Insights) {
	var in *insights.Insights
	e := newEnv(t, func(c *api.Config) {
		db, err := boltkv.Open(filepath.Join(t.TempDir(), "insights.db"), boltkv.Config{Now: func() time.Time { return insightsNow }})
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		in, err = insights.New(insights.Config{KV: db, Records: c.Store, Now: func() time.Time { return insightsNow }})
		require.NoError(t, err)
		c.Insights, c.PageSize = in, 1
	})
	ctx := t.Context()
	_, err := e.st.CreateProject(ctx, store.Project{Slug: "gh/acme/api", Name: "api", DefaultBranch: "main"})
	require.NoError(t, err)
	day := func(n int) time.Time { return insightsNow.Add(-time.Duration(n) * 24 * time.Hour) }
	for i, r := range []struct {
		wf, job, branch string
		at              time.Time
		secs, jobSecs   int
		ok              bool
	}{
		{"build", "test", "main", day(3), 60, 40, true},
		{"build", "test", "main", day(2), 90, 70, false},
		{"build", "test", "feature", day(1), 30, 20, true},
		{"deploy", "ship", "main", day(1), 120, 100, true},
	} {
		p, err := e.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: "gh/acme/api", VCS: store.PipelineVCS{Branch: r.branch}})
		require.NoError(t, err)
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1) // uuid-shaped, as the document's format asks
		w := store.Workflow{ID: id, Name: r.wf, PipelineID: p.ID, ProjectSlug: "gh/acme/api", Status: status.WorkflowSuccess, CreatedAt: r.at}
		require.NoError(t, e.st.CreateWorkflow(ctx, w, nil))
		started, stopped := r.at.Add(10*time.Second), r.at.Add(time.Duration(r.secs)*time.Second)
		jobStopped := started.Add(time.Duration(r.jobSecs) * time.Second)
		js, ws := status.JobSuccess, status.WorkflowSuccess
		if !r.ok {
			js, ws = status.JobFailed, status.WorkflowFailed
		}
		require.NoError(t, in.RecordJob(ctx, store.Job{ID: id + "-j", WorkflowID: id, PipelineID: p.ID, ProjectSlug: "gh/acme/api", Name: r.job,
			Type: "build", Status: js, Parallelism: 1, CreatedAt: r.at, QueuedAt: &r.at, StartedAt: &started, StoppedAt: &jobStopped}))
		w.Status, w.StoppedAt = ws, &stopped
		require.NoError(t, in.RecordWorkflow(ctx, w))
	}
	return e, in
}

var insightsNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func TestInsightsAPI(t *testing.T) {
	e, _ := insightsEnv(t)
	get := func(path string) map[string]any {
		t.Helper()
		rec := e.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", path, rec.Body.String())
		return decodeBody[map[string]any](t, rec)
	}

	// Workflows, default branch (main): build has runs 1 and 2, deploy 1; one a page.
	first := get("/api/v2/insights/gh/acme/api/workflows?reporting-window=last-7-days")
	items := first["items"].([]any)
	require.Len(t, items, 1)
	build := items[0].(map[string]any)
	assert.Equal(t, "build", build["name"])
	m := build["metrics"].(map[string]any)
	assert.EqualValues(t, 2, m["total_runs"])
	assert.EqualValues(t, 1, m["successful_runs"])
	assert.EqualValues(t, 1, m["failed_runs"])
	assert.EqualValues(t, 0.5, m["success_rate"])
	assert.InDelta(t, 2.0/7, m["throughput"], 1e-9)
	assert.EqualValues(t, 60, m["duration_metrics"].(map[string]any)["median"], "successful runs only: 60 s")
	token := first["next_page_token"].(string)
	second := get("/api/v2/insights/gh/acme/api/workflows?reporting-window=last-7-days&page-token=" + url.QueryEscape(token))
	require.Len(t, second["items"], 1)
	assert.Equal(t, "deploy", second["items"].([]any)[0].(map[string]any)["name"])
	assert.Nil(t, second["next_page_token"])

	// all-branches adds the feature run; the slug may be escaped.
	all := get("/api/v2/insights/gh%2Facme%2Fapi/workflows?all-branches=true")
	assert.EqualValues(t, 3, all["items"].([]any)[0].(map[string]any)["metrics"].(map[string]any)["total_runs"])

	// Recent runs of build on main, newest first.
	runs := get("/api/v2/insights/gh/acme/api/workflows/build")
	require.Len(t, runs["items"], 1)
	run := runs["items"].([]any)[0].(map[string]any)
	assert.Equal(t, "00000000-0000-4000-8000-000000000002", run["id"])
	assert.Equal(t, "failed", run["status"])
	assert.EqualValues(t, 90, run["duration"])

	jobs := get("/api/v2/insights/gh/acme/api/workflows/build/jobs?all-branches=true&job-name=es")
	require.Len(t, jobs["items"], 1)
	assert.Equal(t, "test", jobs["items"].([]any)[0].(map[string]any)["name"])

	sum := get("/api/v2/insights/gh/acme/api/workflows/build/summary?branch=main")
	assert.EqualValues(t, 2, sum["metrics"].(map[string]any)["total_runs"])
	assert.Equal(t, []any{"build", "deploy"}, sum["workflow_names"])
	assert.Contains(t, sum["trends"], "median_duration_secs")

	page := get("/api/v2/insights/pages/gh/acme/api/summary?reporting-window=last-7-days&workflow-names=build&branches=feature")
	pd := page["project_data"].(map[string]any)["metrics"].(map[string]any)
	assert.EqualValues(t, 4, pd["total_runs"], "project figures cover every workflow and branch")
	assert.EqualValues(t, 300, pd["total_duration_secs"]) // 60+90+30+120
	require.Len(t, page["project_workflow_data"], 1)
	require.Len(t, page["project_workflow_branch_data"], 1)
	assert.Equal(t, "feature", page["project_workflow_branch_data"].([]any)[0].(map[string]any)["branch"])
	assert.Equal(t, []any{"feature", "main"}, page["all_branches"])

	br := get("/api/v2/insights/gh/acme/api/branches?workflow-name=deploy")
	assert.Equal(t, []any{"main"}, br["branches"])
	fl := get("/api/v2/insights/gh/acme/api/flaky-tests")
	assert.Equal(t, []any{}, fl["flaky-tests"])
	assert.EqualValues(t, 0, fl["total-flaky-tests"])
	tm := get("/api/v2/insights/gh/acme/api/workflows/build/test-metrics")
	assert.EqualValues(t, 0, tm["total_test_runs"])

	ts := get("/api/v2/insights/time-series/gh/acme/api/workflows/build/jobs?granularity=daily&start-date=2026-11-28T00:00:00Z&end-date=2026-12-02T12:00:00Z")
	require.Len(t, ts["items"], 2, "main: one point on each of T-3d and T-2d")
	pt := ts["items"].([]any)[0].(map[string]any)
	assert.Equal(t, "2026-11-29T00:00:00Z", pt["timestamp"])
	assert.EqualValues(t, 40, pt["metrics"].(map[string]any)["duration_metrics"].(map[string]any)["median"])

	org := get("/api/v2/insights/gh/acme/summary?reporting-window=last-30-days")
	assert.EqualValues(t, 4, org["org_data"].(map[string]any)["metrics"].(map[string]any)["total_runs"])
	assert.Equal(t, []any{"api"}, org["all_projects"])

	dash := get("/api/v2/insights/gh/acme/api/dashboard?reporting-window=last-7-days")
	assert.EqualValues(t, 40, dash["median_build_time_secs"], "builds 20 40 70 100 → rank 2")
	assert.EqualValues(t, 10, dash["median_queue_time_secs"])
	assert.EqualValues(t, 4, dash["builds"])
}

func TestInsightsAPIRefusals(t *testing.T) {
	e, _ := insightsEnv(t)
	tests := []struct {
		name, path string
		code       int
		msg        string
	}{
		{"bad window", "/api/v2/insights/gh/acme/api/workflows?reporting-window=last-3-days", http.StatusBadRequest, "reporting-window"},
		{"bad page token", "/api/v2/insights/gh/acme/api/workflows?page-token=garbage", http.StatusBadRequest, "page-token"},
		{"bad all-branches", "/api/v2/insights/gh/acme/api/workflows?all-branches=maybe", http.StatusBadRequest, "all-branches"},
		{"end without start", "/api/v2/insights/gh/acme/api/workflows/build?end-date=2026-12-01T00:00:00Z", http.StatusBadRequest, "start-date"},
		{"range over 90 days", "/api/v2/insights/time-series/gh/acme/api/workflows/build/jobs?start-date=2026-01-01T00:00:00Z&end-date=2026-12-01T00:00:00Z", http.StatusBadRequest, "90 days"},
		{"bad granularity", "/api/v2/insights/time-series/gh/acme/api/workflows/build/jobs?granularity=weekly", http.StatusBadRequest, "granularity"},
		{"unknown project", "/api/v2/insights/gh/acme/nope/workflows/build/summary", http.StatusNotFound, ""},
		{"unknown project page", "/api/v2/insights/pages/gh/acme/nope/summary", http.StatusNotFound, ""},
		{"five segments that are no route", "/api/v2/insights/gh/acme/api/jobs/x", http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodGet, tc.path, "")
			assert.Equal(t, tc.code, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.msg)
		})
	}
	rec := e.do(http.MethodGet, "/api/v2/insights/pages/gh/acme/api/summary", "", anonymous...)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}
