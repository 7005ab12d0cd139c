package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/notify/smtptest"
)

const notifyE2EConfig = `version: 2.1
jobs:
  test:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - run: test "$(cat outcome)" = pass
workflows:
  ci:
    jobs: [test]
`

// TestE2EFailedAndFixedMails runs a failing workflow and then its fix on
// the real Nomad agent through orbit up, which mails the local admin who triggered it
// through the test SMTP server: one "Failed" mail, one "Fixed" mail, no
// secret in them.
func TestE2EFailedAndFixedMails(t *testing.T) {
	const secret = "mail-secret-77c1e0"
	srv := smtptest.New(t)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": notifyE2EConfig, "outcome": "fail\n"})
	p := startOrbit(t, t.TempDir(), freeAddr(t), "ORBIT_SMTP_ADDR="+srv.Addr, "ORBIT_MAIL_FROM=ci@orbit.test",
		"ORBIT_AUDIT_FLUSH_INTERVAL=200ms")
	slug := p.follow(repo, "acme", "mailed")
	p.cliStdin(secret, "project", "env", "set", slug, "TOKEN")
	require.Equal(t, 200, p.do("PUT", "/api/v2/notifications/user/admin", map[string]any{"email": "dev@orbit.test", "enabled": true}, nil))

	wf := p.waitWorkflowDone(p.trigger(slug, "main"), 2*time.Minute)
	require.Equal(t, "failed", wf.Status)
	waitFor(t, time.Minute, "the Failed mail", func() bool { return len(srv.Mails()) == 1 })

	commit(t, repo, map[string]string{"outcome": "pass\n"})
	wf = p.waitWorkflowDone(p.trigger(slug, "main"), 2*time.Minute)
	require.Equal(t, "success", wf.Status)
	waitFor(t, time.Minute, "the Fixed mail", func() bool { return len(srv.Mails()) == 2 })

	mails := srv.Mails()
	assert.Contains(t, mails[0].Data, "Subject: Failed: "+slug+" workflow ci on main")
	assert.Contains(t, mails[1].Data, "Subject: Fixed: "+slug+" workflow ci on main")
	for _, m := range mails {
		assert.Equal(t, []string{"dev@orbit.test"}, m.To)
		assert.Equal(t, "ci@orbit.test", m.From)
		assert.Contains(t, m.Data, p.url+"/ui/pipeline/")
		assert.False(t, strings.Contains(m.Data, secret), "no secret in a mail")
	}

	// A project turned off sends nothing more.
	require.Equal(t, 200, p.do("PUT", "/api/v2/project/"+slug+"/notifications", map[string]any{"enabled": false}, nil))
	commit(t, repo, map[string]string{"outcome": "fail\n"})
	wf = p.waitWorkflowDone(p.trigger(slug, "main"), 2*time.Minute)
	require.Equal(t, "failed", wf.Status)
	p.mustCLI("admin", "queue") // a round trip after the failure: the outbox loop ran meanwhile
	assert.Len(t, srv.Mails(), 2)
}
