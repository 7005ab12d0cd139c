package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv/browser"
)

// uiFlowConfig: build fails until the file the "marker" parameter names
// exists on the host (so a rerun from failed, at the same revision, can
// pass), prints the "greeting" parameter, and deploy waits for approval.
const uiFlowConfig = `version: 2.1
parameters:
  greeting: {type: string, default: hello}
  marker: {type: string, default: /nonexistent}
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: Greet
          command: echo "greeting << pipeline.parameters.greeting >>" && test -f "<< pipeline.parameters.marker >>"
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo deploying
workflows:
  main:
    jobs:
      - build
      - hold: {type: approval, requires: [build]}
      - deploy: {requires: [hold]}
`

// TestUIPipelineFlow: a user follows a repository from the projects page,
// triggers a pipeline with parameters from the project page, sees the build
// fail, reruns from failed once the cause is fixed, approves the hold and
// sees deploy run — all by clicking, each page checked by axe-core.
func TestUIPipelineFlow(t *testing.T) {
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	repo := gitRepo(t, map[string]string{".circleci/config.yml": uiFlowConfig})
	marker := filepath.Join(t.TempDir(), "pass")
	b := signInBrowser(t, p)

	// Follow.
	b.Open(p.url+"/ui/projects", "#fl-path")
	b.Axe("the projects page")
	b.Do("follow the repository",
		chromedp.SendKeys(chromedp.CSS("#fl-path"), repo),
		chromedp.SendKeys(chromedp.CSS("#fl-org"), "acme"),
		chromedp.SendKeys(chromedp.CSS("#fl-name"), "uiflow"),
		chromedp.Click(chromedp.CSS(`form[action="/ui/projects/follow"] button`)),
		chromedp.WaitVisible(chromedp.CSS("form.trigger")))
	const slug = "local/acme/uiflow"
	assert.Contains(t, b.Text("main h1"), slug)
	assert.Contains(t, b.Text(".notice"), "Following "+slug)
	b.Axe("the project page")
	b.Screenshot("project")

	// Trigger with parameters (free rows: no pipeline has read the config yet).
	b.Do("trigger with parameters",
		chromedp.SendKeys(chromedp.CSS("#x-name-1"), "greeting"),
		chromedp.SendKeys(chromedp.CSS("#x-value-1"), "bonjour-from-the-ui"),
		chromedp.SendKeys(chromedp.CSS("#x-name-2"), "marker"),
		chromedp.SendKeys(chromedp.CSS("#x-value-2"), marker),
		chromedp.Click(chromedp.CSS(`form.trigger button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#config")))
	loc := b.Location()
	require.Contains(t, loc, "/ui/pipeline/")
	pid := loc[strings.LastIndex(loc, "/")+1:]
	wf := p.waitWorkflowDone(pid, 3*time.Minute)
	require.Equal(t, "failed", wf.Status)
	build := p.jobs(wf.ID)["build"]
	assert.Contains(t, p.stepOutput(slug, build.JobNumber, "Greet", 0), "greeting bonjour-from-the-ui", "the pipeline ran with the parameter")

	// The page follows the run live: it shows the failure without a reload.
	b.WaitText("#workflows", "Rerun from failed", time.Minute)
	assert.Equal(t, 3, b.Count("#workflows svg.dag .dag-node"), "build, hold, deploy")
	assert.Equal(t, 1, b.Count("#workflows svg.dag .dag-node.s-bad"))
	b.Axe("the pipeline page")
	b.Screenshot("pipeline")

	// Fix the cause, rerun from failed, approve, deploy runs.
	require.NoError(t, os.WriteFile(marker, []byte("ok"), 0o644))
	clickNow(t, b, `form[action$="/rerun"] input[name=from_failed] ~ button`)
	b.WaitText(".notice", "rerun from failed", 30*time.Second)
	b.WaitText("#workflows", "Approve hold", 3*time.Minute)
	b.Axe("the pipeline page with a hold")
	clickNow(t, b, `form[action*="/approve/"] button`)
	b.WaitText(".notice", "Approved", 30*time.Second)
	waitFor(t, 3*time.Minute, "deploy of the rerun to succeed", func() bool {
		for _, w := range p.workflows(pid) {
			if w.ID != wf.ID && p.jobs(w.ID)["deploy"].Status == "success" {
				return true
			}
		}
		return false
	})
	b.WaitText("#workflows", "success", time.Minute)

	// The workflow page and the dashboard show the same run.
	var rerun string
	for _, w := range p.workflows(pid) {
		if w.ID != wf.ID {
			rerun = w.ID
		}
	}
	b.Open(p.url+"/ui/workflow/"+rerun, "svg.dag")
	assert.Equal(t, 3, b.Count("svg.dag .dag-node.s-ok"), "build, hold and deploy succeeded")
	b.Axe("the workflow page")
	b.Open(p.url+"/?project="+slug, "table.pipes")
	assert.Contains(t, b.Text("table.pipes"), "admin", "the trigger's actor")
	b.Axe("the dashboard with a filter")
	b.Screenshot("dashboard")
}

// clickNow clicks the button sel in one script turn: a live region swapped
// between a mouse press and its release (the page refreshes its workflows
// every 2 s while they run) would swallow a mouse click.
func clickNow(t *testing.T, b *browser.Browser, sel string) {
	t.Helper()
	ok := browser.Get(b, "click "+sel, chromedp.Evaluate[bool](
		`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); if (!e) return false; e.click(); return true })()`))
	require.True(t, ok, "no %s on the page", sel)
}

// TestUIQueuedJobSaysWhy: a job asks for a GPU resource class, which no
// client of the test's Nomad agent offers; the pipeline page says so while
// the job waits.
func TestUIQueuedJobSaysWhy(t *testing.T) {
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	repo := gitRepo(t, map[string]string{".circleci/config.yml": unplaceableConfig})
	slug := p.follow(repo, "acme", "uiwait")
	pid := p.trigger(slug, "main")
	b := signInBrowser(t, p)
	b.Open(p.url+"/ui/pipeline/"+pid, "main h1")
	b.WaitText("#workflows .waiting", "no client offers resource class gpu.nvidia.small", 2*time.Minute)
	assert.Contains(t, b.Text("#workflows"), "queued")
	b.Axe("the pipeline page of a waiting job")
	wf := p.firstWorkflow(pid)
	require.Equal(t, 202, p.do("POST", "/api/v2/workflow/"+wf+"/cancel", nil, nil))
}
