package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
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

// session signs the local admin in with a browser session: its cookie
// header pair (no token) and the session's CSRF token.
func session(t *testing.T, e *env) (headers []string, csrf string) {
	t.Helper()
	cookie, _, err := e.acc.StartSession(t.Context(), e.admin.ID)
	require.NoError(t, err)
	return []string{"Circle-Token", "", "Cookie", api.SessionCookie + "=" + cookie,
		"Content-Type", "application/x-www-form-urlencoded"}, e.acc.CSRFToken(cookie)
}

func TestUIFormRefusedWithoutCSRFToken(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.Controls = &fakeControls{} })
	s := seed(t, e.st)
	h, csrf := session(t, e)
	for _, target := range []string{
		"/ui/project/local/acme/api/pipeline",
		"/ui/workflow/" + s.workflow.ID + "/cancel",
		"/ui/workflow/" + s.workflow.ID + "/rerun",
		"/ui/projects/follow",
	} {
		rec := e.do(http.MethodPost, target, "branch=main", h...)
		assert.Equal(t, http.StatusForbidden, rec.Code, target)
		assert.Contains(t, rec.Body.String(), "no valid CSRF token", target)
		rec = e.do(http.MethodPost, target, "branch=main&csrf_token=wrong", h...)
		assert.Equal(t, http.StatusForbidden, rec.Code, target)
	}
	assert.Empty(t, e.trigger.reqs, "nothing was triggered")

	rec := e.do(http.MethodPost, "/ui/project/local/acme/api/pipeline", "branch=main&csrf_token="+url.QueryEscape(csrf), h...)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	assert.True(t, strings.HasPrefix(rec.Header().Get("Location"), "/ui/pipeline/"), rec.Header().Get("Location"))
	require.Len(t, e.trigger.reqs, 1)
	assert.Equal(t, "admin", e.trigger.reqs[0].Actor)
}

func TestUIEscapesABranchNamedScript(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	const branch = `<script>alert("x")</script>`
	p, err := e.st.CreatePipeline(context.Background(), store.Pipeline{ProjectSlug: s.project.Slug,
		Trigger: store.Trigger{Type: "api", Actor: "<b>mallory</b>"}, VCS: store.PipelineVCS{Branch: branch}})
	require.NoError(t, err)
	for _, page := range []string{"/", "/?branch=" + url.QueryEscape(branch), "/ui/project/local/acme/api",
		"/ui/project/local/acme/api?branch=" + url.QueryEscape(branch), "/ui/pipeline/" + p.ID} {
		rec := e.do(http.MethodGet, page, "")
		require.Equal(t, http.StatusOK, rec.Code, page)
		body := rec.Body.String()
		assert.NotContains(t, body, "<script>", page)
		assert.NotContains(t, body, "<b>mallory", page)
		assert.Contains(t, body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", page)
	}
}

// uiPipelines makes n pipelines of slug, on branch feature for odd numbers,
// created one second apart from start, each with one workflow.
func uiPipelines(t *testing.T, e *env, slug string, n int, start time.Time) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		branch := "main"
		if i%2 == 1 {
			branch = "feature"
		}
		p, err := e.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: slug, Trigger: store.Trigger{Type: "api", Actor: "alice"},
			VCS: store.PipelineVCS{Branch: branch}})
		require.NoError(t, err)
		_, err = e.st.UpdatePipeline(ctx, p.ID, func(p *store.Pipeline) error {
			p.CreatedAt = start.Add(time.Duration(i) * time.Second)
			return nil
		})
		require.NoError(t, err)
		wst := status.WorkflowSuccess
		if i%5 == 0 {
			wst = status.WorkflowFailed
		}
		require.NoError(t, e.st.CreateWorkflow(ctx, store.Workflow{ID: uuid.NewString(), Name: "wf", PipelineID: p.ID,
			PipelineNumber: p.Number, ProjectSlug: slug, Status: wst, CreatedAt: p.CreatedAt, StoppedAt: &p.CreatedAt}, nil))
	}
}

var pipelineLink = regexp.MustCompile(`<a href="/ui/project/([^"]+)">[^<]+</a></td>\s*<td><a href="/ui/pipeline/[^"]+">#(\d+)</a>`)
var nextLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)

