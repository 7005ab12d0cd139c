package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// fakeNodes is a Nomad cluster for the admin nodes page: what it lists and
// the drains it was asked for.
type fakeNodes struct {
	mu    sync.Mutex
	nodes []api.Node
	calls []string
}

func (f *fakeNodes) Nodes(context.Context) ([]api.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Node(nil), f.nodes...), nil
}

func (f *fakeNodes) Drain(_ context.Context, id string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "drain "+id+map[bool]string{true: " force"}[force])
	for i := range f.nodes {
		if f.nodes[i].ID == id {
			f.nodes[i].Drain, f.nodes[i].Eligibility = true, "ineligible"
		}
	}
	return nil
}

func (f *fakeNodes) Undrain(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "undrain "+id)
	for i := range f.nodes {
		if f.nodes[i].ID == id {
			f.nodes[i].Drain, f.nodes[i].Eligibility = false, "eligible"
		}
	}
	return nil
}

// adminEnv is the API with everything the admin pages use: the audit log,
// the controls, a Nomad cluster of one node and a failing dependency.
type adminEnv struct {
	*env
	controls *fakeControls
	nodes    *fakeNodes
	audit    *audit.Recorder
}

func newAdminEnv(t *testing.T, opts ...func(*api.Config)) *adminEnv {
	t.Helper()
	a := &adminEnv{nodes: &fakeNodes{nodes: []api.Node{{ID: "node-1-id", Name: "client-1", Datacenter: "dc1", Status: "ready",
		Eligibility: "eligible", Allocs: []api.NodeAlloc{{ID: "alloc-123456789", JobID: "orbit-task-1", TaskID: "task-1"}}}}}}
	all := append([]func(*api.Config){withEverything(t), func(c *api.Config) {
		a.controls, a.audit = c.Controls.(*fakeControls), c.Audit
		c.Nodes = a.nodes
		c.Health = func(context.Context) map[string]error {
			return map[string]error{"store": nil, "nomad": errors.New("nomad: connection refused")}
		}
	}}, opts...)
	a.env = newEnv(t, all...)
	return a
}

// post sends a form from b with the session's CSRF token (unless the
// values carry their own csrf_token).
func (e *env) post(b *browser, path string, form url.Values) *http.Response {
	e.t.Helper()
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", e.acc.CSRFToken(b.cookies[api.SessionCookie]))
	}
	return b.do(http.MethodPost, path, form.Encode(), "Content-Type", "application/x-www-form-urlencoded").Result()
}

func (e *env) page(b *browser, path string) string {
	e.t.Helper()
	rec := b.do(http.MethodGet, path, "")
	require.Equal(e.t, http.StatusOK, rec.Code, rec.Body.String())
	return rec.Body.String()
}

func TestUIAdminRefusesOthers(t *testing.T) {
	e := newAdminEnv(t)
	bob := signInLink(t, e.env, localUser(t, e.env, "bob", "write"))
	for _, path := range []string{"/ui/admin", "/ui/admin/users", "/ui/admin/settings", "/ui/admin/audit", "/ui/admin/audit.csv",
		"/ui/admin/usage", "/ui/admin/queues", "/ui/admin/nodes", "/ui/admin/health"} {
		rec := bob.do(http.MethodGet, path, "")
		assert.Equal(t, http.StatusForbidden, rec.Code, path)
		assert.Contains(t, rec.Body.String(), "this needs an Orbit administrator", path)
		anon := newBrowser(t, e.h).do(http.MethodGet, path, "")
		assert.Equal(t, http.StatusSeeOther, anon.Code, path)
		assert.True(t, strings.HasPrefix(anon.Header().Get("Location"), "/login?next="), path)
	}
	resp := e.post(bob, "/ui/admin/users/admin/suspend", url.Values{})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a non-admin's form, CSRF token and all")
	resp = e.post(bob, "/ui/admin/nodes/node-1-id/drain", url.Values{})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	admin, err := e.acc.ByLogin(t.Context(), "admin")
	require.NoError(t, err)
	assert.False(t, admin.Suspended)
	assert.Empty(t, e.nodes.calls)
}

