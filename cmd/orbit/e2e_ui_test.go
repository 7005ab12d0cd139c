package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestUISignInAndDashboard: the local admin signs in with the link orbit up
// printed and sees the followed project's pipeline on the dashboard,
// which updates itself until the pipeline is done.
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
	slug := p.follow(repo, "acme", "dash")
	pid := p.trigger(slug, "main")
	b := signInBrowser(t, p)
	b.Open(p.url+"/", "main h1")
	assert.Contains(t, b.Text("main"), slug)
	p.waitWorkflowDone(pid, 2*time.Minute)
	b.WaitText("main", "success", 90*time.Second)
	b.Axe("the dashboard")
	b.Screenshot("dashboard")
}
