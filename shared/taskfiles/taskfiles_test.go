package taskfiles_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/blob/s3blob/s3blobtest"
	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/taskfiles"
	"github.com/orbit-ci/orbit/shared/taskfiles/taskfilestest"
)

// harness is a taskfiles.Service behind the real runner API handler and
// client, so these tests pin down the wire contract too.
type harness struct {
	t     *testing.T
	svc   *taskfiles.Service
	tasks *taskfilestest.Tasks
	srv   *httptest.Server // the runner API (and dirblob's /blob/)
	// uploads is what every upload URL handed out starts with: the runner
	// API's signed /uploads, or the S3 endpoint when the store presigns PUTs.
	uploads string
}

// backends are the blob stores the service runs over in Orbit's two
// shapes. Embedded: dirblob, uploads through the runner API's signed
// /uploads. AWS: s3blob, whose presigned PUTs the agent sends straight to
// S3 (an in-memory one that checks SigV4 signatures and expiry as S3 does).
var backends = []struct {
	name       string
	newHarness func(t *testing.T) *harness
}{
	{"dirblob", newHarness},
	{"s3blob", newS3Harness},
}

// forEachBackend runs test over every backend.
func forEachBackend(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.newHarness(t)) })
	}
}

// tokenIsTask verifies "tok-<task>" tokens.
type tokenIsTask struct{}

func (tokenIsTask) Verify(tok string) (string, error) {
	id, ok := strings.CutPrefix(tok, "tok-")
	if !ok {
		return "", runner.ErrBadToken
	}
	return id, nil
}

// newHarness runs the service over dirblob (taskfilestest's Env).
func newHarness(t *testing.T) *harness {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	env, err := taskfilestest.New(t.TempDir(), srv.URL)
	require.NoError(t, err)
	mux.Handle("/blob/", env.Handler)
	mux.Handle("/runner/v1/", http.StripPrefix("/runner/v1",
		runner.NewHandler(nil, tokenIsTask{}, nil, runner.WithFiles(env.Service))))
	return &harness{t: t, svc: env.Service, tasks: env.Tasks, srv: srv, uploads: srv.URL + "/runner/v1/uploads/"}
}

// newS3Harness runs the service over s3blob, as in AWS: no UploadURL, so
// uploads can only go to the store's presigned PUTs.
func newS3Harness(t *testing.T) *harness {
	t.Helper()
	s3srv := s3blobtest.NewServer(t)
	tasks := &taskfilestest.Tasks{}
	svc, err := taskfiles.New(taskfiles.Config{Blobs: s3srv.NewStore(t), Tasks: tasks})
	require.NoError(t, err)
	srv := httptest.NewServer(http.StripPrefix("/runner/v1",
		runner.NewHandler(nil, tokenIsTask{}, nil, runner.WithFiles(svc))))
	t.Cleanup(srv.Close)
	return &harness{t: t, svc: svc, tasks: tasks, srv: srv, uploads: s3srv.URL + "/"}
}

