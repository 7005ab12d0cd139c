package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

func jobPageURL(s seeded, n int64) string {
	return fmt.Sprintf("/ui/project/%s/job/%d", s.project.Slug, n)
}

func TestUIJobPage(t *testing.T) {
	e, s := filesEnv(t, false)
	rec := e.do(http.MethodGet, jobPageURL(s, s.build.Number), "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "style-src 'self'")
	body := rec.Body.String()
	for _, want := range []string{
		"<h1>build <span class=\"muted\">job #1</span></h1>",
		`href="/ui/pipeline/` + s.pipeline.ID + `">pipeline #1</a>`,
		`<span class="badge ok" id="job-status">success</span>`,
		"job-parallel", "Task 0", "Task 1", // the two tasks side by side
		`id="run-0-1"`, `data-status="failed"`, "exit code 1", "1m 02s",
		// ANSI colour as a class, the rest escaped, one span per line with its time
		`<span class="a-f1">FAIL</span> &lt;script&gt;alert(1)&lt;/script&gt;</span>`,
		`<span class="job-ln" data-t="`,
		`data-next="3"`, `data-ansi="-1,-1,0"`,
		`href="/api/v2/project/local/acme/api/job/1/output?step=1&amp;task=0">raw output</a>`,
		`href="/ui/project/local/acme/api/job/1/raw?step=1&amp;task=0" download>download</a>`,
		`data-stream="false"`, // this handler cannot stream: the page polls
		// tests: failures first, with their message
		`<span class="badge bad">1 failed</span>`, "1 passed", `<pre class="job-msg">boom</pre>`,
		// artifacts link to the API route that serves them under the content-type rules
		`href="/api/v2/project/local/acme/api/1/artifacts/0/site/index.html"`,
		`href="/api/v2/project/local/acme/api/1/artifacts/1/bin/app%20name"`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, "<script>alert", "output is escaped")
	assert.NotContains(t, body, "\x1b", "escape sequences are rendered, not passed on")
	assert.NotContains(t, body, `style="`, "no inline styles under the CSP")
	assert.NotContains(t, body, `http-equiv="refresh"`, "a finished job does not refresh")
	assert.Less(t, strings.Index(body, "TestB"), strings.Index(body, "TestA"), "the failing test comes first")
	// The failed step is open, the successful checkout is not.
	assert.Regexp(t, `id="run-0-1"[^>]* open>`, body)
	assert.NotRegexp(t, `id="run-0-0"[^>]* open>`, body)
	assert.NotContains(t, body, "data-running", "nothing runs")
}

func TestUIJobPageRunningAndWaiting(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.StreamOutput = true })
	s := seed(t, e.st)
	ctx := context.Background()
	// The running job "test" has a running step with an unfinished line.
	testTask := store.TaskID(s.test.ID, 1, 0)
	_, err := e.st.PutStep(ctx, testTask, 0, func(st *store.Step) error {
		st.Name, st.Type, st.Status, st.StartedAt = "make <all>", "run", status.StepRunning, *at(72)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, e.st.AppendOutput(ctx, testTask, 0, 0, []byte("\x1b[1;32mok\nhalf")))

	body := e.do(http.MethodGet, jobPageURL(s, s.test.Number), "").Body.String()
	for _, want := range []string{
		`data-stream="true"`, `data-events="/ui/project/local/acme/api/job/2/events"`,
		`data-output="/api/v2/project/local/acme/api/job/2/output"`,
		"data-running", "data-open-line", `data-ansi="2,-1,1"`, `data-next="1"`,
		`<span class="a-f2 a-bold">ok</span>`, `<span class="a-f2 a-bold">half</span>`,
		"make &lt;all&gt;", `<meta http-equiv="refresh" content="2">`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, `id="job-tests"`, "no files service: no tests section")

	// A queued job says why it waits.
	wf := store.Workflow{ID: uuid.NewString(), Name: "deploy", PipelineID: s.pipeline.ID, PipelineNumber: s.pipeline.Number,
		ProjectSlug: s.project.Slug, Status: status.WorkflowRunning, CreatedAt: t0}
	job := store.Job{ID: uuid.NewString(), Name: "ship", Type: "build", Status: status.JobBlocked, Parallelism: 1,
		WorkflowID: wf.ID, PipelineID: s.pipeline.ID, ProjectSlug: s.project.Slug}
	require.NoError(t, e.st.CreateWorkflow(ctx, wf, []store.Job{job}))
	job = finishJob(t, e.st, job, func(j *store.Job) { j.Status, j.QueuedAt = status.JobQueued, at(80) })
	require.NoError(t, e.st.SetJobWaiting(ctx, job.ID, store.JobWaiting{Reason: "no Nomad client with resource class <xlarge>", Since: *at(81)}))
	body = e.do(http.MethodGet, jobPageURL(s, job.Number), "").Body.String()
	assert.Contains(t, body, "<b>Waiting:</b> no Nomad client with resource class &lt;xlarge&gt;")
	assert.Contains(t, body, "since "+at(81).UTC().Format("2006-01-02 15:04:05 UTC"))
	assert.Contains(t, body, "No steps reported yet.")
	assert.Contains(t, body, `<span class="badge run" id="job-status">queued</span>`)

	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, jobPageURL(s, 99), "").Code)
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, fmt.Sprintf("/ui/project/%s/job/x", s.project.Slug), "").Code)
}

func TestUIJobRawDownload(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	rec := e.do(http.MethodGet, jobPageURL(s, s.build.Number)+"/raw?step=1&task=0", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, `attachment; filename="job-1-step-1-task-0.txt"`, rec.Header().Get("Content-Disposition"))
	assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "\x1b[31mFAIL\x1b[0m <script>alert(1)</script>\n--- FAIL: TestThing\nexit status 1\n", rec.Body.String())
	assert.Equal(t, "3", rec.Header().Get(api.NextSeqHeader))
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, jobPageURL(s, s.build.Number)+"/raw?step=7", "").Code)
}

