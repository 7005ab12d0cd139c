package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/store"
)

func TestTriggerPipeline(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		body       string
		wantCode   int
		wantMsg    string
		wantBranch string
		wantParams map[string]any
	}{
		{name: "no body uses the default branch", path: "/api/v2/project/local/acme/api/pipeline", wantCode: http.StatusCreated, wantBranch: "main"},
		{name: "branch and parameters", path: "/api/v2/project/local/acme/api/pipeline",
			body: `{"branch":"feature/x","parameters":{"deploy":true,"n":3,"env":"prod"}}`, wantCode: http.StatusCreated,
			wantBranch: "feature/x", wantParams: map[string]any{"deploy": true, "n": int64(3), "env": "prod"}},
		{name: "escaped slug", path: "/api/v2/project/local%2Facme%2Fapi/pipeline", body: `{}`, wantCode: http.StatusCreated, wantBranch: "main"},
		{name: "unknown project", path: "/api/v2/project/local/acme/nope/pipeline", body: `{}`, wantCode: http.StatusNotFound, wantMsg: "not found"},
		{name: "bad JSON", path: "/api/v2/project/local/acme/api/pipeline", body: `{"branch":`, wantCode: http.StatusBadRequest, wantMsg: "not valid JSON"},
		{name: "branch and tag", path: "/api/v2/project/local/acme/api/pipeline", body: `{"branch":"a","tag":"v1"}`, wantCode: http.StatusBadRequest, wantMsg: "not both"},
		{name: "float parameter", path: "/api/v2/project/local/acme/api/pipeline", body: `{"parameters":{"n":1.5}}`, wantCode: http.StatusBadRequest, wantMsg: "parameters.n"},
		{name: "object parameter", path: "/api/v2/project/local/acme/api/pipeline", body: `{"parameters":{"o":{}}}`, wantCode: http.StatusBadRequest, wantMsg: "integer, a string or a boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			seed(t, e.st)
			rec := e.do(http.MethodPost, tc.path, tc.body, "Content-Type", "application/json")
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			got := decodeBody[obj](t, rec)
			if tc.wantMsg != "" {
				assert.Contains(t, got["message"], tc.wantMsg)
				return
			}
			assert.ElementsMatch(t, []string{"id", "state", "number", "created_at"}, keys(got))
			assert.Equal(t, "pending", got["state"])
			assert.EqualValues(t, 2, got["number"]) // the seed made #1
			_, err := time.Parse(time.RFC3339Nano, got["created_at"].(string))
			assert.NoError(t, err)

			p, err := e.st.GetPipeline(context.Background(), got["id"].(string))
			require.NoError(t, err)
			assert.Equal(t, tc.wantBranch, p.VCS.Branch)
			require.Len(t, e.trigger.reqs, 1)
			assert.Equal(t, "api", e.trigger.reqs[0].TriggerType)
			assert.Equal(t, "local/acme/api", e.trigger.reqs[0].ProjectSlug)
			if tc.wantParams != nil {
				assert.Equal(t, tc.wantParams, e.trigger.reqs[0].Parameters)
			}
		})
	}
}

func TestTriggerFailureIsLoggedNotShown(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)
	e.trigger.err = errors.New("orchestrator exploded at arn:aws:states:secret-ish")

	rec := e.do(http.MethodPost, "/api/v2/project/local/acme/api/pipeline", `{}`, "X-Request-Id", "req-500")
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.JSONEq(t, `{"message":"internal server error"}`, rec.Body.String())
	assert.Contains(t, e.logs.String(), "orchestrator exploded")
	assert.Contains(t, e.logs.String(), `"request_id":"req-500"`)
}

func TestListPipelinesPaginates(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.PageSize = 2 })
	seed(t, e.st)
	for range 2 {
		_, err := e.st.CreatePipeline(context.Background(), store.Pipeline{ProjectSlug: "local/acme/api"})
		require.NoError(t, err)
	}

	first := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/project/local/acme/api/pipeline", ""))
	assert.Equal(t, []float64{3, 2}, numbers(first["items"]), "newest first")
	token, ok := first["next_page_token"].(string)
	require.True(t, ok, "a first page of a longer list has a token: %v", first)

	second := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/project/local/acme/api/pipeline?page-token="+url.QueryEscape(token), ""))
	assert.Equal(t, []float64{1}, numbers(second["items"]))
	assert.Nil(t, second["next_page_token"])

	tests := []struct {
		name     string
		path     string
		wantCode int
	}{
		{name: "bad page token", path: "/api/v2/project/local/acme/api/pipeline?page-token=garbage", wantCode: http.StatusBadRequest},
		{name: "unknown project", path: "/api/v2/project/local/acme/nope/pipeline", wantCode: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodGet, tc.path, "")
			assert.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			assert.NotEmpty(t, decodeBody[obj](t, rec)["message"])
		})
	}
}