func (h *harness) task(tc taskfiles.TaskContext) *runner.Client {
	if tc.ProjectSlug == "" {
		tc.ProjectSlug = "gh/acme/shop"
	}
	if tc.WorkflowID == "" {
		tc.WorkflowID = "wf-1"
	}
	h.tasks.Set(tc)
	return runner.NewClient(h.srv.URL+"/runner/v1", "tok-"+tc.TaskID, nil,
		runner.WithBackoff(time.Millisecond, 5*time.Millisecond), runner.WithRetryDeadline(time.Second))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (h *harness) download(c *runner.Client, url string) []byte {
	h.t.Helper()
	var buf bytes.Buffer
	_, err := c.GetObject(context.Background(), url, &buf, func() error { buf.Reset(); return nil })
	require.NoError(h.t, err)
	return buf.Bytes()
}

// upload PUTs data where up says, as the agent does, after checking that
// up points where this backend's uploads go.
func (h *harness) upload(c *runner.Client, up runner.Upload, data string) {
	h.t.Helper()
	require.True(h.t, strings.HasPrefix(up.URL, h.uploads), "upload URL %s does not start with %s", up.URL, h.uploads)
	require.NoError(h.t, c.PutObject(context.Background(), up, strings.NewReader(data), int64(len(data))))
}

// saveCache runs the agent's save sequence and reports whether it saved.
func (h *harness) saveCache(c *runner.Client, step int, key string, data []byte) bool {
	h.t.Helper()
	ctx := context.Background()
	res, err := c.SaveCache(ctx, runner.CacheSaveRequest{Step: step, Key: key})
	require.NoError(h.t, err)
	if res.Exists {
		return false
	}
	require.NotNil(h.t, res.Upload)
	h.upload(c, *res.Upload, string(data))
	require.NoError(h.t, c.CommitCache(ctx, runner.CacheCommit{Step: step, Key: key, Size: int64(len(data)), SHA256: sum(data)}))
	return true
}

func TestCaches(t *testing.T) { forEachBackend(t, testCaches) }

func testCaches(t *testing.T, h *harness) {
	ctx := context.Background()
	a := h.task(taskfiles.TaskContext{TaskID: "a", JobNumber: 1})
	b := h.task(taskfiles.TaskContext{TaskID: "b", JobNumber: 2})
	other := h.task(taskfiles.TaskContext{TaskID: "o", JobNumber: 3, ProjectSlug: "gh/acme/other"})

	assert.True(t, h.saveCache(a, 1, "v1-deps-aaa", []byte("first")))
	assert.False(t, h.saveCache(b, 4, "v1-deps-aaa", []byte("again")), "keys are immutable")
	time.Sleep(5 * time.Millisecond)
	assert.True(t, h.saveCache(b, 4, "v1-deps-bbb", []byte("second")))
	assert.True(t, h.saveCache(a, 2, "v1-tools/x", []byte("tools")))

	tests := []struct {
		name string
		c    *runner.Client
		keys []string
		want []string
	}{
		{"exact", a, []string{"v1-deps-aaa"}, []string{"v1-deps-aaa"}},
		{"prefix: newest first", a, []string{"v1-deps-"}, []string{"v1-deps-bbb", "v1-deps-aaa"}},
		{"keys in order, each once", a, []string{"v1-deps-aaa", "v1-deps-", "v1-"}, []string{"v1-deps-aaa", "v1-deps-bbb", "v1-tools/x"}},
		{"miss", a, []string{"v2-"}, []string{}},
		{"other project sees nothing", other, []string{"v1-"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.c.RestoreCache(ctx, runner.CacheRestoreRequest{Keys: tt.keys})
			require.NoError(t, err)
			got := []string{}
			for _, m := range res.Matches {
				got = append(got, m.Key)
			}
			assert.Equal(t, tt.want, got)
		})
	}
	res, err := a.RestoreCache(ctx, runner.CacheRestoreRequest{Keys: []string{"v1-deps-aaa"}})
	require.NoError(t, err)
	m := res.Matches[0]
	assert.Equal(t, "first", string(h.download(a, m.URL)))
	assert.Equal(t, sum([]byte("first")), m.SHA256)
	assert.EqualValues(t, 5, m.Size)

	_, err = a.RestoreCache(ctx, runner.CacheRestoreRequest{})
	assert.ErrorIs(t, err, runner.ErrBadRequest)
}

func TestCacheCommitRace(t *testing.T) { forEachBackend(t, testCacheCommitRace) }

func testCacheCommitRace(t *testing.T, h *harness) {
	ctx := context.Background()
	a := h.task(taskfiles.TaskContext{TaskID: "a", JobNumber: 1})
	b := h.task(taskfiles.TaskContext{TaskID: "b", JobNumber: 2})
	// Both reserve the key before either commits.
	ra, err := a.SaveCache(ctx, runner.CacheSaveRequest{Step: 0, Key: "k"})
	require.NoError(t, err)
	rb, err := b.SaveCache(ctx, runner.CacheSaveRequest{Step: 0, Key: "k"})
	require.NoError(t, err)
	h.upload(a, *ra.Upload, "A")
	h.upload(b, *rb.Upload, "B")
	require.NoError(t, a.CommitCache(ctx, runner.CacheCommit{Key: "k", Size: 1, SHA256: sum([]byte("A"))}))
	require.NoError(t, a.CommitCache(ctx, runner.CacheCommit{Key: "k", Size: 1, SHA256: sum([]byte("A"))}), "retry is harmless")
	err = b.CommitCache(ctx, runner.CacheCommit{Key: "k", Size: 1, SHA256: sum([]byte("B"))})
	assert.ErrorIs(t, err, runner.ErrConflict)

	err = a.CommitCache(ctx, runner.CacheCommit{Step: 9, Key: "never-uploaded", Size: 1, SHA256: sum([]byte("A"))})
	assert.ErrorIs(t, err, runner.ErrBadRequest)
	err = a.CommitCache(ctx, runner.CacheCommit{Key: "k2", Size: 1, SHA256: "nothex"})
	assert.ErrorIs(t, err, runner.ErrBadRequest)
}

func TestUploadSignature(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	a := h.task(taskfiles.TaskContext{TaskID: "a", JobNumber: 1})
	res, err := a.SaveCache(ctx, runner.CacheSaveRequest{Key: "k"})
	require.NoError(t, err)
	good := res.Upload.URL
	put := func(url string) int {
		req, err := http.NewRequest(http.MethodPut, url, strings.NewReader("x"))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusForbidden, put(strings.Replace(good, "sig=", "sig=00", 1)))
	assert.Equal(t, http.StatusForbidden, put(strings.Replace(good, "/caches/k/", "/caches/j/", 1)))
	assert.Equal(t, http.StatusForbidden, put(strings.Replace(good, "ct=application%2Fgzip", "ct=text%2Fhtml", 1)))
	assert.Equal(t, http.StatusNoContent, put(good))

	// A terminal task gets 410 from every files route.
	h.tasks.End("a")
	_, err = a.SaveCache(ctx, runner.CacheSaveRequest{Key: "k3"})
	assert.ErrorIs(t, err, runner.ErrTaskGone)
}

func TestWorkspace(t *testing.T) { forEachBackend(t, testWorkspace) }

func testWorkspace(t *testing.T, h *harness) {
	ctx := context.Background()
	persist := func(c *runner.Client, step int, data string) {
		up, err := c.PersistWorkspace(ctx, runner.WorkspacePersist{Step: step})
		require.NoError(t, err)
		h.upload(c, up, data)
		require.NoError(t, c.CommitWorkspace(ctx, runner.WorkspaceCommit{Step: step, Size: int64(len(data)), SHA256: sum([]byte(data)), Files: 1}))
		time.Sleep(2 * time.Millisecond)
	}
	build := h.task(taskfiles.TaskContext{TaskID: "build-1-0", JobName: "build", Attempt: 1})
	lint := h.task(taskfiles.TaskContext{TaskID: "lint-1-0", JobName: "lint", Attempt: 1})
	old := h.task(taskfiles.TaskContext{TaskID: "test-1-0", JobName: "test", Attempt: 1})
	test := h.task(taskfiles.TaskContext{TaskID: "test-2-0", JobName: "test", Attempt: 2,
		Upstream: map[string]int{"build": 1}})
	deploy := h.task(taskfiles.TaskContext{TaskID: "deploy-1-0", JobName: "deploy", Attempt: 1,
		Upstream: map[string]int{"build": 1, "test": 2}})
	other := h.task(taskfiles.TaskContext{TaskID: "x-1-0", JobName: "deploy", WorkflowID: "wf-2",
		Upstream: map[string]int{"build": 1, "test": 2}})
	// A rerun of wf-1 from test keeps build, whose layers stay in wf-1; a
	// rerun of that rerun keeps test too. Their ids sort before wf-1, so
	// listing order is not age order.
	rerunTest := h.task(taskfiles.TaskContext{TaskID: "r-test-1-0", JobName: "test", Attempt: 1, WorkflowID: "rerun-a",
		Upstream: map[string]int{"build": 1}, UpstreamWorkflows: map[string]string{"build": "wf-1"}})
	rerunDeploy := h.task(taskfiles.TaskContext{TaskID: "r-deploy-1-0", JobName: "deploy", Attempt: 1, WorkflowID: "rerun-a",
		Upstream: map[string]int{"build": 1, "test": 1}, UpstreamWorkflows: map[string]string{"build": "wf-1"}})
	rerunRerunDeploy := h.task(taskfiles.TaskContext{TaskID: "rr-deploy-1-0", JobName: "deploy", Attempt: 1, WorkflowID: "rerun-b",
		Upstream:          map[string]int{"build": 1, "test": 1},
		UpstreamWorkflows: map[string]string{"build": "wf-1", "test": "rerun-a"}})
	notRerun := h.task(taskfiles.TaskContext{TaskID: "n-deploy-1-0", JobName: "deploy", Attempt: 1, WorkflowID: "rerun-c",
		Upstream: map[string]int{"build": 1}})

	persist(build, 2, "build-layer")
	persist(lint, 1, "lint-layer")   // not upstream of anyone
	persist(old, 1, "stale-attempt") // attempt 1 of test: superseded
	persist(test, 3, "test-layer")
	persist(rerunTest, 1, "rerun-test-layer")

	layers := func(t *testing.T, c *runner.Client) []string {
		res, err := c.Workspace(ctx)
		require.NoError(t, err)
		out := []string{}
		for _, l := range res.Layers {
			out = append(out, l.JobName+":"+string(h.download(c, l.URL)))
		}
		return out
	}
	tests := []struct {
		name string
		c    *runner.Client
		want []string
	}{
		{"current attempt of the required job", test, []string{"build:build-layer"}},
		{"every job upstream, oldest first", deploy, []string{"build:build-layer", "test:test-layer"}},
		{"layers belong to their workflow", other, []string{}},
		{"a rerun attaches its kept job's layers", rerunTest, []string{"build:build-layer"}},
		// not wf-1's attempt 1 of test ("stale-attempt"): test ran again in the rerun
		{"a rerun's own and kept layers, oldest first", rerunDeploy, []string{"build:build-layer", "test:rerun-test-layer"}},
		{"a rerun of a rerun reaches each origin", rerunRerunDeploy, []string{"build:build-layer", "test:rerun-test-layer"}},
		{"without the origin, a kept job's layers are not found", notRerun, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, layers(t, tt.c))
		})
	}
}

