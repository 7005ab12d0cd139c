package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// fakeControls records the controls it is asked for and answers err.
type fakeControls struct {
	err error

	mu    sync.Mutex
	calls []string
	rerun conductor.RerunRequest
}

func (f *fakeControls) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.err
}

func (f *fakeControls) Approve(_ context.Context, wid, jobID string) error {
	return f.record("approve " + wid + " " + jobID)
}

func (f *fakeControls) CancelWorkflow(_ context.Context, wid string) error {
	return f.record("cancel-workflow " + wid)
}

func (f *fakeControls) CancelJob(_ context.Context, jobID string) error {
	return f.record("cancel-job " + jobID)
}

func (f *fakeControls) Rerun(_ context.Context, wid string, req conductor.RerunRequest) (string, error) {
	f.mu.Lock()
	f.rerun = req
	f.mu.Unlock()
	return "new-" + wid, f.record("rerun " + wid)
}

func TestControls(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		err                      error
		wantCode                 int
		wantBody                 string // JSON
		wantCall                 string
		wantRerun                conductor.RerunRequest
		keys                     []string // the user's SSH keys (nil: the seam is not set)
	}{
		{name: "approve", path: "/api/v2/workflow/w1/approve/j1",
			wantCode: http.StatusAccepted, wantBody: `{"message":"Accepted."}`, wantCall: "approve w1 j1"},
		{name: "approve a job not on hold", path: "/api/v2/workflow/w1/approve/j1",
			err:      fmt.Errorf("%w: approval job hold is canceled, not on_hold", conductor.ErrNotAllowed),
			wantCode: http.StatusBadRequest, wantBody: `{"message":"not allowed: approval job hold is canceled, not on_hold"}`, wantCall: "approve w1 j1"},
		{name: "approve an unknown job", path: "/api/v2/workflow/w1/approve/j1",
			err:      fmt.Errorf("job j1: %w", store.ErrNotFound),
			wantCode: http.StatusNotFound, wantBody: `{"message":"job j1: not found"}`, wantCall: "approve w1 j1"},
		{name: "cancel workflow", path: "/api/v2/workflow/w1/cancel",
			wantCode: http.StatusAccepted, wantBody: `{"message":"Accepted."}`, wantCall: "cancel-workflow w1"},
		{name: "cancel job by id", path: "/api/v2/jobs/j9/cancel",
			wantCode: http.StatusOK, wantBody: `{"message":"Accepted."}`, wantCall: "cancel-job j9"},
		{name: "rerun all (no body)", path: "/api/v2/workflow/w1/rerun",
			wantCode: http.StatusAccepted, wantBody: `{"workflow_id":"new-w1"}`, wantCall: "rerun w1"},
		{name: "rerun all (empty object)", path: "/api/v2/workflow/w1/rerun", body: `{}`,
			wantCode: http.StatusAccepted, wantBody: `{"workflow_id":"new-w1"}`, wantCall: "rerun w1"},
		{name: "rerun from failed", path: "/api/v2/workflow/w1/rerun", body: `{"from_failed": true}`,
			wantCode: http.StatusAccepted, wantBody: `{"workflow_id":"new-w1"}`, wantCall: "rerun w1",
			wantRerun: conductor.RerunRequest{FromFailed: true}},
		{name: "rerun jobs", path: "/api/v2/workflow/w1/rerun", body: `{"jobs": ["a", "b"], "sparse_tree": true}`,
			wantCode: http.StatusAccepted, wantBody: `{"workflow_id":"new-w1"}`, wantCall: "rerun w1",
			wantRerun: conductor.RerunRequest{Jobs: []string{"a", "b"}, SparseTree: true}},
		{name: "rerun with ssh", path: "/api/v2/workflow/w1/rerun", body: `{"enable_ssh": true, "jobs": ["a"]}`,
			keys:     []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDf4 dev@laptop"},
			wantCode: http.StatusAccepted, wantBody: `{"workflow_id":"new-w1"}`, wantCall: "rerun w1",
			wantRerun: conductor.RerunRequest{Jobs: []string{"a"}, SSHKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDf4 dev@laptop"}}},
		{name: "rerun with ssh, no key", path: "/api/v2/workflow/w1/rerun", body: `{"enable_ssh": true}`, keys: []string{},
			wantCode: http.StatusBadRequest, wantBody: `{"message":"enable_ssh: your account has no SSH public key: add one (PUT /api/v2/me/ssh-keys), then rerun with SSH"}`},
		{name: "rerun with a bad body", path: "/api/v2/workflow/w1/rerun", body: `{"jobs": "a"}`,
			wantCode: http.StatusBadRequest},
		{name: "rerun a running workflow", path: "/api/v2/workflow/w1/rerun", body: `{}`,
			err:      fmt.Errorf("%w: workflow ci is running; only a finished workflow can be rerun", conductor.ErrNotAllowed),
			wantCode: http.StatusBadRequest, wantCall: "rerun w1"},
		{name: "GET is not a control", method: http.MethodGet, path: "/api/v2/workflow/w1/cancel",
			wantCode: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := &fakeControls{err: tt.err}
			e := newEnv(t, func(c *api.Config) {
				c.Controls = fc
				if tt.keys != nil {
					c.SSHKeys = func(*http.Request) ([]string, error) { return tt.keys, nil }
				}
			})
			// The routes find their project from the workflow or job:
			// w1 and j9 stand for seeded records.
			sd := seed(t, e.st)
			ids := strings.NewReplacer("w1", sd.workflow.ID, "j9", sd.build.ID)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			rec := e.do(method, ids.Replace(tt.path), tt.body)
			require.Equal(t, tt.wantCode, rec.Code, rec.Body.String())
			if tt.wantBody != "" {
				assert.JSONEq(t, ids.Replace(tt.wantBody), rec.Body.String())
			}
			if tt.wantCall == "" {
				assert.Empty(t, fc.calls)
			} else {
				assert.Equal(t, []string{ids.Replace(tt.wantCall)}, fc.calls)
			}
			assert.Equal(t, tt.wantRerun, fc.rerun)
		})
	}
}

