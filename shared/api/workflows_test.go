package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListPipelineWorkflows(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)

	got := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/pipeline/"+s.pipeline.ID+"/workflow", ""))
	assert.Nil(t, got["next_page_token"])
	items := got["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, obj{
		"pipeline_id":     s.pipeline.ID,
		"id":              s.workflow.ID,
		"name":            "build-and-test",
		"project_slug":    "local/acme/api",
		"status":          "running",
		"started_by":      "00000000-0000-0000-0000-000000000000",
		"pipeline_number": float64(1),
		"created_at":      "2025-03-04T10:00:00Z",
		"stopped_at":      nil,
	}, items[0])

	rec := e.do(http.MethodGet, "/api/v2/pipeline/nope/workflow", "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

func TestGetWorkflow(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	tests := []struct {
		name     string
		id       string
		wantCode int
	}{
		{name: "known", id: s.workflow.ID, wantCode: http.StatusOK},
		{name: "unknown", id: "nope", wantCode: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodGet, "/api/v2/workflow/"+tc.id, "")
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			got := decodeBody[obj](t, rec)
			if tc.wantCode != http.StatusOK {
				assert.Contains(t, got["message"], "not found")
				return
			}
			assert.Equal(t, s.workflow.ID, got["id"])
			assert.Equal(t, "running", got["status"])
			assert.ElementsMatch(t, []string{"pipeline_id", "id", "name", "project_slug", "status", "started_by",
				"pipeline_number", "created_at", "stopped_at"}, keys(got))
		})
	}
}

func TestListWorkflowJobs(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)

	rec := e.do(http.MethodGet, "/api/v2/workflow/"+s.workflow.ID+"/job", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := decodeBody[obj](t, rec)
	assert.Nil(t, got["next_page_token"])
	items := got["items"].([]any)
	require.Len(t, items, 3)

	build, test, hold := items[0].(obj), items[1].(obj), items[2].(obj)
	assert.Equal(t, []any{"build", "test", "hold"}, []any{build["name"], test["name"], hold["name"]}, "graph order")
	assert.Equal(t, obj{
		"id":           s.build.ID,
		"name":         "build",
		"type":         "build",
		"status":       "success",
		"job_number":   float64(1),
		"dependencies": []any{},
		"requires":     obj{},
		"started_at":   "2025-03-04T10:00:01Z",
		"stopped_at":   "2025-03-04T10:01:06Z",
		"project_slug": "local/acme/api",
	}, build)
	assert.Equal(t, []any{s.build.ID}, test["dependencies"])
	assert.Equal(t, obj{s.build.ID: []any{"success"}}, test["requires"])
	assert.Equal(t, "running", test["status"])
	assert.EqualValues(t, 2, test["job_number"])

	assert.Equal(t, "approval", hold["type"])
	assert.Equal(t, "blocked", hold["status"])
	assert.Equal(t, s.hold.ID, hold["approval_request_id"])
	assert.NotContains(t, hold, "job_number", "not numbered before it is queued")
	assert.Nil(t, hold["started_at"])
	assert.Equal(t, obj{s.test.ID: []any{"success"}}, hold["requires"])

	rec = e.do(http.MethodGet, "/api/v2/workflow/nope/job", "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
}
