package api_test

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	chromium "github.com/orbit-ci/orbit/shared/testenv/browser"
)

// TestUILiveRefreshKeepsFocus: in a real Chromium, a keyboard user on a
// link inside a live region (the pipeline page's workflows) keeps the
// focus on that link when a refresh replaces the region with new content
// (a job finished), instead of being thrown back to the page's top.
func TestUILiveRefreshKeepsFocus(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	code, err := e.acc.SignInLink(t.Context(), e.admin.ID, time.Hour)
	require.NoError(t, err)

	b := chromium.New(t)
	b.Open(srv.URL+"/login/link?code="+code, "header nav")
	b.Open(srv.URL+"/ui/pipeline/"+s.pipeline.ID, "#workflows a")
	link := `#workflows a[href="/ui/workflow/` + s.workflow.ID + `"]`
	b.Do("focus the workflow's link and mark the region before the refresh",
		chromedp.Focus(chromedp.CSS(link)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("workflows").dataset.before = "1"`))

	_, err = e.st.TransitionJob(t.Context(), s.workflow.ID, s.test.Name, func(*store.Job) (status.Job, error) {
		return status.JobFailed, nil
	})
	require.NoError(t, err)

	stop := time.Now().Add(30 * time.Second)
	for chromium.Get(b, "look for the refreshed region", chromedp.Evaluate[bool](`document.querySelector("#workflows[data-before]") !== null`)) {
		require.True(t, time.Now().Before(stop), "the live region was never refreshed")
		time.Sleep(100 * time.Millisecond)
	}
	assert.True(t, chromium.Get(b, "read the focus", chromedp.Evaluate[bool](
		`document.activeElement !== null && document.activeElement.matches(`+strconv.Quote(link)+`)`)),
		"the focus is on the same link in the new region")
	assert.Contains(t, b.Text("#workflows"), "failed", "the region shows the new state")
}
