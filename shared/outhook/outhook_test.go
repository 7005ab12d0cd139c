package outhook_test

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/outhook"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

const slug = "local/acme/api"

// receiver is a webhook endpoint that checks each delivery's signature and
// answers fail's status while it is non-zero.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []outhook.Payload
	events []string
	fail   int
	tries  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	require.NoError(rc.t, err)
	want := outhook.Sign([]byte(rc.secret), body)
	if !hmac.Equal([]byte(r.Header.Get("circleci-signature")), []byte(want)) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tries++
	if rc.fail != 0 {
		w.WriteHeader(rc.fail)
		return
	}
	var p outhook.Payload
	require.NoError(rc.t, json.Unmarshal(body, &p))
	rc.got = append(rc.got, p)
	rc.events = append(rc.events, r.Header.Get("circleci-event-type"))
}

func (rc *receiver) payloads() []outhook.Payload {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]outhook.Payload(nil), rc.got...)
}

type env struct {
	t     *testing.T
	dir   string
	db    *boltkv.Store
	st    *store.Store
	svc   *outhook.Service
	clock *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// open (re)opens the database in dir, as a restarted process does.
func open(t *testing.T, dir string, c *clock, client *http.Client) *env {
	t.Helper()
	db, err := boltkv.Open(filepath.Join(dir, "orbit.db"), boltkv.Config{})
	require.NoError(t, err)
	st := store.New(db, c.now)
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(dir, "master.keys")})
	require.NoError(t, err)
	svc, err := outhook.New(outhook.Config{KV: db, Records: st, Sealer: secrets.NewSealer(keys), Client: client,
		BaseURL: "http://orbit.test", Now: c.now, MaxAttempts: 4})
	require.NoError(t, err)
	st.Observe(svc)
	return &env{t: t, dir: dir, db: db, st: st, svc: svc, clock: c}
}

func newEnv(t *testing.T, client *http.Client) *env {
	dir := t.TempDir()
	e := open(t, dir, &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}, client)
	t.Cleanup(func() { e.db.Close() })
	_, err := e.st.CreateProject(t.Context(), store.Project{Slug: slug, Name: "api", VCS: "local"})
	require.NoError(t, err)
	return e
}

func ptr[T any](v T) *T { return &v }

func (e *env) hook(url, secret string, events ...string) store.Webhook {
	h, err := e.svc.Create(e.t.Context(), slug, outhook.Spec{Name: ptr("ci"), URL: ptr(url), Events: events,
		VerifyTLS: ptr(true), Secret: ptr(secret)})
	require.NoError(e.t, err)
	return h
}

// run takes a pipeline's workflow "build" with job "test" to the ends.
func (e *env) run(job status.Job, wf status.Workflow) (store.Pipeline, store.Workflow) {
	ctx := e.t.Context()
	p, err := e.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: slug, Trigger: store.Trigger{Type: "api"},
		VCS: store.PipelineVCS{Branch: "main", Revision: "abc123", OriginRepositoryURL: "/repos/api"}})
	require.NoError(e.t, err)
	w := store.Workflow{ID: p.ID + "-wf", Name: "build", PipelineID: p.ID, ProjectSlug: slug, Status: status.WorkflowRunning, CreatedAt: e.st.Now()}
	j := store.Job{ID: p.ID + "-job", WorkflowID: w.ID, PipelineID: p.ID, ProjectSlug: slug, Name: "test", Type: "build", Status: status.JobRunning, Number: 7}
	require.NoError(e.t, e.st.CreateWorkflow(ctx, w, []store.Job{j}))
	_, err = e.st.TransitionJob(ctx, w.ID, "test", func(*store.Job) (status.Job, error) { return job, nil })
	require.NoError(e.t, err)
	w, err = e.st.TransitionWorkflow(ctx, w.ID, func(*store.Workflow) (status.Workflow, error) { return wf, nil })
	require.NoError(e.t, err)
	return p, w
}