func TestArtifacts(t *testing.T) { forEachBackend(t, testArtifacts) }

func testArtifacts(t *testing.T, h *harness) {
	ctx := context.Background()
	n0 := h.task(taskfiles.TaskContext{TaskID: "t0", JobNumber: 7, Index: 0})
	n1 := h.task(taskfiles.TaskContext{TaskID: "t1", JobNumber: 7, Index: 1})
	store := func(c *runner.Client, path, ct, data string) {
		res, err := c.StoreArtifacts(ctx, runner.ArtifactsRequest{Files: []runner.ArtifactFile{{Path: path, ContentType: ct, Size: int64(len(data))}}})
		require.NoError(t, err)
		require.Len(t, res.Uploads, 1)
		h.upload(c, res.Uploads[0], data)
	}
	store(n0, "reports/coverage.html", "text/html", "<h1>cov</h1>")
	store(n0, "./logs//app.log", "", "log line")
	store(n1, "reports/coverage.html", "text/html", "<h1>node 1</h1>")

	got, err := h.svc.Artifacts(ctx, "gh/acme/shop", 7)
	require.NoError(t, err)
	assert.Equal(t, []taskfiles.Artifact{
		{Path: "logs/app.log", NodeIndex: 0, Size: 8},
		{Path: "reports/coverage.html", NodeIndex: 0, Size: 12},
		{Path: "reports/coverage.html", NodeIndex: 1, Size: 15},
	}, got)
	rc, info, err := h.svc.OpenArtifact(ctx, "gh/acme/shop", 7, 1, "reports/coverage.html")
	require.NoError(t, err)
	b, _ := io.ReadAll(rc)
	rc.Close()
	assert.Equal(t, "<h1>node 1</h1>", string(b))
	assert.Equal(t, "text/html", info.ContentType)

	for _, bad := range []string{"../escape", "a/../../b", "", "a\\b"} {
		_, err := n0.StoreArtifacts(ctx, runner.ArtifactsRequest{Files: []runner.ArtifactFile{{Path: bad}}})
		assert.ErrorIs(t, err, runner.ErrBadRequest, bad)
	}
}

