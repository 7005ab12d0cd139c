package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/orbit-ci/orbit/shared/testenv/browser"
)

// The browser scenarios (e2e_ui_*_test.go) drive a real headless Chromium
// (shared/testenv/browser) against a real `orbit up` and Nomad agent, as a
// user does: sign in with the link orbit up prints, click, type, watch.

var signInLinkRE = regexp.MustCompile(`/login/link\?code=(\S+)`)

// signInBrowser opens a browser signed in as the local admin, through the
// one-time link orbit up printed.
func signInBrowser(t *testing.T, p *orbitProc) *browser.Browser {
	t.Helper()
	var code string
	waitFor(t, 10*time.Second, "orbit up prints its sign-in link", func() bool {
		m := signInLinkRE.FindStringSubmatch(p.log.String())
		if m != nil {
			code = m[1]
		}
		return m != nil
	})
	b := browser.New(t)
	b.Open(p.url+"/login/link?code="+code, "header nav")
	return b
}

// unplaceableConfig runs one job, unplaceableJob, of a resource class no
// Nomad client of the test agent offers: it stays queued, saying why.
const (
	unplaceableJob    = "train"
	unplaceableConfig = `version: 2.1
jobs:
  train:
    docker: [{image: cimg/base:stable}]
    resource_class: gpu.nvidia.small
    steps:
      - run: echo never placed
workflows:
  main:
    jobs: [train]
`
)