func TestDeliveriesAreSignedAndShapedAsCircleCIs(t *testing.T) {
	rc := &receiver{t: t, secret: "s3cret-signing"}
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	e := newEnv(t, srv.Client())
	h := e.hook(srv.URL+"/hook", rc.secret, store.EventWorkflowCompleted, store.EventJobCompleted)
	other := e.hook(srv.URL+"/wf-only", rc.secret, store.EventWorkflowCompleted)
	assert.Equal(t, "xxxxning", h.MaskedSecret)

	p, w := e.run(status.JobFailed, status.WorkflowFailed)
	res, err := e.svc.Send(t.Context())
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{Delivered: 3}, res)

	got := rc.payloads()
	require.Len(t, got, 3)
	byType := map[string][]outhook.Payload{}
	for _, g := range got {
		byType[g.Type] = append(byType[g.Type], g)
	}
	require.Len(t, byType["job-completed"], 1)
	require.Len(t, byType["workflow-completed"], 2)
	jc := byType["job-completed"][0]
	assert.Equal(t, h.ID, jc.Webhook.ID)
	assert.Equal(t, "ci", jc.Webhook.Name)
	assert.Equal(t, outhook.PayloadProject{ID: ids.Project(slug), Name: "api", Slug: slug}, jc.Project)
	assert.Equal(t, outhook.PayloadOrg{ID: ids.Org("local/acme"), Name: "acme"}, jc.Org)
	require.NotNil(t, jc.Job)
	assert.Equal(t, "test", jc.Job.Name)
	assert.Equal(t, int64(7), jc.Job.Number)
	assert.Equal(t, "failed", jc.Job.Status)
	assert.Equal(t, "build", jc.Workflow.Name)
	assert.Equal(t, p.ID, jc.Pipeline.ID)
	assert.Equal(t, "abc123", jc.Pipeline.VCS.Revision)
	assert.Equal(t, "main", jc.Pipeline.VCS.Branch)
	assert.Equal(t, "api", jc.Pipeline.Trigger.Type)
	for _, wc := range byType["workflow-completed"] {
		assert.Nil(t, wc.Job)
		assert.Equal(t, w.ID, wc.Workflow.ID)
		assert.Equal(t, "failed", wc.Workflow.Status)
		assert.NotNil(t, wc.Workflow.StoppedAt)
		assert.Equal(t, "http://orbit.test/ui/pipeline/"+p.ID, wc.Workflow.URL)
		assert.Contains(t, []string{h.ID, other.ID}, wc.Webhook.ID)
	}
	assert.NotEqual(t, byType["workflow-completed"][0].ID, byType["workflow-completed"][1].ID, "one delivery id per webhook")
	assert.ElementsMatch(t, []string{"job-completed", "workflow-completed", "workflow-completed"}, rc.events)

	// Nothing is left to send; a replayed change queues nothing new.
	res, err = e.svc.Send(t.Context())
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{}, res)
}

func TestAWrongSecretFailsTheReceiversCheck(t *testing.T) {
	rc := &receiver{t: t, secret: "the-right-one"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	e := newEnv(t, nil)
	e.hook(srv.URL, "another-secret", store.EventWorkflowCompleted)
	e.run(status.JobSuccess, status.WorkflowSuccess)
	res, err := e.svc.Send(t.Context())
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{Failed: 1}, res, "the receiver refused the signature")
	assert.Empty(t, rc.payloads())
}

func TestFailedDeliveriesAreRetriedWithBackoffUnderOneID(t *testing.T) {
	rc := &receiver{t: t, secret: "retry-secret", fail: http.StatusBadGateway}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	e := newEnv(t, nil)
	e.hook(srv.URL, rc.secret, store.EventWorkflowCompleted)
	e.run(status.JobSuccess, status.WorkflowSuccess)
	ctx := t.Context()

	res, err := e.svc.Send(ctx)
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{Failed: 1}, res)
	// Not due before its backoff (10s after the first failure).
	e.clock.add(9 * time.Second)
	res, err = e.svc.Send(ctx)
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{}, res)
	e.clock.add(time.Second)
	res, err = e.svc.Send(ctx)
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{Failed: 1}, res)
	// The second wait is twice the first.
	e.clock.add(19 * time.Second)
	res, _ = e.svc.Send(ctx)
	assert.Equal(t, outhook.Result{}, res)

	rc.mu.Lock()
	rc.fail = 0
	rc.mu.Unlock()
	e.clock.add(time.Second)
	res, err = e.svc.Send(ctx)
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{Delivered: 1}, res)
	assert.Equal(t, 3, rc.tries)
	require.Len(t, rc.payloads(), 1)
}

