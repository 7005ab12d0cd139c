package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv/browser"
)

// uisetChartsConfig's job fails when the pipeline parameter fail is true.
const uisetChartsConfig = `version: 2.1
parameters:
  fail: {type: boolean, default: false}
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo building
      - run: test "<< pipeline.parameters.fail >>" = "false"
workflows:
  main:
    jobs: [build]
`

// TestUISettingsPages: on one orbit up, the pages of issue 13's "uiset"
// part in a real Chromium: three pipelines (one failing) run meanwhile
// for the Insights charts; the admin adds a project variable through the
// settings form and sees it masked (the value is never in the page),
// creates a context with a variable, creates an API token on the account
// page and uses it, reads the charts, and signs out to the sign-in page,
// which shows the login banner the admin API set and the local admin's
// one-time link.
func TestUISettingsPages(t *testing.T) {
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(gitRepo(t, map[string]string{".circleci/config.yml": uisetChartsConfig}), "acme", "charts")
	var pids []string
	for _, fail := range []bool{false, true, false} {
		var pl struct {
			ID      string `json:"id"`
			Message string `json:"message"`
		}
		code := p.do("POST", "/api/v2/project/"+slug+"/pipeline", map[string]any{"branch": "main", "parameters": map[string]any{"fail": fail}}, &pl)
		require.Equal(t, http.StatusCreated, code, pl.Message)
		pids = append(pids, pl.ID)
	}
	const banner = "Maintenance window: Friday 18:00 UTC"
	require.Equal(t, http.StatusOK, p.do("PUT", "/api/v2/admin/settings", map[string]any{"login_banner": banner}, nil))

	b := signInBrowser(t, p)

	// Project settings: add a variable; only its mask is ever in the page.
	const secret = "s3cr3t-value-never-shown-Q9ZK"
	b.Open(p.url+"/ui/project/"+slug+"/settings", "#set-var-form")
	b.Do("add a project variable",
		chromedp.SendKeys(chromedp.CSS("#set-var-name"), "DEPLOY_TOKEN"),
		chromedp.SendKeys(chromedp.CSS("#set-var-value"), secret),
		chromedp.Click(chromedp.CSS("#set-var-form button[type=submit]")))
	b.WaitText(".notice", "Variable DEPLOY_TOKEN saved.", 30*time.Second)
	assert.Contains(t, b.Text("#set-vars-h + table"), "xxxxQ9ZK")
	assert.NotContains(t, pageHTML(b), secret[:8], "the value is never in the page")
	b.Axe("project settings")
	b.Screenshot("settings")

	// Contexts: create one and give it a variable.
	b.Open(p.url+"/ui/contexts", "#ctx-create")
	b.Do("create a context",
		chromedp.SendKeys(chromedp.CSS("#ctx-name"), "production"),
		chromedp.Click(chromedp.CSS("#ctx-create button[type=submit]")))
	b.WaitText("main h1", "Context production", 30*time.Second)
	b.Do("add a context variable",
		chromedp.SendKeys(chromedp.CSS("#ctx-var-name"), "AWS_SECRET"),
		chromedp.SendKeys(chromedp.CSS("#ctx-var-value"), secret),
		chromedp.Click(chromedp.CSS("#ctx-var-form button[type=submit]")))
	b.WaitText(".notice", "Variable AWS_SECRET saved.", 30*time.Second)
	assert.Contains(t, b.Text("#ctx-vars-h + table"), "xxxxQ9ZK")
	assert.NotContains(t, pageHTML(b), secret[:8])
	b.Axe("a context")
	b.Open(p.url+"/ui/contexts", "#ctx-create")
	assert.Contains(t, b.Text("main"), "production")
	b.Axe("contexts")
	b.Screenshot("contexts")

	// Account: a token shown once, which works.
	b.Open(p.url+"/ui/account", "#acc-token-form")
	b.Do("create a token",
		chromedp.SendKeys(chromedp.CSS("#acc-token-label"), "from the browser"),
		chromedp.Click(chromedp.CSS("#acc-token-form button[type=submit]")))
	b.WaitText(".token-once", "not shown again", 30*time.Second)
	token := browser.Get(b, "read the new token", chromedp.Value(chromedp.CSS("#acc-new-token")))
	require.NotEmpty(t, token)
	req, err := http.NewRequest(http.MethodGet, p.url+"/api/v2/me", nil)
	require.NoError(t, err)
	req.Header.Set("Circle-Token", token)
	resp, err := (&http.Client{}).Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the new token authenticates")
	b.Axe("the account page")
	b.Open(p.url+"/ui/account", "#acc-token-form")
	assert.Contains(t, b.Text("#acc-tok-h + table"), "from the browser")
	assert.NotContains(t, pageHTML(b), token, "shown once only")

	// Insights: the three runs drawn, one failed.
	for _, pid := range pids {
		p.waitWorkflowDone(pid, 3*time.Minute)
	}
	wfURL := p.url + "/ui/insights/" + slug + "/workflows/main?window=last-24-hours"
	waitFor(t, 30*time.Second, "insights to count the three runs", func() bool {
		b.Open(wfURL, "#fig-runs")
		return b.Text("#fig-runs") == "3"
	})
	assert.Equal(t, 3, b.Count(`svg[aria-labelledby^="ins-runs-title"] g.bar`), "a bar per run")
	assert.Equal(t, "66.7%", b.Text("#fig-wf-success"), "2 of 3 runs succeeded")
	assert.Equal(t, "66.7%", b.Text("#fig-success-rate"), "2 of 3 builds succeeded")
	assert.Equal(t, "3", b.Text("#fig-builds"))
	bars := barTitles(b, "ins-runs")
	failed := 0
	for _, bar := range bars {
		if strings.Contains(bar, " failed ") {
			failed++
		}
	}
	assert.Equal(t, 1, failed, "one failed run among %q", bars)
	b.Axe("workflow insights")
	b.Open(p.url+"/ui/insights/"+slug+"?window=last-24-hours", "#fig-builds")
	assert.Equal(t, "3", b.Text("#fig-runs"))
	// Per hour: as many success-rate points as throughput bars (hours with
	// runs; the runs may straddle an hour), and those bars count 3 runs.
	hours := barTitles(b, "ins-throughput")
	assert.Equal(t, len(hours), b.Count(`svg[aria-labelledby^="ins-success-title"] circle`))
	total := 0
	for _, h := range hours {
		var n int
		_, err := fmt.Sscanf(h[strings.LastIndex(h, ": ")+2:], "%d", &n)
		require.NoError(t, err, h)
		total += n
	}
	assert.Equal(t, 3, total, "throughput bars %q", hours)
	for _, sel := range []string{"ins-duration", "ins-success", "ins-queue", "ins-throughput"} {
		assert.Equal(t, 1, b.Count(`svg[role="img"][aria-labelledby^="`+sel+`-title"]`), sel)
	}
	assert.Equal(t, 0, b.Count("svg [style], svg[style]"), "no inline style (CSP)")
	b.Axe("project insights")
	b.Screenshot("insights")
	b.Open(p.url+"/ui/insights", "main table")
	assert.Contains(t, b.Text("main table"), slug)
	b.Axe("insights")

	// Sign out: the sign-in page with the banner and the local admin's way in.
	b.Do("sign out", chromedp.Click(chromedp.CSS("header .account button")))
	b.WaitText("main", banner, 30*time.Second)
	assert.Contains(t, b.Text(".signin-local"), "orbit admin signin-link")
	assert.Equal(t, 0, b.Count("header nav"), "signed out")
	b.Axe("sign-in")
	b.Screenshot("login")
}

// pageHTML is the whole document as the browser has it.
func pageHTML(b *browser.Browser) string {
	return browser.Get(b, "read the page", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// barTitles are the tooltips of a chart's bars ("label: value").
func barTitles(b *browser.Browser, chart string) []string {
	return browser.Get(b, "read the bars of "+chart, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('svg[aria-labelledby^="`+chart+`-title"] g.bar > title')).map(e => e.textContent)`))
}
