package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// TestUIRerunJobWithSSH: a finished job's page offers "Rerun job with
// SSH"; the form reruns that job with the caller's public keys, and
// without a key it says what to add.
func TestUIRerunJobWithSSH(t *testing.T) {
	fc := &fakeControls{}
	e := newEnv(t, func(c *api.Config) { c.Controls = fc })
	s := seed(t, e.st)
	ctx := context.Background()
	j, err := e.st.TransitionJob(ctx, s.workflow.ID, "test", func(*store.Job) (status.Job, error) { return status.JobFailed, nil })
	require.NoError(t, err)
	j, err = e.st.AssignJobNumber(ctx, j)
	require.NoError(t, err)
	jobPage := fmt.Sprintf("/ui/project/%s/job/%d", s.project.Slug, j.Number)
	page := e.do(http.MethodGet, jobPage, "").Body.String()
	require.Contains(t, page, `action="/ui/workflow/`+s.workflow.ID+`/rerun"`)
	assert.Contains(t, page, `<input type="hidden" name="job" value="`+j.ID+`">`)
	assert.Contains(t, page, "Rerun job with SSH")

	form := url.Values{"enable_ssh": {"true"}, "job": {j.ID}}.Encode()
	rec := e.do(http.MethodPost, "/ui/workflow/"+s.workflow.ID+"/rerun", form, "Content-Type", "application/x-www-form-urlencoded")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "your account has no SSH public key")
	assert.Empty(t, fc.calls, "nothing reran")

	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz0ZsoVvbQzcV2Dc6v8ZrRj2n0mZ1iYgqNq2h1m3z0b admin@laptop"
	rec = e.do(http.MethodPut, "/api/v2/me/ssh-keys", `{"keys":["`+key+`"]}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = e.do(http.MethodPost, "/ui/workflow/"+s.workflow.ID+"/rerun", form, "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	assert.Equal(t, []string{"rerun " + s.workflow.ID}, fc.calls)
	assert.Equal(t, []string{j.ID}, fc.rerun.Jobs)
	assert.False(t, fc.rerun.FromFailed)
	assert.Equal(t, []string{key}, fc.rerun.SSHKeys)
}