func TestDeliveriesAreGivenUpAfterMaxAttempts(t *testing.T) {
	rc := &receiver{t: t, secret: "down-secret", fail: http.StatusInternalServerError}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	e := newEnv(t, nil)
	e.hook(srv.URL, rc.secret, store.EventWorkflowCompleted)
	e.run(status.JobSuccess, status.WorkflowSuccess)
	var total outhook.Result
	for range 4 {
		res, err := e.svc.Send(t.Context())
		require.NoError(t, err)
		total.Failed += res.Failed
		total.Dropped += res.Dropped
		e.clock.add(time.Hour)
	}
	assert.Equal(t, outhook.Result{Failed: 3, Dropped: 1}, total)
	assert.Equal(t, 4, rc.tries)
}

func TestARestartLosesNoDelivery(t *testing.T) {
	rc := &receiver{t: t, secret: "restart-secret", fail: http.StatusServiceUnavailable}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	e := open(t, dir, c, nil)
	_, err := e.st.CreateProject(t.Context(), store.Project{Slug: slug, Name: "api", VCS: "local"})
	require.NoError(t, err)
	e.hook(srv.URL, rc.secret, store.EventWorkflowCompleted, store.EventJobCompleted)
	e.run(status.JobSuccess, status.WorkflowSuccess)
	res, err := e.svc.Send(t.Context())
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{Failed: 2}, res)
	first := rc.tries
	require.NoError(t, e.db.Close())

	// A new process on the same data sends what the old one could not.
	rc.mu.Lock()
	rc.fail = 0
	rc.mu.Unlock()
	c.add(time.Minute)
	e = open(t, dir, c, nil)
	defer e.db.Close()
	res, err = e.svc.Send(t.Context())
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{Delivered: 2}, res)
	assert.Equal(t, first+2, rc.tries)
	assert.Len(t, rc.payloads(), 2)
}

func TestADeletedWebhookDropsItsDeliveries(t *testing.T) {
	rc := &receiver{t: t, secret: "gone-secret"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	e := newEnv(t, nil)
	h := e.hook(srv.URL, rc.secret, store.EventWorkflowCompleted)
	e.run(status.JobSuccess, status.WorkflowSuccess)
	require.NoError(t, e.svc.Delete(t.Context(), h.ID))
	res, err := e.svc.Send(t.Context())
	require.NoError(t, err)
	assert.Equal(t, outhook.Result{Dropped: 1}, res)
	assert.Zero(t, rc.tries)
}

func TestWebhookFieldsAreChecked(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	cases := []struct {
		name string
		sp   outhook.Spec
		msg  string
	}{
		{"no url", outhook.Spec{Name: ptr("n"), Events: []string{"job-completed"}, VerifyTLS: ptr(true), Secret: ptr("x")}, "url is required"},
		{"relative url", outhook.Spec{Name: ptr("n"), URL: ptr("/hook"), Events: []string{"job-completed"}, VerifyTLS: ptr(true), Secret: ptr("x")}, "absolute"},
		{"unknown event", outhook.Spec{Name: ptr("n"), URL: ptr("https://x.test"), Events: []string{"job-started"}, VerifyTLS: ptr(true), Secret: ptr("x")}, `events[0] "job-started"`},
		{"no events", outhook.Spec{Name: ptr("n"), URL: ptr("https://x.test"), Events: []string{}, VerifyTLS: ptr(true), Secret: ptr("x")}, "at least one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Create(ctx, slug, tc.sp)
			require.ErrorIs(t, err, outhook.ErrInvalid)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	for range store.MaxWebhooksPerProject {
		e.hook("https://x.test", "secret", "job-completed")
	}
	_, err := e.svc.Create(ctx, slug, outhook.Spec{Name: ptr("n"), URL: ptr("https://x.test"), Events: []string{"job-completed"}, VerifyTLS: ptr(true), Secret: ptr("x")})
	var limit *store.LimitError
	assert.ErrorAs(t, err, &limit)
}