func TestUIAdminSuspendNeedsCSRFAndRefusesTheUser(t *testing.T) {
	e := newAdminEnv(t)
	bob := localUser(t, e.env, "bob", "write")
	bobs := signInLink(t, e.env, bob)
	admin := signInLink(t, e.env, e.admin)

	for _, tok := range []string{"", "forged"} {
		resp := e.post(admin, "/ui/admin/users/bob/suspend", url.Values{"csrf_token": {tok}, "state": {"active"}})
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "CSRF token %q", tok)
	}
	u, err := e.acc.ByLogin(t.Context(), "bob")
	require.NoError(t, err)
	require.False(t, u.Suspended, "a form without the token changes nothing")
	assert.Equal(t, http.StatusOK, bobs.do(http.MethodGet, "/", "").Code)

	resp := e.post(admin, "/ui/admin/users/bob/suspend", url.Values{"state": {"active"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/ui/admin/users?state=active", resp.Header.Get("Location"))
	body := e.page(admin, "/ui/admin/users?state=suspended")
	assert.Contains(t, body, "bob is suspended: their sessions and API tokens stopped working.")
	assert.Contains(t, body, `<tr data-login="bob">`)
	assert.Contains(t, body, `aria-label="Activate bob"`)

	// bob's next page load: back to the sign-in page, saying why.
	rec := bobs.do(http.MethodGet, "/", "")
	require.Equal(t, http.StatusSeeOther, rec.Code)
	loc, err := url.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/login", loc.Path)
	assert.Contains(t, loc.Query().Get("error"), "suspended")
	login := bobs.do(http.MethodGet, rec.Header().Get("Location"), "")
	assert.Contains(t, login.Body.String(), "your account is suspended")

	events, err := e.audit.Events(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)
	var suspended []audit.Event
	for _, ev := range events {
		if ev.Action == audit.UserSuspended {
			suspended = append(suspended, ev)
		}
	}
	require.Len(t, suspended, 1, "the UI audits as the API does")
	assert.Equal(t, "bob", suspended[0].Target.Name)

	resp = e.post(admin, "/ui/admin/users/bob/activate", url.Values{"state": {"suspended"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/ui/admin/users?state=suspended", resp.Header.Get("Location"))
	assert.Equal(t, http.StatusOK, bobs.do(http.MethodGet, "/", "").Code, "active again, bob's session works")
}

func TestUIAdminUsersWindowsAndActions(t *testing.T) {
	e := newAdminEnv(t)
	ctx := t.Context()
	localUser(t, e.env, "carol", "read")
	evil := localUser(t, e.env, "<script>evil</script>", "read")
	gone := localUser(t, e.env, "gone", "read")
	_, err := e.acc.SetSuspended(ctx, gone.ID, true)
	require.NoError(t, err)
	require.NoError(t, e.acc.SetSettings(ctx, accounts.Settings{SuspendNewUsers: true}))
	_, err = e.acc.SignIn(ctx, accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: "newbie", Login: "newbie"})
	require.ErrorIs(t, err, accounts.ErrSuspended)
	admin := signInLink(t, e.env, e.admin)

	over := e.page(admin, "/ui/admin")
	assert.Contains(t, over, `<dd id="admin-active">3</dd>`, "admin, carol and the <script> user")
	assert.Contains(t, over, `<dd id="admin-licensed">3</dd>`)
	for _, want := range []string{`href="/ui/admin/audit"`, `href="/ui/admin/nodes"`, `href="/ui/admin/queues"`, `href="/ui/admin/health"`} {
		assert.Contains(t, over, want)
	}

	active := e.page(admin, "/ui/admin/users")
	assert.Contains(t, active, `<tr data-login="carol">`)
	assert.Contains(t, active, "&lt;script&gt;evil&lt;/script&gt;")
	assert.NotContains(t, active, "<script>evil")
	assert.Contains(t, active, `/ui/admin/users/%3Cscript%3Eevil%3C%2Fscript%3E/suspend`)
	assert.NotContains(t, active, `<tr data-login="gone">`)
	assert.Contains(t, active, `<span class="muted">you</span>`, "no action on oneself")
	assert.Contains(t, e.page(admin, "/ui/admin/users?state=suspended"), `<tr data-login="gone">`)
	assert.Contains(t, e.page(admin, "/ui/admin/users?state=suspended-new"), `<tr data-login="newbie">`)
	rec := admin.do(http.MethodGet, "/ui/admin/users?state=bogus", "")
	assert.Equal(t, http.StatusBadRequest, rec.Code)

	resp := e.post(admin, "/ui/admin/users/newbie/activate", url.Values{"state": {"suspended-new"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	u, err := e.acc.ByLogin(ctx, "newbie")
	require.NoError(t, err)
	assert.False(t, u.Suspended)

	resp = e.post(admin, "/ui/admin/users/carol/admin", url.Values{"level": {"all"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	u, err = e.acc.ByLogin(ctx, "carol")
	require.NoError(t, err)
	assert.Equal(t, accounts.AdminAll, u.Admin)
	assert.Contains(t, e.page(admin, "/ui/admin/users"), `aria-label="Remove admin from carol"`)
	resp = e.post(admin, "/ui/admin/users/carol/admin", url.Values{"level": {""}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	u, err = e.acc.ByLogin(ctx, "carol")
	require.NoError(t, err)
	assert.Equal(t, accounts.AdminNone, u.Admin)
	assert.Equal(t, http.StatusBadRequest, e.post(admin, "/ui/admin/users/carol/admin", url.Values{"level": {"root"}}).StatusCode)

	resp = e.post(admin, "/ui/admin/users/"+url.PathEscape(evil.Login)+"/delete", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, err = e.acc.ByLogin(ctx, evil.Login)
	assert.ErrorIs(t, err, accounts.ErrNotFound)

	// Oneself: no suspension, deletion or lost admin level.
	for path, form := range map[string]url.Values{"suspend": {}, "delete": {}, "admin": {"level": {""}}} {
		rec := e.post(admin, "/ui/admin/users/admin/"+path, form)
		assert.Equal(t, http.StatusBadRequest, rec.StatusCode, path)
	}
	assert.Equal(t, http.StatusNotFound, e.post(admin, "/ui/admin/users/nobody/suspend", url.Values{}).StatusCode)
}

func TestUIAdminSettings(t *testing.T) {
	e := newAdminEnv(t)
	admin := signInLink(t, e.env, e.admin)
	body := e.page(admin, "/ui/admin/settings")
	assert.Contains(t, body, `<input type="checkbox" id="suspend_new_users" name="suspend_new_users" aria-describedby="suspend-help">`)
	assert.Contains(t, body, `id="ldap-test"`)

	resp := e.post(admin, "/ui/admin/settings", url.Values{"suspend_new_users": {"on"}, "required_orgs": {"acme, ops ,"},
		"serve_unsafe_artifacts": {"on"}, "login_banner": {"<b>Authorized use only</b>"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	set, err := e.acc.Settings(t.Context())
	require.NoError(t, err)
	assert.Equal(t, accounts.Settings{SuspendNewUsers: true, RequiredOrgs: []string{"acme", "ops"}, UnsafeArtifacts: true,
		LoginBanner: "<b>Authorized use only</b>"}, set)
	body = e.page(admin, "/ui/admin/settings")
	assert.Contains(t, body, "Settings saved.")
	assert.Contains(t, body, `value="acme, ops"`)
	assert.Contains(t, body, "&lt;b&gt;Authorized use only&lt;/b&gt;</textarea>")
	assert.Contains(t, body, `name="serve_unsafe_artifacts" checked`)
	// The API sees the same settings.
	assert.Contains(t, e.do(http.MethodGet, "/api/v2/admin/settings", "").Body.String(), `"serve_unsafe_artifacts":true`)

	resp = e.post(admin, "/ui/admin/settings", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	set, err = e.acc.Settings(t.Context())
	require.NoError(t, err)
	assert.Equal(t, accounts.Settings{}, set, "unchecked boxes turn the settings off")

	resp = e.post(admin, "/ui/admin/settings/ldap-test", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Contains(t, e.page(admin, "/ui/admin/settings"), "LDAP test passed")
}

// failingLDAP's test fails at the search user's bind.
type failingLDAP struct{ refusingLDAP }

func (failingLDAP) Test(context.Context) error {
	return errors.New("ldapauth: bind as the search user cn=orbit: invalid credentials")
}

func (failingLDAP) Describe() [][2]string {
	return [][2]string{{"Hostname", "ldap.example.com"}, {"Search password", "set"}}
}

func TestUIAdminLDAPTestFails(t *testing.T) {
	e := newAdminEnv(t, func(c *api.Config) { c.SignIn.Password = failingLDAP{} })
	admin := signInLink(t, e.env, e.admin)
	body := e.page(admin, "/ui/admin/settings")
	assert.Contains(t, body, "<code>ldap.example.com</code>")
	resp := e.post(admin, "/ui/admin/settings/ldap-test", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Contains(t, e.page(admin, "/ui/admin/settings"), "LDAP test failed: ldapauth: bind as the search user cn=orbit: invalid credentials")
}

func TestUIAdminAuditLog(t *testing.T) {
	e := newAdminEnv(t)
	ctx := t.Context()
	for i, a := range []string{audit.ProjectFollow, audit.ContextCreate, audit.ProjectEnvVarCreate} {
		e.audit.Must(ctx, audit.Event{Action: a, Actor: audit.Entity{ID: "u-" + a, Type: "user", Name: "user" + string(rune('a'+i))},
			Target: audit.Entity{ID: "t", Type: "project", Name: "<i>proj</i>"}, Success: true})
	}
	admin := signInLink(t, e.env, e.admin)
	body := e.page(admin, "/ui/admin/audit")
	assert.Contains(t, body, "<code>project.follow</code>")
	assert.Contains(t, body, "<code>context.create</code>")
	assert.Contains(t, body, "&lt;i&gt;proj&lt;/i&gt;")

	body = e.page(admin, "/ui/admin/audit?action=project.")
	assert.Contains(t, body, "<code>project.follow</code>")
	assert.Contains(t, body, "<code>project.env_var.create</code>")
	assert.NotContains(t, body, "<code>context.create</code>")
	assert.Contains(t, body, `href="/ui/admin/audit.csv?action=project."`)

	body = e.page(admin, "/ui/admin/audit?actor=userb")
	assert.Contains(t, body, "<code>context.create</code>")
	assert.NotContains(t, body, "<code>project.follow</code>")
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	assert.Contains(t, e.page(admin, "/ui/admin/audit?from="+tomorrow), "No event matches.")
	assert.Equal(t, http.StatusBadRequest, admin.do(http.MethodGet, "/ui/admin/audit?from=yesterday", "").Code)

	rec := admin.do(http.MethodGet, "/ui/admin/audit.csv?action=project.", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	csv := rec.Body.String()
	assert.True(t, strings.HasPrefix(csv, "id,version,action,occurred_at,"), csv)
	assert.Contains(t, csv, "project.follow")
	assert.NotContains(t, csv, "context.create")
	assert.Contains(t, e.page(admin, "/ui/admin/audit?action=admin."), "<code>admin.audit_log.export</code>", "the download is audited")
}

// queuedJobs adds n queued jobs of resource class class to the seeded
// project, the oldest first.
func queuedJobs(t *testing.T, e *env, pipelineID string, class string, n int) []string {
	t.Helper()
	w := store.Workflow{ID: uuid.NewString(), Name: "wait-" + class, PipelineID: pipelineID, ProjectSlug: "local/acme/api",
		Status: status.WorkflowRunning, CreatedAt: t0}
	var jobs []store.Job
	var ids []string
	for i := range n {
		q := time.Now().Add(-time.Duration(n-i) * time.Minute)
		id := uuid.NewString()
		jobs = append(jobs, store.Job{ID: id, WorkflowID: w.ID, PipelineID: pipelineID, ProjectSlug: "local/acme/api",
			Name: class + "-" + string(rune('a'+i)), Type: "build", Status: status.JobQueued, Number: int64(100 + i), QueuedAt: &q,
			Spec: []byte(`{"job":{"executor":{"type":"docker","resource_class":"` + class + `"}}}`)})
		ids = append(ids, id)
	}
	require.NoError(t, e.st.CreateWorkflow(t.Context(), w, jobs))
	return ids
}

func TestUIAdminQueues(t *testing.T) {
	e := newAdminEnv(t)
	s := seed(t, e.st)
	gpu := queuedJobs(t, e.env, s.pipeline.ID, "gpu.nvidia.medium", 3)
	queuedJobs(t, e.env, s.pipeline.ID, "xlarge", 1)
	require.NoError(t, e.st.SetJobWaiting(t.Context(), gpu[0], store.JobWaiting{Reason: "no client with resource class gpu.nvidia.medium",
		Since: time.Now()}))
	admin := signInLink(t, e.env, e.admin)
	body := e.page(admin, "/ui/admin/queues")
	assert.Contains(t, body, `<dd id="queue-queued">4</dd>`)
	assert.Contains(t, body, "<td><code>gpu.nvidia.medium</code></td><td>3</td><td>3m 00s</td>")
	assert.Contains(t, body, "<td><code>xlarge</code></td><td>1</td>")
	assert.Contains(t, body, `<span class="waiting">no client with resource class gpu.nvidia.medium</span>`)
	assert.Contains(t, body, `href="/ui/project/local/acme/api/job/100"`)

	resp := e.post(admin, "/ui/admin/queues/cancel", url.Values{"job": {gpu[0], gpu[2], "not-queued"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.ElementsMatch(t, []string{"cancel-job " + gpu[0], "cancel-job " + gpu[2]}, e.controls.calls)
	assert.Contains(t, e.page(admin, "/ui/admin/queues"), "Canceled 2 queued job(s).")

	e.controls.calls = nil
	resp = e.post(admin, "/ui/admin/queues/cancel", url.Values{"count": {"1"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, []string{"cancel-job " + gpu[0]}, e.controls.calls, "the oldest (the fake cancels nothing for real)")
	assert.Equal(t, http.StatusBadRequest, e.post(admin, "/ui/admin/queues/cancel", url.Values{"count": {"101"}}).StatusCode)
	assert.Equal(t, http.StatusBadRequest, e.post(admin, "/ui/admin/queues/cancel", url.Values{}).StatusCode)

	events, err := e.audit.Events(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)
	n := 0
	for _, ev := range events {
		if ev.Action == audit.AdminCancelQueued {
			n++
		}
	}
	assert.Equal(t, 2, n, "each batch is audited as the API's")
}

// TestUIAdminQueuesPages: a long queue is listed a hundred jobs a page,
// oldest first, and the API's view and batch cancel read the same queue.
func TestUIAdminQueuesPages(t *testing.T) {
	e := newAdminEnv(t)
	s := seed(t, e.st)
	ids := queuedJobs(t, e.env, s.pipeline.ID, "medium", 102)
	admin := signInLink(t, e.env, e.admin)
	first := e.page(admin, "/ui/admin/queues")
	assert.Contains(t, first, `<dd id="queue-queued">102</dd>`)
	assert.Contains(t, first, "<td><code>medium</code></td><td>102</td>", "the depth counts every page")
	assert.Equal(t, 100, strings.Count(first, `name="job"`))
	assert.Contains(t, first, `id="q-`+ids[0]+`"`, "the oldest on the first page")
	assert.NotContains(t, first, `id="q-`+ids[100]+`"`)
	assert.Contains(t, first, "…and 2 more")
	assert.Contains(t, first, `href="/ui/admin/queues?page=2" rel="next"`)

	second := e.page(admin, "/ui/admin/queues?page=2")
	assert.Equal(t, 2, strings.Count(second, `name="job"`))
	assert.Contains(t, second, `id="q-`+ids[101]+`"`)
	assert.Contains(t, second, `href="/ui/admin/queues?page=1" rel="prev"`)
	assert.NotContains(t, second, `rel="next"`)

	rec := e.do(http.MethodGet, "/api/v2/admin/queue?limit=2", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	q := decodeBody[obj](t, rec)
	assert.EqualValues(t, 102, q["queued"])
	assert.EqualValues(t, 1, q["running"], "the seeded test job")
	oldest := q["oldest"].([]any)
	require.Len(t, oldest, 2)
	assert.Equal(t, ids[0], oldest[0].(obj)["id"])

	resp := e.post(admin, "/ui/admin/queues/cancel", url.Values{"count": {"100"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Len(t, e.controls.calls, 100)
	assert.Equal(t, "cancel-job "+ids[0], e.controls.calls[0], "the oldest first")
	assert.Equal(t, "cancel-job "+ids[99], e.controls.calls[99])
}

func TestUIAdminNodes(t *testing.T) {
	e := newAdminEnv(t)
	admin := signInLink(t, e.env, e.admin)
	body := e.page(admin, "/ui/admin/nodes")
	assert.Contains(t, body, "<h2 id=\"node-title-node-1-id\">client-1</h2>")
	assert.Contains(t, body, "<code>alloc-12</code>")
	assert.Contains(t, body, "task <code>task-1</code>")
	assert.Contains(t, body, `aria-label="Drain client-1"`)

	resp := e.post(admin, "/ui/admin/nodes/node-1-id/drain", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	body = e.page(admin, "/ui/admin/nodes")
	assert.Contains(t, body, "Node client-1 is draining")
	assert.Contains(t, body, `aria-label="Undrain client-1"`)
	resp = e.post(admin, "/ui/admin/nodes/node-1-id/undrain", url.Values{})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp = e.post(admin, "/ui/admin/nodes/node-1-id/drain", url.Values{"force": {"on"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, []string{"drain node-1-id", "undrain node-1-id", "drain node-1-id force"}, e.nodes.calls)
	assert.Equal(t, http.StatusNotFound, e.post(admin, "/ui/admin/nodes/other/drain", url.Values{}).StatusCode)

	assert.Contains(t, e.page(admin, "/ui/admin/audit?action=admin.node."), "client-1 (nomad_node node-1-id)")
}

func TestUIAdminHealthAndUsage(t *testing.T) {
	e := newAdminEnv(t)
	seed(t, e.st)
	admin := signInLink(t, e.env, e.admin)
	body := e.page(admin, "/ui/admin/health")
	assert.Contains(t, body, `<span class="badge bad">unhealthy</span>`)
	assert.Contains(t, body, "<td><code>nomad</code></td><td><span class=\"badge bad\">down</span> nomad: connection refused</td>")
	assert.Contains(t, body, "<td><code>store</code></td><td><span class=\"badge ok\">ok</span></td>")

	body = e.page(admin, "/ui/admin/usage")
	assert.Contains(t, body, "<td>2025-03-03</td><td>local/acme</td><td>2</td><td>0</td>", "the seeded build: 66 s, 2 minutes")
}

func TestUIAdminWithoutOptionalParts(t *testing.T) {
	e := newEnv(t)
	b := signInLink(t, e, e.admin)
	body := b.do(http.MethodGet, "/ui/admin", "").Body.String()
	assert.NotContains(t, body, `href="/ui/admin/nodes"`)
	assert.NotContains(t, body, `href="/ui/admin/audit"`)
	assert.Equal(t, http.StatusNotFound, b.do(http.MethodGet, "/ui/admin/nodes", "").Code)
	assert.NotContains(t, b.do(http.MethodGet, "/ui/admin/settings", "").Body.String(), `id="ldap-test"`)
}

// TestUIAdminUnsafeArtifactsSetting: the setting serves an HTML artifact
// as HTML (in its sandbox) from the next request on, without a restart.
func TestUIAdminUnsafeArtifactsSetting(t *testing.T) {
	e, s := filesEnv(t, false)
	path := "/api/v2/project/" + s.project.Slug + "/" + strconv.FormatInt(s.build.Number, 10) + "/artifacts/0/site/index.html"
	assert.Equal(t, "text/plain; charset=utf-8", e.do(http.MethodGet, path, "").Header().Get("Content-Type"))
	admin := signInLink(t, e, e.admin)
	require.Equal(t, http.StatusSeeOther, e.post(admin, "/ui/admin/settings", url.Values{"serve_unsafe_artifacts": {"on"}}).StatusCode)
	rec := e.do(http.MethodGet, path, "")
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "default-src 'none'; sandbox", rec.Header().Get("Content-Security-Policy"))
}
