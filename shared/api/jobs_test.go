package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
)

func TestGetJobDetails(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)

	rec := e.do(http.MethodGet, "/api/v2/project/local/acme/api/job/1", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := decodeBody[obj](t, rec)
	assert.ElementsMatch(t, []string{"web_url", "project", "parallel_runs", "started_at", "latest_workflow", "name",
		"executor", "parallelism", "status", "number", "pipeline", "duration", "created_at", "messages", "contexts",
		"organization", "queued_at", "stopped_at", "attempts"}, keys(got))
	assert.Equal(t, "http://example.com/ui/pipeline/"+s.pipeline.ID+"#job-1", got["web_url"])
	project := got["project"].(obj)
	assert.Equal(t, "local/acme/api", project["slug"])
	assert.Equal(t, "api", project["name"])
	assert.Equal(t, "/src/acme/api", project["external_url"])
	assert.Equal(t, []any{obj{"index": float64(0), "status": "success"}, obj{"index": float64(1), "status": "success"}}, got["parallel_runs"])
	assert.Equal(t, obj{"id": s.workflow.ID, "name": "build-and-test"}, got["latest_workflow"])
	assert.Equal(t, "build", got["name"])
	assert.Equal(t, obj{"type": "docker", "resource_class": "large"}, got["executor"])
	assert.EqualValues(t, 2, got["parallelism"])
	assert.Equal(t, "success", got["status"])
	assert.EqualValues(t, 1, got["number"])
	assert.Equal(t, obj{"id": s.pipeline.ID}, got["pipeline"])
	assert.EqualValues(t, 65000, got["duration"])
	assert.Equal(t, []any{obj{"name": "org-global"}}, got["contexts"])
	assert.Equal(t, obj{"name": "acme"}, got["organization"])
	assert.Equal(t, "2025-03-04T10:00:00Z", got["queued_at"])
	assert.Equal(t, "2025-03-04T10:00:01Z", got["started_at"])
	assert.Equal(t, "2025-03-04T10:01:06Z", got["stopped_at"])
	assert.Equal(t, []any{obj{"attempt": float64(1), "status": "success", "started_at": nil, "stopped_at": nil,
		"parallel_runs": []any{obj{"index": float64(0), "status": "success"}, obj{"index": float64(1), "status": "success"}}}},
		got["attempts"])

	running := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/project/local/acme/api/job/2", ""))
	assert.Nil(t, running["duration"], "no duration while running")
	assert.Nil(t, running["stopped_at"])
	assert.Equal(t, []any{obj{"index": float64(0), "status": "running"}}, running["parallel_runs"])
}

func TestJobRoutesNotFound(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)
	tests := []struct {
		name     string
		path     string
		wantCode int
	}{
		{name: "unknown job number", path: "/api/v2/project/local/acme/api/job/99", wantCode: http.StatusNotFound},
		{name: "unknown project", path: "/api/v2/project/local/acme/nope/job/1", wantCode: http.StatusNotFound},
		{name: "steps of unknown job", path: "/api/v2/project/local/acme/api/job/99/steps", wantCode: http.StatusNotFound},
		{name: "output of unknown job", path: "/api/v2/project/local/acme/api/job/99/output?step=0", wantCode: http.StatusNotFound},
		{name: "bad job number", path: "/api/v2/project/local/acme/api/job/0", wantCode: http.StatusBadRequest},
		{name: "unknown route", path: "/api/v2/nothing/here", wantCode: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodGet, tc.path, "")
			assert.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			assert.NotEmpty(t, decodeBody[obj](t, rec)["message"])
		})
	}
}

func TestListJobSteps(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)

	rec := e.do(http.MethodGet, "/api/v2/project/local/acme/api/job/1/steps", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	items := decodeBody[obj](t, rec)["items"].([]any)
	require.Len(t, items, 2)

	checkout := items[0].(obj)
	assert.EqualValues(t, 0, checkout["index"])
	assert.Equal(t, "Checkout code", checkout["name"])
	assert.Equal(t, "checkout", checkout["type"])
	actions := checkout["actions"].([]any)
	require.Len(t, actions, 2, "one action per parallel task")
	assert.Equal(t, obj{
		"index":           float64(0),
		"step":            float64(0),
		"status":          "success",
		"exit_code":       float64(0),
		"start_time":      "2025-03-04T10:00:01Z",
		"end_time":        "2025-03-04T10:00:03Z",
		"run_time_millis": float64(2000),
		"output_url":      "http://example.com/api/v2/project/local/acme/api/job/1/output?step=0&task=0",
	}, actions[0])
	assert.EqualValues(t, 1, actions[1].(obj)["index"])

	test := items[1].(obj)
	assert.Equal(t, "go test ./...", test["name"])
	actions = test["actions"].([]any)
	require.Len(t, actions, 1)
	assert.Equal(t, "failed", actions[0].(obj)["status"])
	assert.EqualValues(t, 1, actions[0].(obj)["exit_code"])

	approval := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/project/local/acme/api/job/2/steps", ""))
	assert.Equal(t, []any{}, approval["items"], "a job without recorded steps has none")
}

