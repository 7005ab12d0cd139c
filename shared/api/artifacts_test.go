package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/taskfiles"
	"github.com/orbit-ci/orbit/shared/taskfiles/taskfilestest"
)

// filesEnv is the API with a real taskfiles service holding what the
// seeded build job (two tasks) stored.
func filesEnv(t *testing.T, allowUnsafe bool) (*env, seeded) {
	t.Helper()
	e, s, _ := filesEnvService(t, allowUnsafe)
	return e, s
}

// filesEnvService is filesEnv with its taskfiles service.
func filesEnvService(t *testing.T, allowUnsafe bool) (*env, seeded, *taskfiles.Service) {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	files, err := taskfilestest.New(t.TempDir(), srv.URL)
	require.NoError(t, err)
	srv.Config.Handler = files.Handler
	e := newEnv(t, func(c *api.Config) {
		c.Files, c.AllowUnsafeArtifacts = files.Service, allowUnsafe
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "m 1") })
	})
	s := seed(t, e.st)
	ctx := context.Background()
	for i, id := range []string{s.task0, s.task1} {
		files.Tasks.Set(taskfiles.TaskContext{TaskID: id, ProjectSlug: s.project.Slug, JobNumber: s.build.Number,
			JobName: "build", Attempt: 1, Index: i})
	}
	c := runner.NewClient(srv.URL, "unused", nil)
	put := func(task, path, ct, body string) {
		res, err := files.Service.StoreArtifacts(ctx, task, runner.ArtifactsRequest{Files: []runner.ArtifactFile{{Path: path, ContentType: ct}}})
		require.NoError(t, err)
		require.NoError(t, c.PutObject(ctx, res.Uploads[0], strings.NewReader(body), int64(len(body))))
	}
	put(s.task0, "site/index.html", "text/html; charset=utf-8", "<script>alert(1)</script>")
	put(s.task0, "coverage.json", "application/json", `{"cov":1}`)
	put(s.task1, "bin/app name", "application/x-executable", "\x7fELF")
	require.NoError(t, files.Service.StoreTests(ctx, s.task1, 4, 0, runner.TestBatch{Tests: []junit.Test{
		{Name: "TestA", Classname: "pkg", File: "a_test.go", RunTime: 0.25, Result: "success", Source: "go"},
		{Name: "TestB", Classname: "pkg", File: "b_test.go", RunTime: 1, Result: "failure", Message: "boom", Source: "go"},
	}}))
	return e, s, files.Service
}

func TestArtifactsAPI(t *testing.T) {
	e, s := filesEnv(t, false)
	rec := e.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/artifacts", s.project.Slug, s.build.Number), "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	type item struct {
		Path      string `json:"path"`
		NodeIndex int    `json:"node_index"`
		URL       string `json:"url"`
	}
	page := decodeBody[struct {
		Items         []item  `json:"items"`
		NextPageToken *string `json:"next_page_token"`
	}](t, rec)
	base := fmt.Sprintf("http://example.com/api/v2/project/%s/%d/artifacts/", s.project.Slug, s.build.Number)
	assert.Equal(t, []item{
		{"coverage.json", 0, base + "0/coverage.json"},
		{"site/index.html", 0, base + "0/site/index.html"},
		{"bin/app name", 1, base + "1/bin/app%20name"},
	}, page.Items)
	assert.Nil(t, page.NextPageToken)

	tests := []struct {
		name, path, ct, disposition, body string
	}{
		{"html as plain text", "0/site/index.html", "text/plain; charset=utf-8", "", "<script>alert(1)</script>"},
		{"json as is", "0/coverage.json", "application/json", "", `{"cov":1}`},
		{"unknown as a download", "1/bin/app%20name", "application/octet-stream", `attachment; filename="app name"`, "\x7fELF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do("GET", strings.TrimPrefix(base, "http://example.com")+tt.path, "")
			require.Equal(t, 200, rec.Code, rec.Body.String())
			assert.Equal(t, tt.ct, rec.Header().Get("Content-Type"))
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "sandbox")
			assert.Equal(t, tt.disposition, rec.Header().Get("Content-Disposition"))
			assert.Equal(t, tt.body, rec.Body.String())
		})
	}
	assert.Equal(t, 404, e.do("GET", strings.TrimPrefix(base, "http://example.com")+"0/nope.txt", "").Code)
	assert.Equal(t, 404, e.do("GET", fmt.Sprintf("/api/v2/project/%s/999/artifacts", s.project.Slug), "").Code)
	assert.Equal(t, 404, e.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/nothing", s.project.Slug, s.build.Number), "").Code)

	unsafe, s2 := filesEnv(t, true)
	rec = unsafe.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/artifacts/0/site/index.html", s2.project.Slug, s2.build.Number), "")
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"), "the admin allowed unsafe types")
}

func TestTestsAPIAndMetrics(t *testing.T) {
	e, s := filesEnv(t, false)
	rec := e.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/tests", s.project.Slug, s.build.Number), "")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	page := decodeBody[map[string]any](t, rec)
	assert.Equal(t, []any{
		map[string]any{"message": "", "source": "go", "run_time": 0.25, "file": "a_test.go", "result": "success", "name": "TestA", "classname": "pkg"},
		map[string]any{"message": "boom", "source": "go", "run_time": 1.0, "file": "b_test.go", "result": "failure", "name": "TestB", "classname": "pkg"},
	}, page["items"])
	assert.Nil(t, page["next_page_token"])

	rec = e.do("GET", "/metrics", "")
	assert.Equal(t, "m 1\n", rec.Body.String())
}

// TestLargeArtifactRedirectKeepsPolicy: an artifact over the api Lambda's
// response budget is a redirect to its presigned URL, and what the store
// serves there follows the content-type policy too: HTML as plain text,
// an unknown type as a download with its name.
func TestLargeArtifactRedirectKeepsPolicy(t *testing.T) {
	e, s, files := filesEnvService(t, false)
	ctx := context.Background()
	c := runner.NewClient("http://unused", "unused", nil)
	big := strings.Repeat("<p>report</p>\n", api.MaxOutputResponse/14+1)
	tests := []struct {
		name, path, stored, contentType, disposition string
	}{
		{"html as plain text", "site/report.html", "text/html; charset=utf-8", "text/plain; charset=utf-8", ""},
		{"unknown as a download", "out/disk.img", "application/x-raw-disk-image", "application/octet-stream", `attachment; filename=disk.img`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := files.StoreArtifacts(ctx, s.task0, runner.ArtifactsRequest{Files: []runner.ArtifactFile{{Path: tc.path, ContentType: tc.stored}}})
			require.NoError(t, err)
			require.NoError(t, c.PutObject(ctx, res.Uploads[0], strings.NewReader(big), int64(len(big))))

			rec := e.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/artifacts/0/%s", s.project.Slug, s.build.Number, tc.path), "")
			require.Equal(t, http.StatusTemporaryRedirect, rec.Code, rec.Body.String())
			resp, err := http.Get(rec.Header().Get("Location"))
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode, string(body))
			assert.Equal(t, len(big), len(body))
			assert.Equal(t, tc.contentType, resp.Header.Get("Content-Type"), "the store serves the policy's type, not the stored %s", tc.stored)
			assert.Equal(t, tc.disposition, resp.Header.Get("Content-Disposition"))
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		})
	}
}
