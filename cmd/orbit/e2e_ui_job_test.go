package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv/browser"
)

// uiJobConfig: "live" prints a green line, waits for the test to open a
// gate (a file: the embedded shape runs jobs on the host), prints a second
// line ($CIRCLE_BUILD_NUM tells the runs apart); "tests" stores JUnit results with one failure among passes and an
// HTML artifact.
const uiJobConfig = `version: 2.1
jobs:
  live:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: Two lines
          command: |
            printf '\033[32mline 1\033[0m of the live step\n'
            i=0; while [ ! -f "%[1]s/gate-$CIRCLE_BUILD_NUM" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
            echo "line 2 of the live step"
  tests:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: Test
          command: |
            mkdir -p results
            cat > results/junit.xml <<'XML'
            <testsuite name="unit">
              <testcase name="TestFirstPasses" classname="unit" time="0.1"/>
              <testcase name="TestBreaks" classname="unit" time="0.2"><failure message="want 1, got 2">b_test.go:12</failure></testcase>
              <testcase name="TestLastPasses" classname="unit" time="0.3"/>
            </testsuite>
            XML
            echo '<h1 id="pwned">not rendered</h1><script>alert(1)</script>' > report.html
      - store_test_results: {path: results}
      - store_artifacts: {path: report.html}
workflows:
  main:
    jobs: [live, tests]
`

// TestUIJobPage: the job page follows a running step's output line by
// line without a reload (through the event stream), shows ANSI colour as
// a coloured span, lists the failing test first and opens an artifact as
// plain text, never as HTML.
func TestUIJobPage(t *testing.T) {
	gates := t.TempDir()
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	repo := gitRepo(t, map[string]string{".circleci/config.yml": fmt.Sprintf(uiJobConfig, gates)})
	slug := p.follow(repo, "acme", "jobpage")
	pid := p.trigger(slug, "main")
	live, tests := uiJobNumbers(t, p, pid)
	b := signInBrowser(t, p)
	watchLive(t, p, b, slug, live, gates)
	assert.Equal(t, 1, b.Count(`#job-steps .job-run[data-via="events"]`), "line 2 came by the event stream")
	b.WaitText("#job-status", "success", 2*time.Minute)
	b.WaitText("#job-steps summary", "success", 30*time.Second)

	// Search narrows the output to matching lines.
	b.Do("search", chromedp.SendKeys(chromedp.CSS("#job-search"), "line 2"))
	b.WaitText("#job-search-count", "1 matching line", 10*time.Second)
	b.Do("clear the search", chromedp.Evaluate[chromedp.Void](
		`(() => { const s = document.getElementById("job-search"); s.value = ""; s.dispatchEvent(new Event("input")) })()`))
	assert.Equal(t, "", browser.Get(b, "read the count", chromedp.Evaluate[string](`document.getElementById("job-search-count").textContent`)))
	b.Axe("the job page")
	b.Screenshot("job")

	// The tests job: the failure first, with its message; the artifact.
	p.waitWorkflowDone(pid, 3*time.Minute)
	b.Open(fmt.Sprintf("%s/ui/project/%s/job/%d", p.url, slug, tests.JobNumber), "#job-tests")
	b.WaitText("#job-tests", "TestBreaks", 30*time.Second)
	first := b.Text("#job-tests li.job-test")
	assert.Contains(t, first, "TestBreaks")
	assert.Contains(t, first, "want 1, got 2")
	assert.Contains(t, b.Text("#job-tests"), "1 failed")
	b.Axe("the job page with tests")

	href := browser.Get(b, "read the artifact link", chromedp.Evaluate[string](`document.querySelector("#job-artifacts a").getAttribute("href")`))
	require.True(t, strings.HasSuffix(href, "/report.html"), href)
	b.Do("open the artifact", chromedp.Navigate(p.url+href))
	ct := browser.Get(b, "read its content type", chromedp.Evaluate[string](`document.contentType`))
	assert.Equal(t, "text/plain", ct, "an HTML artifact is served as text")
	assert.Equal(t, 0, b.Count("#pwned"), "its markup is not rendered")

	// Where the event stream cannot be had, the page polls the output
	// endpoint: the same scenario in a browser without EventSource.
	b.Do("take EventSource away", chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: "delete window.EventSource"})
		return chromedp.Void{}, err
	}))
	pid = p.trigger(slug, "main")
	live, _ = uiJobNumbers(t, p, pid)
	watchLive(t, p, b, slug, live, gates)
	assert.Equal(t, 1, b.Count(`#job-steps .job-run[data-via="poll"]`), "line 2 came by polling the output endpoint")
}

// uiJobNumbers waits until the pipeline's jobs live and tests have numbers.
func uiJobNumbers(t *testing.T, p *orbitProc, pid string) (live, tests e2eJob) {
	waitFor(t, 2*time.Minute, "both jobs numbered", func() bool {
		wfs := p.workflows(pid)
		if len(wfs) != 1 {
			return false
		}
		jobs := p.jobs(wfs[0].ID)
		live, tests = jobs["live"], jobs["tests"]
		return live.JobNumber > 0 && tests.JobNumber > 0
	})
	return live, tests
}

// watchLive opens the live job's page: line 1 shows, coloured, while line
// 2 does not exist yet; the gate opens and line 2 arrives without a reload.
func watchLive(t *testing.T, p *orbitProc, b *browser.Browser, slug string, live e2eJob, gates string) {
	t.Helper()
	b.Open(fmt.Sprintf("%s/ui/project/%s/job/%d", p.url, slug, live.JobNumber), "#job-steps")
	b.Do("mark the page", chromedp.Evaluate[chromedp.Void](`window.orbitMark = "same page"`))
	b.WaitText("#job-steps", "line 1 of the live step", 2*time.Minute)
	out := browser.Get(b, "read the output", chromedp.Evaluate[string](`document.getElementById("job-steps").textContent`))
	assert.NotContains(t, out, "line 2", "the step has not printed line 2 yet")
	green := browser.Get(b, "find the green span", chromedp.Evaluate[string](`(() => {
		const s = [...document.querySelectorAll("#job-steps .a-f2")].find(e => e.textContent.includes("line 1"));
		return s ? getComputedStyle(s).color : "" })()`))
	assert.Equal(t, "rgb(74, 222, 128)", green, "ANSI green is a coloured span")

	require.NoError(t, os.WriteFile(filepath.Join(gates, fmt.Sprintf("gate-%d", live.JobNumber)), nil, 0o644))
	b.WaitText("#job-steps", "line 2 of the live step", 2*time.Minute)
	assert.Equal(t, "same page", browser.Get(b, "read the mark", chromedp.Evaluate[string](`String(window.orbitMark)`)),
		"line 2 arrived without a reload")
}
