package main

import (
	"encoding/csv"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
	"github.com/orbit-ci/orbit/shared/testenv"
)

const auditE2EConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo built
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo deployed
workflows:
  release:
    jobs:
      - build:
          context: [cloud]
      - hold:
          type: approval
          requires: [build]
      - deploy:
          requires: [hold]
`

// TestE2EAuditLog drives every audited action Orbit has a route for
// through a real orbit up on the real Nomad agent, then reads the hourly
// files in the blob directory (with the dirblob driver, as the process
// wrote them) and the CLI's CSV download: every action is there, each id
// once, and no secret value.
func TestE2EAuditLog(t *testing.T) {
	const secret = "audit-secret-5e1f9c"
	repo := gitRepo(t, map[string]string{".circleci/config.yml": auditE2EConfig})
	dataDir := t.TempDir()
	p := startOrbit(t, dataDir, freeAddr(t), append(ldapEnv(t), "ORBIT_AUDIT_FLUSH_INTERVAL=200ms")...)
	slug := p.follow(repo, "acme", "audited")

	// alice signs in through the real slapd (user.create, user.logged_in),
	// logs out (user.logged_out), and an admin suspends her (user.suspended).
	alice := ldapSignIn(t, p, "alice", "alice-pw")
	var me struct{ Login string }
	require.Equal(t, 200, callJSON(t, alice, "GET", p.url+"/api/v2/me", nil, &me))
	assert.Equal(t, "alice", me.Login)
	logout, err := http.NewRequest("POST", p.url+"/logout", nil)
	require.NoError(t, err)
	logout.Header.Set("X-CSRF-Token", cookieValue(t, alice, p.url, "orbit_csrf"))
	resp, err := alice.Do(logout)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, 401, callJSON(t, alice, "GET", p.url+"/api/v2/me", nil, nil), "signed out")
	p.mustCLI("admin", "users", "suspend", "alice")
	users, err := p.cli("admin", "users")
	require.NoError(t, err, users)
	assert.Regexp(t, `alice\s+ldap\s+-\s+true`, users)
	assert.Contains(t, users, "suspended 1")
	require.Equal(t, 200, p.do("PUT", "/api/v2/project/"+slug+"/notifications", map[string]any{"enabled": true}, nil))
	// Stop building: triggers are refused until it builds again.
	require.Equal(t, 200, p.do("POST", "/api/v2/project/"+slug+"/stop-building", nil, nil))
	var refused struct{ Message string }
	require.Equal(t, 400, p.do("POST", "/api/v2/project/"+slug+"/pipeline", map[string]string{"branch": "main"}, &refused))
	assert.Contains(t, refused.Message, "stopped building")
	require.Equal(t, 200, p.do("POST", "/api/v2/project/"+slug+"/start-building", nil, nil))

	p.cliStdin(secret, "project", "env", "set", slug, "DEPLOY_TOKEN")
	p.cliStdin(secret, "project", "env", "set", slug, "OLD")
	require.Equal(t, 200, p.do("DELETE", "/api/v2/project/"+slug+"/envvar/OLD", nil, nil))
	p.cliStdin("", "context", "create", "local/acme", "cloud")
	p.cliStdin(secret, "context", "env", "set", "local/acme", "cloud", "CLOUD_KEY")
	p.cliStdin(secret, "context", "env", "set", "local/acme", "cloud", "GONE")
	var tmp struct{ ID string }
	require.Equal(t, 200, p.do("POST", "/api/v2/context", map[string]any{"name": "tmp", "owner": map[string]string{"slug": "local/acme"}}, &tmp))
	require.Equal(t, 200, p.do("DELETE", "/api/v2/context/"+tmp.ID, nil, nil))
	var cs struct{ Items []struct{ ID, Name string } }
	require.Equal(t, 200, p.do("GET", "/api/v2/context?owner-slug=local/acme", nil, &cs))
	require.Len(t, cs.Items, 1)
	require.Equal(t, 200, p.do("DELETE", "/api/v2/context/"+cs.Items[0].ID+"/environment-variable/GONE", nil, nil))

	pid := p.trigger(slug, "main")
	wid := p.firstWorkflow(pid)
	p.waitWorkflowStatus(wid, "on_hold", 2*time.Minute)
	var page struct {
		Items []struct {
			Name              string `json:"name"`
			ApprovalRequestID string `json:"approval_request_id"`
		}
	}
	require.Equal(t, 200, p.do("GET", "/api/v2/workflow/"+wid+"/job", nil, &page))
	for _, j := range page.Items {
		if j.Name == "hold" {
			require.Equal(t, 202, p.do("POST", "/api/v2/workflow/"+wid+"/approve/"+j.ApprovalRequestID, nil, nil))
		}
	}
	p.waitWorkflowStatus(wid, "success", 2*time.Minute)
	jobs := p.jobs(wid)
	var rerun struct {
		WorkflowID string `json:"workflow_id"`
	}
	require.Equal(t, 202, p.do("POST", "/api/v2/workflow/"+wid+"/rerun", map[string]any{}, &rerun))
	p.waitWorkflowStatus(rerun.WorkflowID, "on_hold", 2*time.Minute)

	// The REPL tasks, each audited: the rerun's deploy job has no number
	// (blocked), build has: delete the first run's deploy record.
	p.mustCLI("admin", "queue")
	p.mustCLI("admin", "cancel-queued", "--count", "100")
	p.mustCLI("admin", "delete-build", p.url+"/"+slug+"/"+strconv.FormatInt(jobs["deploy"].JobNumber, 10))
	assert.Equal(t, 404, p.do("GET", "/api/v2/project/"+slug+"/job/"+strconv.FormatInt(jobs["deploy"].JobNumber, 10), nil, nil), "the record is gone")

	want := []string{audit.UserCreate, audit.UserLoggedIn, audit.UserLoggedOut, audit.UserSuspended, audit.ProjectSettingsUpdate,
		audit.ProjectStopBuilding,
		audit.ProjectAdd, audit.ProjectFollow, audit.ProjectEnvVarCreate, audit.ProjectEnvVarDelete,
		audit.ContextCreate, audit.ContextDelete, audit.ContextEnvVarStore, audit.ContextEnvVarDelete,
		audit.WorkflowStart, audit.WorkflowRetry, audit.JobScheduled, audit.JobStart, audit.JobFinish,
		audit.JobApprove, audit.JobContextRequest, audit.AdminCancelQueued, audit.AdminDeleteBuild}
	var events []audit.Event
	waitFor(t, time.Minute, "every action in the audit files", func() bool {
		events = auditFileEvents(t, dataDir)
		got := map[string]bool{}
		for _, e := range events {
			got[e.Action] = true
		}
		for _, a := range want {
			if !got[a] {
				return false
			}
		}
		return true
	})
	ids := map[string]bool{}
	for _, e := range events {
		assert.False(t, ids[e.ID], "event id %s (%s) once", e.ID, e.Action)
		ids[e.ID] = true
		assert.NoError(t, e.Validate())
		if e.Action == audit.ContextCreate && e.Target.Name == "cloud" {
			assert.NotEmpty(t, e.Request.ID, "an API action carries its request")
			assert.Equal(t, "127.0.0.1", e.Request.IPAddress)
		}
	}

	// The CSV download through the CLI.
	csvPath := filepath.Join(t.TempDir(), "audit.csv")
	p.mustCLI("admin", "audit", "-o", csvPath)
	raw, err := os.ReadFile(csvPath)
	require.NoError(t, err)
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), len(want))
	assert.Equal(t, audit.CSVColumns, rows[0])
	everything := string(raw) + p.log.String()
	assert.NotContains(t, everything, secret, "no variable value in the audit log")
	for _, a := range want {
		assert.Contains(t, string(raw), ","+a+",")
	}
}

// mustCLI runs a CLI command that must succeed.
func (p *orbitProc) mustCLI(args ...string) {
	p.t.Helper()
	out, err := p.cli(args...)
	require.NoError(p.t, err, out)
}

// ldapEnv configures orbit up for LDAP sign-in through the slapd make
// test starts (StartTLS, its CA).
func ldapEnv(t *testing.T) []string {
	t.Helper()
	const why = "make test starts slapd (scripts/ldap/slapd.sh)"
	return []string{"ORBIT_AUTH=ldap", "ORBIT_LDAP_URL=" + testenv.Need(t, "ORBIT_LDAP_URL", why), "ORBIT_LDAP_STARTTLS=true",
		"ORBIT_LDAP_CA_FILE=" + testenv.Need(t, "ORBIT_LDAP_CA", why),
		"ORBIT_LDAP_SEARCH_USER=" + testenv.Need(t, "ORBIT_LDAP_BIND_DN", why),
		"ORBIT_LDAP_SEARCH_PASSWORD=" + testenv.Need(t, "ORBIT_LDAP_BIND_PASSWORD", why),
		"ORBIT_LDAP_USER_SEARCH_DN=ou=people,dc=orbit,dc=test"}
}

// ldapSignIn signs a user in with the sign-in page's LDAP form and
// returns their browser (cookies kept, redirects not followed).
func ldapSignIn(t *testing.T, p *orbitProc, user, pass string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := (&recorded{}).client(jar, "")
	resp, err := c.PostForm(p.url+"/login/password", url.Values{"username": {user}, "password": {pass}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/", resp.Header.Get("Location"), "signed in")
	return c
}

func cookieValue(t *testing.T, c *http.Client, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	t.Fatalf("no cookie %s", name)
	return ""
}

// auditFileEvents reads every event of the hourly audit files orbit up on
// dataDir wrote (the dirblob driver, as the process wrote them).
func auditFileEvents(t *testing.T, dataDir string) []audit.Event {
	t.Helper()
	files, err := dirblob.New(dirblob.Config{Root: filepath.Join(dataDir, "blobs"), BaseURL: "http://unused/blob", Secret: make([]byte, 32)})
	require.NoError(t, err)
	page, err := files.List(t.Context(), audit.Prefix, "", 0)
	require.NoError(t, err)
	var events []audit.Event
	for _, o := range page.Objects {
		rc, _, err := files.Get(t.Context(), o.Key, nil)
		require.NoError(t, err)
		evs, err := audit.ReadLines(rc, o.Key)
		rc.Close()
		require.NoError(t, err)
		events = append(events, evs...)
	}
	return events
}