func TestCancelJobByNumber(t *testing.T) {
	fc := &fakeControls{}
	e := newEnv(t, func(c *api.Config) { c.Controls = fc })
	s := seed(t, e.st)

	rec := e.do(http.MethodPost, "/api/v2/project/local%2Facme%2Fapi/job/2/cancel", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"message":"Accepted."}`, rec.Body.String())
	assert.Equal(t, []string{"cancel-job " + s.test.ID}, fc.calls)

	rec = e.do(http.MethodPost, "/api/v2/project/local/acme/api/job/99/cancel", "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

func TestControlsNotServedWithoutControls(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodPost, "/api/v2/workflow/w1/cancel", "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

// Every dispatch of a job is an attempt in its details: a lost allocation
// and its automatic retry.
func TestJobAttempts(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	ctx := context.Background()
	// test (job #2) lost its machine on attempt 1 and runs as attempt 2.
	_, err := e.st.UpdateJob(ctx, s.workflow.ID, "test", func(j *store.Job) error {
		j.Attempt = 2
		return nil
	})
	require.NoError(t, err)
	for _, tk := range []store.Task{
		{Attempt: 1, Status: status.JobInfrastructureFail, Message: "allocation lost: node n1 down", StartedAt: at(71), StoppedAt: at(80)},
		{Attempt: 2, Status: status.JobRunning, StartedAt: at(82)},
	} {
		tk.ID, tk.JobID, tk.JobName, tk.WorkflowID = store.TaskID(s.test.ID, tk.Attempt, 0), s.test.ID, "test", s.workflow.ID
		_, err := e.st.CreateTask(ctx, tk)
		require.NoError(t, err)
	}

	got := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/project/local/acme/api/job/2", ""))
	assert.Equal(t, "running", got["status"])
	assert.Equal(t, []any{obj{"index": float64(0), "status": "running"}}, got["parallel_runs"], "CircleCI's field: the latest attempt")
	assert.Equal(t, []any{
		obj{"attempt": float64(1), "status": "infrastructure_fail", "message": "allocation lost: node n1 down",
			"started_at": "2025-03-04T10:01:11Z", "stopped_at": "2025-03-04T10:01:20Z",
			"parallel_runs": []any{obj{"index": float64(0), "status": "infrastructure_fail"}}},
		obj{"attempt": float64(2), "status": "running", "started_at": "2025-03-04T10:01:22Z", "stopped_at": nil,
			"parallel_runs": []any{obj{"index": float64(0), "status": "running"}}},
	}, got["attempts"])
}