// walk reads every page of a listing from first, returning its rows as
// "slug#number".
func walk(t *testing.T, e *env, first string) []string {
	t.Helper()
	var rows []string
	target := first
	for pages := 0; target != ""; pages++ {
		require.Less(t, pages, 20, "the pages end")
		body := e.do(http.MethodGet, target, "").Body.String()
		for _, m := range pipelineLink.FindAllStringSubmatch(body, -1) {
			rows = append(rows, m[1]+"#"+m[2])
		}
		target = ""
		if m := nextLink.FindStringSubmatch(body); m != nil {
			target = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	return rows
}

func TestUIDashboardMergesProjectsNewestFirstAcrossPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, slug := range []string{"local/acme/api", "local/acme/web"} {
		_, err := e.st.CreateProject(ctx, store.Project{Slug: slug, Name: "x", VCS: "local", RepoURL: "/src", DefaultBranch: "main"})
		require.NoError(t, err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	uiPipelines(t, e, "local/acme/api", 30, t0)                           // seconds 0..29
	uiPipelines(t, e, "local/acme/web", 23, t0.Add(500*time.Millisecond)) // 0.5..22.5

	rows := walk(t, e, "/")
	require.Len(t, rows, 53, "every pipeline once")
	var want []string
	for i := 29; i >= 0; i-- {
		if i < 23 {
			want = append(want, fmt.Sprintf("local/acme/web#%d", i+1))
		}
		want = append(want, fmt.Sprintf("local/acme/api#%d", i+1))
	}
	// At second i, web's pipeline (i+0.5 s) is newer than api's (i s).
	assert.Equal(t, want, rows)

	feature := walk(t, e, "/?project=local/acme/api&branch=feature")
	assert.Len(t, feature, 15)
	failed := walk(t, e, "/?status=failed")
	assert.Len(t, failed, 6+5, "i%5==0: api 0,5,..25; web 0,5,..20")
	assert.Empty(t, walk(t, e, "/?mine=1"), "alice triggered them, not admin")

	rec := e.do(http.MethodGet, "/?page=bogus", "")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}

func TestUITriggerTypesParameters(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	require.NoError(t, e.st.PutPipelineConfig(context.Background(), s.pipeline.ID, store.PipelineConfig{Source: `version: 2.1
parameters:
  deploy: {type: boolean, default: false}
  count: {type: integer, default: 1}
  env: {type: enum, enum: [staging, production], default: staging}
  label: {type: string, default: "7"}
jobs: {}
`}))
	page := e.do(http.MethodGet, "/ui/project/local/acme/api", "").Body.String()
	for _, want := range []string{`<select id="p-deploy" name="param.deploy">`, `name="param.count" type="number"`,
		`<option>production</option>`, `<input id="p-label" name="param.label" placeholder="7">`, `<option value="main"></option>`} {
		assert.Contains(t, page, want)
	}
	form := url.Values{"branch": {"dev"}, "param.deploy": {"true"}, "param.count": {"3"}, "param.env": {"production"},
		"param.label": {"42"}, "extra_name": {"flag", "n", ""}, "extra_value": {"false", "12", "ignored"}}
	rec := e.do(http.MethodPost, "/ui/project/local/acme/api/pipeline", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	require.Len(t, e.trigger.reqs, 1)
	assert.Equal(t, "dev", e.trigger.reqs[0].Branch)
	assert.Equal(t, map[string]any{"deploy": true, "count": int64(3), "env": "production", "label": "42", "flag": false, "n": int64(12)},
		e.trigger.reqs[0].Parameters, "declared ones typed as declared (label stays a string), others by their look")

	form.Set("param.count", "three")
	rec = e.do(http.MethodPost, "/ui/project/local/acme/api/pipeline", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `parameter count is an integer: &#34;three&#34; is not one`)
}

func TestUIControls(t *testing.T) {
	fc := &fakeControls{}
	e := newEnv(t, func(c *api.Config) { c.Controls = fc })
	s := seed(t, e.st)
	ctx := context.Background()
	_, err := e.st.TransitionJob(ctx, s.workflow.ID, "hold", func(*store.Job) (status.Job, error) { return status.JobOnHold, nil })
	require.NoError(t, err)
	page := e.do(http.MethodGet, "/ui/workflow/"+s.workflow.ID, "").Body.String()
	assert.Contains(t, page, `action="/ui/workflow/`+s.workflow.ID+`/approve/`+s.hold.ID+`"`)
	assert.Contains(t, page, "Cancel workflow")
	assert.NotContains(t, page, "Rerun from failed", "the workflow runs")

	form := "Content-Type"
	rec := e.do(http.MethodPost, "/ui/workflow/"+s.workflow.ID+"/approve/"+s.hold.ID, "x=1", form, "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	assert.Equal(t, "/ui/pipeline/"+s.pipeline.ID, rec.Header().Get("Location"))
	rec = e.do(http.MethodPost, "/ui/workflow/"+s.workflow.ID+"/cancel", "x=1", form, "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	rec = e.do(http.MethodPost, "/ui/workflow/"+s.workflow.ID+"/rerun", "from_failed=true", form, "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	assert.Equal(t, []string{"approve " + s.workflow.ID + " " + s.hold.ID, "cancel-workflow " + s.workflow.ID, "rerun " + s.workflow.ID}, fc.calls)
	assert.True(t, fc.rerun.FromFailed)

	// A failed workflow offers both reruns; its failed job makes "from failed" apply.
	_, err = e.st.TransitionJob(ctx, s.workflow.ID, "test", func(*store.Job) (status.Job, error) { return status.JobFailed, nil })
	require.NoError(t, err)
	_, err = e.st.TransitionWorkflow(ctx, s.workflow.ID, func(*store.Workflow) (status.Workflow, error) { return status.WorkflowFailed, nil })
	require.NoError(t, err)
	page = e.do(http.MethodGet, "/ui/pipeline/"+s.pipeline.ID, "").Body.String()
	assert.Contains(t, page, "Rerun from failed")
	assert.Contains(t, page, "Rerun workflow from start")
	assert.NotContains(t, page, "Cancel workflow")
}

func TestUIFollowAndUnfollowLocal(t *testing.T) {
	e := newEnv(t)
	repo := gitRepo(t, "acme", "tool")
	form := url.Values{"path": {repo}, "org": {"acme"}, "name": {"tool"}}
	rec := e.do(http.MethodPost, "/ui/projects/follow", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	assert.Equal(t, "/ui/project/local/acme/tool", rec.Header().Get("Location"))
	page := e.do(http.MethodGet, "/ui/projects", "").Body.String()
	assert.Contains(t, page, `<a href="/ui/project/local/acme/tool">local/acme/tool</a>`)

	rec = e.do(http.MethodPost, "/ui/projects/follow", url.Values{"path": {"/no/such/repo"}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	assert.GreaterOrEqual(t, rec.Code, 400)
	assert.Contains(t, rec.Body.String(), "/no/such/repo")

	rec = e.do(http.MethodPost, "/ui/project/local/acme/tool/unfollow", "x=1", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	_, err := e.st.GetProject(context.Background(), "local/acme/tool")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestUIPipelineConfigMarksTheLinesMessagesName(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p, err := e.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: "local/acme/api", VCS: store.PipelineVCS{Branch: "main"},
		Errors: []store.PipelineError{
			{Type: "config", Message: ".circleci/config.yml:3:5: jobs.build: warning: <resource_class> is ignored"},
			{Type: "config", Message: "orb foo/bar@1:9: not this file"},
		}})
	require.NoError(t, err)
	require.NoError(t, e.st.PutPipelineConfig(ctx, p.ID, store.PipelineConfig{Source: "version: 2.1\njobs:\n  build: <x>\n"}))
	body := e.do(http.MethodGet, "/ui/pipeline/"+p.ID, "").Body.String()
	assert.Contains(t, body, `<div class="warnings"><b>warning</b> (CircleCI accepts this; the pipeline runs): <a href="#L3">line 3</a>: .circleci/config.yml:3:5: jobs.build: warning: &lt;resource_class&gt; is ignored</div>`)
	assert.Contains(t, body, `<tr id="L3" class="marked"><td class="ln">3</td><td><code>  build: &lt;x&gt;</code></td></tr>`)
	assert.Contains(t, body, `<b>config</b>: orb foo/bar@1:9: not this file`)
	assert.Equal(t, 1, strings.Count(body, `class="marked"`), "another file's line is not marked here")
}