func TestUIJobEventsOnlyWhereTheShapeStreams(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	rec := e.do(http.MethodGet, jobPageURL(s, s.build.Number)+"/events?step=1", "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

// sse reads server-sent events.
type sse struct {
	t  *testing.T
	sc *bufio.Scanner
}

type event struct{ id, name, data string }

func (r *sse) next() (event, bool) {
	r.t.Helper()
	var ev event
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "":
			if ev.name != "" {
				return ev, true
			}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
	return ev, false
}

func (e *env) openEvents(t *testing.T, ctx context.Context, srv *httptest.Server, path string, headers ...string) (*sse, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Circle-Token", e.token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	return &sse{t: t, sc: bufio.NewScanner(res.Body)}, res
}

func TestUIJobEventsStreamOutputUntilTheStepEnds(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.StreamOutput = true })
	s := seed(t, e.st)
	ctx := context.Background()
	task := store.TaskID(s.test.ID, 1, 0)
	_, err := e.st.PutStep(ctx, task, 0, func(st *store.Step) error {
		st.Name, st.Type, st.Status, st.StartedAt = "make", "run", status.StepRunning, *at(72)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, e.st.AppendOutput(ctx, task, 0, 0, []byte("line 1\ncaf\xc3")))
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	events, res := e.openEvents(t, ctx, srv, jobPageURL(s, s.test.Number)+"/events?step=0&task=0")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	ev, ok := events.next()
	require.True(t, ok)
	assert.Equal(t, "output", ev.name)
	assert.Equal(t, "1", ev.id, "the id is the next sequence number")
	assert.Contains(t, ev.data, `"text":"line 1\ncaf"`, "half a character waits for the rest")
	assert.Regexp(t, `"at":"\d\d:\d\d:\d\d"`, ev.data)
	ev, _ = events.next()
	assert.Equal(t, event{name: "status", data: `{"status":"running","exit_code":null,"duration":""}`}, ev)

	// The next line arrives while the stream is open.
	require.NoError(t, e.st.AppendOutput(ctx, task, 0, 1, []byte("\xa9 line 2\n")))
	ev, _ = events.next()
	assert.Equal(t, "output", ev.name)
	assert.Equal(t, "2", ev.id)
	assert.Contains(t, ev.data, `"text":"é line 2\n"`)

	// The step ends: its status, then the end of the stream.
	_, err = e.st.PutStep(ctx, task, 0, func(st *store.Step) error {
		code := 2
		st.Status, st.ExitCode, st.StoppedAt = status.StepFailed, &code, at(75)
		return nil
	})
	require.NoError(t, err)
	ev, _ = events.next()
	assert.Equal(t, event{name: "status", data: `{"status":"failed","exit_code":2,"duration":"3s"}`}, ev)
	ev, _ = events.next()
	assert.Equal(t, "end", ev.name)
	_, ok = events.next()
	assert.False(t, ok, "the stream closes after end")

	// A reconnecting EventSource resumes after the last id it saw.
	events, _ = e.openEvents(t, ctx, srv, jobPageURL(s, s.test.Number)+"/events?step=0&task=0&from=0", "Last-Event-ID", "1")
	ev, _ = events.next()
	assert.Equal(t, "2", ev.id)
	assert.Contains(t, ev.data, `"text":"\ufffd line 2\n"`, "the first half was in the chunk not resent")

	for path, code := range map[string]int{
		"/events?step=5":         http.StatusNotFound,
		"/events?step=0&task=3":  http.StatusBadRequest,
		"/events":                http.StatusBadRequest,
		"/events?step=0&from=-1": http.StatusBadRequest,
	} {
		assert.Equal(t, code, e.do(http.MethodGet, jobPageURL(s, s.test.Number)+path, "").Code, path)
	}
}

func TestUIJobEventsEndWhenTheClientGoes(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.StreamOutput = true })
	s := seed(t, e.st)
	task := store.TaskID(s.test.ID, 1, 0)
	_, err := e.st.PutStep(t.Context(), task, 0, func(st *store.Step) error {
		st.Name, st.Status, st.StartedAt = "make", status.StepRunning, *at(72)
		return nil
	})
	require.NoError(t, err)
	srv := httptest.NewServer(e.h)
	ctx, cancel := context.WithCancel(t.Context())
	events, _ := e.openEvents(t, ctx, srv, jobPageURL(s, s.test.Number)+"/events?step=0")
	ev, _ := events.next()
	assert.Equal(t, "status", ev.name)
	cancel()
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }() // Close waits for the handler
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the event stream did not end when its client went away")
	}
}

func TestUIJobEventsEndWhenTheJobEnds(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.StreamOutput = true })
	s := seed(t, e.st)
	task := store.TaskID(s.test.ID, 1, 0)
	_, err := e.st.PutStep(t.Context(), task, 0, func(st *store.Step) error {
		st.Name, st.Status, st.StartedAt = "make", status.StepRunning, *at(72)
		return nil
	})
	require.NoError(t, err)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	events, _ := e.openEvents(t, t.Context(), srv, jobPageURL(s, s.test.Number)+"/events?step=0")
	ev, _ := events.next()
	assert.Equal(t, "status", ev.name)
	// The task was killed: its step never reports an end, the job does.
	_, err = e.st.TransitionJob(t.Context(), s.workflow.ID, "test", func(*store.Job) (status.Job, error) { return status.JobCanceled, nil })
	require.NoError(t, err)
	for ev.name != "end" {
		var ok bool
		ev, ok = events.next()
		require.True(t, ok, "the stream ends with an end event")
	}
}
