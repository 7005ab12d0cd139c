package nomadbridge_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
)

// TestVMTaskEnded: the VM collector's question, answered from the runner
// API with the lease's token; another installation's lease is never
// judged over.
func TestVMTaskEnded(t *testing.T) {
	u := newUnit(t)
	lease := func(url, tok string) vmpool.Lease {
		return vmpool.Lease{ID: "i-1", Request: vmpool.Request{TaskID: "t", Env: map[string]string{
			agent.EnvRunnerURL: url, agent.EnvTaskToken: tok}}}
	}
	ctx := context.Background()
	ended, err := u.bridge.VMTaskEnded(ctx, lease(u.cfg.RunnerURL, "tok-live"))
	require.NoError(t, err)
	assert.False(t, ended, "a live task")
	u.runner.mu.Lock()
	u.runner.gone["tok-done"] = true
	u.runner.gone["tok-other"] = true
	u.runner.mu.Unlock()
	ended, err = u.bridge.VMTaskEnded(ctx, lease(u.cfg.RunnerURL, "tok-done"))
	require.NoError(t, err)
	assert.True(t, ended, "the runner API answered 410")
	ended, err = u.bridge.VMTaskEnded(ctx, lease("http://elsewhere/runner/v1", "tok-other"))
	require.NoError(t, err)
	assert.False(t, ended, "another installation's lease")
	ended, err = u.bridge.VMTaskEnded(ctx, lease(u.cfg.RunnerURL, ""))
	require.NoError(t, err)
	assert.False(t, ended, "no token: not this bridge's to judge")
}
