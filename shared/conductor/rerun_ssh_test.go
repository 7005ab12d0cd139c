package conductor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// TestRerunWithSSH: the jobs a rerun with SSH runs again get the user's
// keys and the SSH steps around their own; the jobs it keeps are not run.
func TestRerunWithSSH(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, fakeSource{"rev-main": diamond})
	wid := h.begin()
	h.runJob(wid, "build", status.JobSuccess)
	h.runJob(wid, "test-a", status.JobSuccess)
	h.runJob(wid, "test-b", status.JobSuccess, status.JobFailed)
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDf4 dev@laptop"
	h.c.cfg.SSHIdle = 90e9 // 90 s

	nid, err := h.c.Rerun(ctx, wid, RerunRequest{FromFailed: true, SSHKeys: []string{key}})
	require.NoError(t, err)
	h.call(Request{Action: "start_workflow", WorkflowID: nid})
	jobs := h.jobs(nid)
	assert.Nil(t, jobs["build"].SSH, "a kept job does not run, with SSH or not")
	assert.Equal(t, &store.SSHAccess{AuthorizedKeys: []string{key}}, jobs["test-b"].SSH)

	h.dispatch(nid, "test-b")
	msg := h.queue.msgs[len(h.queue.msgs)-1]
	spec, err := h.c.TaskSpec(ctx, msg.TaskID)
	require.NoError(t, err)
	require.NotNil(t, spec.SSH)
	assert.Equal(t, runner.SSHAccess{AuthorizedKeys: []string{key}, IdleSeconds: 90}, *spec.SSH)
	assert.True(t, spec.Placement().SSH, "the bridge is asked for an SSH port")
	require.GreaterOrEqual(t, len(spec.Steps), 3)
	assert.Equal(t, runner.StepEnableSSH, spec.Steps[0].Type)
	for _, st := range spec.Steps[1 : len(spec.Steps)-1] {
		assert.NotContains(t, []string{runner.StepEnableSSH, runner.StepWaitForSSH}, st.Type, "then the job's own steps")
	}
	last := spec.Steps[len(spec.Steps)-1]
	assert.Equal(t, runner.StepWaitForSSH, last.Type)
	assert.True(t, last.Runs(true), "the wait runs even after a failed step")

	// A rerun without SSH has none.
	nid2, err := h.c.Rerun(ctx, wid, RerunRequest{FromFailed: true})
	require.NoError(t, err)
	assert.Nil(t, h.jobs(nid2)["test-b"].SSH)
}
