package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv/browser"
)

// TestUIAdmin: on orbit up with LDAP sign-in against the real slapd, alice
// signs in through the sign-in form in her own browser; the local admin
// suspends her on the Users page, and her next page load is refused (back
// to the sign-in page, which says why). The admin tests the LDAP settings,
// finds the suspension in the audit log, drains the Nomad node and puts it
// back, and cancels a job queued for a resource class no client has. Every
// admin page passes axe-core.
func TestUIAdmin(t *testing.T) {
	p := startOrbit(t, t.TempDir(), freeAddr(t), ldapEnv(t)...)
	admin := signInBrowser(t, p)

	alice := browser.New(t)
	alice.Open(p.url+"/login", `input[name="username"]`)
	alice.Do("sign in as alice with LDAP",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "alice-pw"),
		chromedp.Click(chromedp.CSS(`form[action="/login/password"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("header nav")))
	assert.Contains(t, alice.Text("header"), "alice")

	admin.Open(p.url+"/ui/admin", "#admin-active")
	assert.Equal(t, "2", admin.Text("#admin-active"), "the local admin and alice")
	assert.Equal(t, "2", admin.Text("#admin-licensed"))
	admin.Axe("the admin overview")

	admin.Open(p.url+"/ui/admin/users", `tr[data-login="alice"]`)
	admin.Axe("the admin users page")
	admin.Screenshot("admin-users")
	admin.Do("suspend alice", chromedp.Click(chromedp.CSS(`button[aria-label="Suspend alice"]`)))
	admin.WaitText(".notice", "alice is suspended", 30*time.Second)
	assert.Equal(t, 0, admin.Count(`tr[data-login="alice"]`), "no longer in the Active window")
	admin.Open(p.url+"/ui/admin/users?state=suspended", `tr[data-login="alice"]`)
	admin.Axe("the suspended users")

	// alice's next page load: the sign-in page, saying why.
	alice.Open(p.url+"/", ".errors")
	assert.Contains(t, alice.Text(".errors"), "suspended")
	assert.Contains(t, alice.Location(), "/login")

	admin.Open(p.url+"/ui/admin/settings", "#ldap-test")
	assert.Contains(t, admin.Text("#ldap"), "ou=people,dc=orbit,dc=test")
	admin.Axe("the admin settings page")
	admin.Screenshot("admin-settings")
	admin.Do("test the LDAP settings", chromedp.Click(chromedp.CSS("#ldap-test")))
	admin.WaitText(".notice", "LDAP test passed", 30*time.Second)

	admin.Open(p.url+"/ui/admin/audit?action=user.suspended", "#audit-title")
	admin.WaitText("#audit-events", "alice", 5*time.Second)
	admin.Axe("the audit log")
	admin.Open(p.url+"/ui/admin/usage", "#usage-accounts")
	admin.Axe("the usage statistics")
	admin.Open(p.url+"/ui/admin/health", "#health-checks")
	assert.Contains(t, admin.Text("#health-checks"), "nomad")
	admin.Axe("the health page")

	admin.Open(p.url+"/ui/admin/nodes", ".node")
	require.Equal(t, 1, admin.Count(".node"), "the dev agent's one client")
	assert.Equal(t, 0, admin.Count("[data-drain]"))
	admin.Axe("the nodes page")
	admin.Screenshot("admin-nodes")
	admin.Do("drain the node", chromedp.Click(chromedp.CSS(`button[aria-label^="Drain "]`)))
	admin.WaitText(".notice", "is draining", 30*time.Second)
	assert.Equal(t, 1, admin.Count("[data-drain]"))
	assert.Equal(t, "ineligible", admin.Text("[data-eligibility]"))
	admin.Axe("a draining node")
	admin.Do("undrain the node", chromedp.Click(chromedp.CSS(`button[aria-label^="Undrain "]`)))
	admin.WaitText(".notice", "no longer draining", 30*time.Second)
	assert.Equal(t, 0, admin.Count("[data-drain]"))
	assert.Equal(t, "eligible", admin.Text("[data-eligibility]"))

	// A job for a GPU class no client has stays queued; the admin cancels it.
	repo := gitRepo(t, map[string]string{".circleci/config.yml": unplaceableConfig})
	slug := p.follow(repo, "acme", "gpu")
	pid := p.trigger(slug, "main")
	var wid string
	waitFor(t, time.Minute, "the GPU job to be queued", func() bool {
		wfs := p.workflows(pid)
		if len(wfs) == 1 && p.jobs(wfs[0].ID)[unplaceableJob].Status == "queued" {
			wid = wfs[0].ID
		}
		return wid != ""
	})
	admin.Open(p.url+"/ui/admin/queues", "#queued-jobs")
	assert.Contains(t, admin.Text("#queue-classes"), "gpu.nvidia.small")
	admin.Axe("the queues page")
	admin.Do("select the queued job and cancel it",
		chromedp.Click(chromedp.CSS(`#queued-jobs input[name="job"]`)),
		chromedp.Click(chromedp.CSS(`#cancel-selected button[type="submit"]`)))
	admin.WaitText(".notice", "Canceled 1 queued job", 30*time.Second)
	waitFor(t, time.Minute, "the GPU job to be canceled", func() bool {
		return p.jobs(wid)[unplaceableJob].Status == "canceled"
	})
	assert.True(t, strings.Contains(admin.Text("main"), "No job is queued") || admin.Count(`#queued-jobs input[name="job"]`) == 0)
}
