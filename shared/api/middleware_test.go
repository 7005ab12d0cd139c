package api_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
)

func TestRequestID(t *testing.T) {
	tests := []struct {
		name   string
		given  string
		echoed bool
	}{
		{name: "echoed", given: "abc-123_X.y:z", echoed: true},
		{name: "generated when absent"},
		{name: "replaced when unsafe", given: "evil\nlog line"},
		{name: "replaced when too long", given: strings.Repeat("a", 129)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var rec = e.do(http.MethodGet, "/health-check", "")
			if tc.given != "" {
				rec = e.do(http.MethodGet, "/health-check", "", "X-Request-Id", tc.given)
			}
			id := rec.Header().Get("X-Request-Id")
			require.NotEmpty(t, id)
			if tc.echoed {
				assert.Equal(t, tc.given, id)
			} else {
				assert.NotEqual(t, tc.given, id)
				assert.Len(t, id, 36, "a UUID")
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	e := newEnv(t)
	token := e.token
	rec := e.do(http.MethodGet, "/api/v2/projects?circle-token="+token, "",
		"X-Request-Id", "req-log-1", "Authorization", "Bearer "+token, "Circle-Token", token)
	require.Equal(t, http.StatusOK, rec.Code)

	logs := e.logs.String()
	assert.NotContains(t, logs, token, "credentials never reach the log")
	var line map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var l map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		if l["msg"] == "request" {
			line = l
		}
	}
	require.NotNil(t, line, "an access-log line: %s", logs)
	assert.Equal(t, "req-log-1", line["request_id"])
	assert.Equal(t, "GET", line["method"])
	assert.Equal(t, "/api/v2/projects", line["path"])
	assert.EqualValues(t, 200, line["status"])
	assert.Contains(t, line, "duration")
}

func TestNosniffEverywhere(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/", "/health-check", "/api/v2/projects", "/api/v2/nothing", "/no/such/page"} {
		t.Run(path, func(t *testing.T) {
			assert.Equal(t, "nosniff", e.do(http.MethodGet, path, "").Header().Get("X-Content-Type-Options"))
		})
	}
}

func TestMounts(t *testing.T) {
	echo := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(name + " " + r.URL.Path))
		})
	}
	e := newEnv(t, func(c *api.Config) {
		c.Runner = echo("runner")
		c.Blobs = echo("blobs")
	})
	tests := []struct {
		name, path, want string
	}{
		{name: "runner API without its prefix", path: "/runner/v1/task/steps/2/output", want: "runner /task/steps/2/output"},
		{name: "blob server with the full path", path: "/blob/projects/x/artifact.txt", want: "blobs /blob/projects/x/artifact.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodPost, tc.path, "")
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, tc.want, rec.Body.String())
			assert.NotEmpty(t, rec.Header().Get("X-Request-Id"))
		})
	}

	bare := newEnv(t)
	assert.Equal(t, http.StatusNotFound, bare.do(http.MethodGet, "/runner/v1/task", "").Code, "not mounted when nil")
}

func TestPanicRecovered(t *testing.T) {
	e := newEnv(t, func(c *api.Config) {
		c.Runner = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	})
	rec := e.do(http.MethodGet, "/runner/v1/task", "")
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.JSONEq(t, `{"message":"internal server error"}`, rec.Body.String())
	assert.Contains(t, e.logs.String(), "boom")
}

func TestNewValidates(t *testing.T) {
	_, err := api.New(api.Config{})
	assert.ErrorContains(t, err, "Store is required")
}

func TestPresignedBlobURLServed(t *testing.T) {
	blobs, err := dirblob.New(dirblob.Config{Root: t.TempDir(), BaseURL: "http://example.com/blob",
		Secret: []byte(strings.Repeat("k", dirblob.MinSecretBytes))})
	require.NoError(t, err)
	e := newEnv(t, func(c *api.Config) { c.Blobs = blobs.Handler() })
	require.NoError(t, blobs.Put(t.Context(), "projects/local/acme/api/artifact.txt", strings.NewReader("hello"), blob.PutOptions{ContentType: "text/plain"}))
	u, err := blobs.PresignGet(t.Context(), "projects/local/acme/api/artifact.txt", time.Minute)
	require.NoError(t, err)

	rec := e.do(http.MethodGet, u, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "hello", rec.Body.String())
	assert.NotContains(t, e.logs.String(), "sig=", "the signature in the query is not logged")
}

// TestMethodNotAllowed: a known route asked with another method is 405
// with the methods it serves in Allow (it was 404); unknown paths stay 404.
func TestMethodNotAllowed(t *testing.T) {
	tests := []struct {
		name, method, path string
		wantCode           int
		wantAllow          string
	}{
		{name: "DELETE a pipeline", method: http.MethodDelete, path: "/api/v2/pipeline/abc", wantCode: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "PUT the trigger", method: http.MethodPut, path: "/api/v2/project/local/acme/api/pipeline", wantCode: http.StatusMethodNotAllowed, wantAllow: "GET, POST, HEAD"},
		{name: "PATCH the follow route", method: http.MethodPatch, path: "/api/v2/project", wantCode: http.StatusMethodNotAllowed, wantAllow: "POST"},
		{name: "unknown path", method: http.MethodDelete, path: "/api/v2/nothing", wantCode: http.StatusNotFound},
		{name: "unknown path, GET", method: http.MethodGet, path: "/api/v2/nothing/here", wantCode: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rec := e.do(tc.method, tc.path, "")
			assert.Equal(t, tc.wantCode, rec.Code, rec.Body.String())
			assert.Equal(t, tc.wantAllow, rec.Header().Get("Allow"))
			assert.Contains(t, rec.Header().Get("Content-Type"), "application/json")
		})
	}
}

// TestAccessLogLevel: access logs are DEBUG, so they do not drown the INFO
// lines; a server error's is WARN.
func TestAccessLogLevel(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v2/projects", "").Code)
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	found := false
	for sc.Scan() {
		var l map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		if l["msg"] == "request" {
			found = true
			assert.Equal(t, "DEBUG", l["level"])
		}
	}
	assert.True(t, found, "an access-log line")
}
