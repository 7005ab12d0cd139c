package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

func TestUIPipelinePage(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)

	rec := e.do(http.MethodGet, "/ui/pipeline/"+s.pipeline.ID, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
	body := rec.Body.String()
	for _, want := range []string{
		`<a href="/ui/project/local/acme/api">local/acme/api</a> · pipeline <a href="/ui/pipeline/` + s.pipeline.ID + `">#1</a>`,
		`<span class="badge ok">created</span>`,
		"0123456789abcdef0123456789abcdef01234567", // revision
		"build-and-test",
		`<span class="badge run">running</span>`, // the workflow and job "test"
		`<a href="/ui/project/local/acme/api/job/1">build</a> <span class="muted">#1</span>`, `<span class="badge ok">success</span>`, "1m 05s",
		`<a href="/ui/project/local/acme/api/job/1"><g class="dag-node s-ok">`, // the graph links the job page
		`<g class="dag-node s-idle approval">`,                                 // the approval job, blocked
		`<tr id="L1"><td class="ln">1</td><td><code>version: 2.1</code></td></tr>`,
		`<meta http-equiv="refresh" content="2">`, // a job is still running
	} {
		assert.Contains(t, body, want)
	}
}

func TestUIPipelinePageStopsRefreshingWhenDone(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	ctx := context.Background()
	for _, name := range []string{"test", "hold"} {
		_, err := e.st.TransitionJob(ctx, s.workflow.ID, name, func(*store.Job) (status.Job, error) {
			return status.JobSuccess, nil
		})
		require.NoError(t, err)
	}
	_, err := e.st.TransitionWorkflow(ctx, s.workflow.ID, func(*store.Workflow) (status.Workflow, error) {
		return status.WorkflowSuccess, nil
	})
	require.NoError(t, err)

	body := e.do(http.MethodGet, "/ui/pipeline/"+s.pipeline.ID, "").Body.String()
	assert.NotContains(t, body, `http-equiv="refresh"`)
}

func TestUIPipelinePageErrored(t *testing.T) {
	e := newEnv(t)
	p, err := e.st.CreatePipeline(context.Background(), store.Pipeline{ProjectSlug: "local/acme/api",
		VCS: store.PipelineVCS{Branch: "main"}, Errors: []store.PipelineError{{Type: "config", Message: "config.yml:2: <bad> key"}}})
	require.NoError(t, err)
	_, err = e.st.TransitionPipeline(context.Background(), p.ID, func(*store.Pipeline) (status.Pipeline, error) {
		return status.PipelineErrored, nil
	})
	require.NoError(t, err)

	body := e.do(http.MethodGet, "/ui/pipeline/"+p.ID, "").Body.String()
	assert.Contains(t, body, `<span class="badge bad">errored</span>`)
	assert.Contains(t, body, "<b>config</b>: config.yml:2: &lt;bad&gt; key", "not the pipeline's config file: no line link")
	assert.NotContains(t, body, `http-equiv="refresh"`)
}

func TestUIIndex(t *testing.T) {
	e := newEnv(t)
	empty := e.do(http.MethodGet, "/", "")
	require.Equal(t, http.StatusOK, empty.Code)
	assert.Contains(t, empty.Body.String(), "No projects are followed yet. <a href=\"/ui/projects\">Follow a project</a>")

	s := seed(t, e.st)
	rec := e.do(http.MethodGet, "/", "")
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	for _, want := range []string{
		`<td><a href="/ui/project/local/acme/api">local/acme/api</a></td>`,
		`<a href="/ui/pipeline/` + s.pipeline.ID + `">#1</a>`,
		`build-and-test</a> <span class="badge run">running</span>`,
		"<code>01234567</code>",
		"api <span class=\"muted\">by</span> alice",
		`<meta http-equiv="refresh" content="2">`,
	} {
		assert.Contains(t, body, want)
	}
}

func TestUINotFound(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodGet, "/ui/pipeline/nope", "", "X-Request-Id", "req-ui-404")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), "404 Not Found")
	assert.Contains(t, rec.Body.String(), "pipeline nope: not found")
	assert.Contains(t, rec.Body.String(), "req-ui-404")
}