func TestTestsAndTimings(t *testing.T) { forEachBackend(t, testTestsAndTimings) }

func testTestsAndTimings(t *testing.T, h *harness) {
	ctx := context.Background()
	tc := func(id string, num int64, branch string, idx int) taskfiles.TaskContext {
		return taskfiles.TaskContext{TaskID: id, JobNumber: num, JobName: "test", Attempt: 1, Index: idx,
			Branch: branch, DefaultBranch: "main"}
	}
	first0 := h.task(tc("r1-0", 10, "main", 0))
	first1 := h.task(tc("r1-1", 10, "main", 1))
	require.NoError(t, first0.StoreTests(ctx, 3, 0, runner.TestBatch{Tests: []junit.Test{
		{Name: "TestA", Classname: "pkg", File: "./a_test.go", RunTime: 2, Result: "success"},
		{Name: "TestA2", Classname: "pkg", File: "a_test.go", RunTime: 1, Result: "success"},
	}}))
	require.NoError(t, first0.StoreTests(ctx, 3, 0, runner.TestBatch{Tests: []junit.Test{
		{Name: "TestA", Classname: "pkg", File: "./a_test.go", RunTime: 2, Result: "success"},
		{Name: "TestA2", Classname: "pkg", File: "a_test.go", RunTime: 1, Result: "success"},
	}}), "a retried batch replaces itself")
	require.NoError(t, first1.StoreTests(ctx, 3, 0, runner.TestBatch{Tests: []junit.Test{
		{Name: "TestB", Classname: "other", File: "b_test.go", RunTime: 5, Result: "failure", Message: "boom"},
	}}))
	tests, err := h.svc.Tests(ctx, "gh/acme/shop", 10, 1)
	require.NoError(t, err)
	require.Len(t, tests, 3)
	assert.Equal(t, "TestB", tests[2].Name)

	// The same run's own tasks see no timings of their run.
	tm, err := first1.Timings(ctx)
	require.NoError(t, err)
	assert.Zero(t, tm.JobNumber)

	next := h.task(tc("r2-0", 11, "main", 0))
	tm, err = next.Timings(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 10, tm.JobNumber)
	assert.Equal(t, map[string]float64{"a_test.go": 3, "b_test.go": 5}, tm.Files)
	assert.Equal(t, map[string]float64{"pkg": 3, "other": 5}, tm.Classnames)
	assert.Equal(t, 5.0, tm.Tests["TestB"])

	feature := h.task(tc("f-0", 12, "feature", 0))
	tm, err = feature.Timings(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 10, tm.JobNumber, "falls back to the default branch")
	assert.Equal(t, "main", tm.Branch)
}