func TestStepOutput(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)
	const all = "\x1b[31mFAIL\x1b[0m <script>alert(1)</script>\n--- FAIL: TestThing\nexit status 1\n"
	tests := []struct {
		name     string
		query    string
		wantCode int
		wantBody string
		wantNext string
	}{
		{name: "whole output, ANSI kept", query: "step=1&task=0", wantCode: http.StatusOK, wantBody: all, wantNext: "3"},
		{name: "task defaults to 0", query: "step=1", wantCode: http.StatusOK, wantBody: all, wantNext: "3"},
		{name: "from a sequence number", query: "step=1&task=0&from=1", wantCode: http.StatusOK,
			wantBody: "--- FAIL: TestThing\nexit status 1\n", wantNext: "3"},
		{name: "nothing new", query: "step=1&task=0&from=3", wantCode: http.StatusOK, wantBody: "", wantNext: "3"},
		{name: "other step", query: "step=0", wantCode: http.StatusOK, wantBody: "Cloning into '.'...\n", wantNext: "1"},
		{name: "step without output", query: "step=0&task=1", wantCode: http.StatusOK, wantBody: "", wantNext: "0"},
		{name: "step that never ran", query: "step=7&task=0", wantCode: http.StatusNotFound},
		{name: "step that ran on another task only", query: "step=1&task=1", wantCode: http.StatusNotFound},
		{name: "missing step", query: "task=0", wantCode: http.StatusBadRequest},
		{name: "bad from", query: "step=1&from=-1", wantCode: http.StatusBadRequest},
		{name: "task out of range", query: "step=1&task=2", wantCode: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodGet, "/api/v2/project/local/acme/api/job/1/output?"+tc.query, "")
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			if tc.wantCode != http.StatusOK {
				assert.NotEmpty(t, decodeBody[obj](t, rec)["message"])
				return
			}
			assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			assert.Equal(t, tc.wantBody, rec.Body.String())
			assert.Equal(t, tc.wantNext, rec.Header().Get("X-Orbit-Next-Seq"))
		})
	}
}

func TestStepOutputPollsIncrementally(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	var got strings.Builder
	next := "0"
	poll := func() {
		rec := e.do(http.MethodGet, "/api/v2/project/local/acme/api/job/1/output?step=1&from="+next, "")
		require.Equal(t, http.StatusOK, rec.Code)
		got.WriteString(rec.Body.String())
		next = rec.Header().Get("X-Orbit-Next-Seq")
	}
	poll()
	require.NoError(t, e.st.AppendOutput(t.Context(), s.task0, 1, 3, []byte("more\n")))
	poll()
	poll()
	assert.Equal(t, "\x1b[31mFAIL\x1b[0m <script>alert(1)</script>\n--- FAIL: TestThing\nexit status 1\nmore\n", got.String())
	assert.Equal(t, "4", next)
}

// TestStepOutputBoundedPerResponse: a step's output longer than
// MaxOutputResponse comes in several answers (the api Lambda's response is
// capped at 6 MB), each of whole chunks, and polling reads all of it.
func TestStepOutputBoundedPerResponse(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	chunk := strings.Repeat("x", 200<<10-1) + "\n" // a stored chunk fits one kv item
	const extra = 45                               // 9 MB in all
	for seq := 3; seq < 3+extra; seq++ {
		require.NoError(t, e.st.AppendOutput(t.Context(), s.task0, 1, seq, []byte(chunk)))
	}
	total, polls, next := 0, 0, "0"
	for next != strconv.Itoa(3+extra) {
		rec := e.do(http.MethodGet, "/api/v2/project/local/acme/api/job/1/output?step=1&from="+next, "")
		require.Equal(t, http.StatusOK, rec.Code)
		assert.LessOrEqual(t, rec.Body.Len(), api.MaxOutputResponse)
		total += rec.Body.Len()
		next = rec.Header().Get("X-Orbit-Next-Seq")
		polls++
		require.Less(t, polls, 10, "polling makes progress")
	}
	assert.Equal(t, len("\x1b[31mFAIL\x1b[0m <script>alert(1)</script>\n--- FAIL: TestThing\nexit status 1\n")+extra*len(chunk), total)
	assert.GreaterOrEqual(t, polls, 3)
}
