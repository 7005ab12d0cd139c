package main

import (
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv/browser"
)

// TestUISignInAndDashboard: the local admin signs in with the link orbit up
// printed and sees the followed project's pipeline on the dashboard,
// which updates itself until the pipeline is done, with its commit's
// subject and author.
func TestUISignInAndDashboard(t *testing.T) {
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	repo := gitRepo(t, map[string]string{".circleci/config.yml": `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo hello from the dashboard
workflows:
  main:
    jobs: [build]
`})
	// The head commit's subject has markup in it: the page shows it as text.
	const subject = "Make the <dashboard> shine"
	out, err := exec.Command("git", "-C", repo, "-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com",
		"commit", "-q", "--allow-empty", "-m", subject, "-m", "A body the dashboard does not show.").CombinedOutput()
	require.NoError(t, err, string(out))
	slug := p.follow(repo, "acme", "dash")
	pid := p.trigger(slug, "main")
	b := signInBrowser(t, p)
	b.Open(p.url+"/", "main h1")
	assert.Contains(t, b.Text("main"), slug)
	p.waitWorkflowDone(pid, 2*time.Minute)
	b.WaitText("main", "success", 90*time.Second)
	// The commit, read from the repository (localgit) while the pipeline
	// was set up, off the trigger's request path.
	b.WaitText("#pipelines .pipe-commit", subject, 30*time.Second)
	assert.Equal(t, subject+" by Ada Lovelace", b.Text("#pipelines .pipe-commit"))
	assert.Equal(t, subject, browser.Get(b, "read the subject's title", chromedp.Evaluate[string](
		`document.querySelector("#pipelines .commit-subject").title`)))
	assert.Zero(t, b.Count("dashboard"), "the subject's markup is text, not an element")
	b.Axe("the dashboard")
	b.Screenshot("dashboard")
}