func TestServedContentType(t *testing.T) {
	tests := []struct {
		stored      string
		allowUnsafe bool
		want        string
		download    bool
	}{
		{"text/plain", false, "text/plain; charset=utf-8", false},
		{"text/plain; charset=latin1", false, "text/plain; charset=latin1", false},
		{"application/json", false, "application/json", false},
		{"image/png", false, "image/png", false},
		{"video/mp4", false, "video/mp4", false},
		{"audio/wav", false, "audio/wav", false},
		{"text/html; charset=utf-8", false, "text/plain; charset=utf-8", false},
		{"text/css", false, "text/plain; charset=utf-8", false},
		{"application/javascript", false, "text/plain; charset=utf-8", false},
		{"text/xml", false, "text/plain; charset=utf-8", false},
		{"image/svg+xml", false, "text/plain; charset=utf-8", false},
		{"application/pdf", false, "application/octet-stream", true},
		{"application/octet-stream", false, "application/octet-stream", true},
		{"garbage;;", false, "application/octet-stream", true},
		{"text/html", true, "text/html", false},
	}
	for _, tt := range tests {
		t.Run(tt.stored, func(t *testing.T) {
			ct, dl := taskfiles.ServedContentType(tt.stored, tt.allowUnsafe)
			assert.Equal(t, tt.want, ct)
			assert.Equal(t, tt.download, dl)
		})
	}
}