func TestGetPipeline(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	tests := []struct {
		name     string
		path     string
		wantCode int
	}{
		{name: "by id", path: "/api/v2/pipeline/" + s.pipeline.ID, wantCode: http.StatusOK},
		{name: "by number", path: "/api/v2/project/local/acme/api/pipeline/1", wantCode: http.StatusOK},
		{name: "unknown id", path: "/api/v2/pipeline/3f1c0d7e-0000-4000-8000-000000000000", wantCode: http.StatusNotFound},
		{name: "unknown number", path: "/api/v2/project/local/acme/api/pipeline/99", wantCode: http.StatusNotFound},
		{name: "bad number", path: "/api/v2/project/local/acme/api/pipeline/x", wantCode: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodGet, tc.path, "")
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			got := decodeBody[obj](t, rec)
			if tc.wantCode != http.StatusOK {
				assert.NotEmpty(t, got["message"])
				return
			}
			assert.ElementsMatch(t, []string{"id", "errors", "project_slug", "updated_at", "number", "state",
				"created_at", "trigger", "vcs"}, keys(got))
			assert.Equal(t, s.pipeline.ID, got["id"])
			assert.Equal(t, []any{}, got["errors"])
			assert.Equal(t, "local/acme/api", got["project_slug"])
			assert.EqualValues(t, 1, got["number"])
			assert.Equal(t, "created", got["state"])
			trig := got["trigger"].(obj)
			assert.Equal(t, "api", trig["type"])
			assert.NotEmpty(t, trig["received_at"])
			assert.Equal(t, obj{"login": "alice", "avatar_url": nil}, trig["actor"])
			assert.Equal(t, obj{
				"provider_name":         "Local",
				"origin_repository_url": "/src/acme/api",
				"target_repository_url": "/src/acme/api",
				"revision":              "0123456789abcdef0123456789abcdef01234567",
				"branch":                "main",
			}, got["vcs"])
		})
	}
}

func TestPipelineErrorsShown(t *testing.T) {
	e := newEnv(t)
	p, err := e.st.CreatePipeline(context.Background(), store.Pipeline{ProjectSlug: "local/acme/api",
		Errors: []store.PipelineError{{Type: "config", Message: "config.yml:3: jobs.build: unknown key"}}})
	require.NoError(t, err)
	got := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/pipeline/"+p.ID, ""))
	assert.Equal(t, []any{obj{"type": "config", "message": "config.yml:3: jobs.build: unknown key"}}, got["errors"])
	assert.Nil(t, got["vcs"].(obj)["revision"], "revision is null until resolved")
}

func TestGetPipelineConfig(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	bare, err := e.st.CreatePipeline(context.Background(), store.Pipeline{ProjectSlug: "local/acme/api"})
	require.NoError(t, err)
	tests := []struct {
		name         string
		id           string
		wantCode     int
		wantSource   string
		wantCompiled string
	}{
		{name: "compiled", id: s.pipeline.ID, wantCode: http.StatusOK, wantSource: "version: 2.1\njobs: {}\n",
			wantCompiled: "{\n  \"version\": \"2.1\",\n  \"workflows\": []\n}"},
		{name: "not fetched yet", id: bare.ID, wantCode: http.StatusOK},
		{name: "unknown pipeline", id: "nope", wantCode: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodGet, "/api/v2/pipeline/"+tc.id+"/config", "")
			require.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			got := decodeBody[obj](t, rec)
			if tc.wantCode != http.StatusOK {
				assert.NotEmpty(t, got["message"])
				return
			}
			assert.Equal(t, obj{"source": tc.wantSource, "compiled": tc.wantCompiled}, got)
		})
	}
}

func keys(m obj) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func numbers(items any) []float64 {
	var out []float64
	for _, it := range items.([]any) {
		out = append(out, it.(obj)["number"].(float64))
	}
	return out
}

// TestTriggerConcurrentClients is issue 9's lost triggers through the API:
// 100 clients posting at once over HTTP all get 201, and the pipelines are
// numbered without a gap (the seed made #1).
func TestTriggerConcurrentClients(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	const clients = 100
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers []int64
	)
	for range clients {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/project/local/acme/api/pipeline", strings.NewReader(`{"branch":"main"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Circle-Token", e.token)
			resp, err := srv.Client().Do(req)
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			var body struct {
				Number  int64  `json:"number"`
				Message string `json:"message"`
			}
			assert.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			if assert.Equal(t, http.StatusCreated, resp.StatusCode, body.Message) {
				mu.Lock()
				numbers = append(numbers, body.Number)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(numbers)
	want := make([]int64, clients)
	for i := range want {
		want[i] = int64(i + 2)
	}
	assert.Equal(t, want, numbers)
}

// The Idempotency-Key header reaches the trigger; a conflict is 422 and an
// over-long key is refused before anything is made.
func TestTriggerIdempotencyKeyHeader(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)
	path := "/api/v2/project/local/acme/api/pipeline"
	rec := e.do(http.MethodPost, path, `{}`, "Content-Type", "application/json", "Idempotency-Key", "deploy-42")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Len(t, e.trigger.reqs, 1)
	assert.Equal(t, "deploy-42", e.trigger.reqs[0].IdempotencyKey)

	rec = e.do(http.MethodPost, path, `{}`, "Content-Type", "application/json", "Idempotency-Key", strings.Repeat("k", 256))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "Idempotency-Key is 256 characters")
	assert.Len(t, e.trigger.reqs, 1, "refused before the trigger")

	e.trigger.err = fmt.Errorf("%w: Idempotency-Key %q was used with a different request", conductor.ErrIdempotencyConflict, "deploy-42")
	rec = e.do(http.MethodPost, path, `{}`, "Content-Type", "application/json", "Idempotency-Key", "deploy-42")
	assert.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	assert.Contains(t, rec.Body.String(), "different request")
}
