package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls/dockertlstest"
	"github.com/orbit-ci/orbit/shared/runner"
)

// TestSetupRemoteDocker: the step waits for the engine, reaches it over
// TLS with the job's certificate, and the later steps get DOCKER_HOST,
// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH with the client material; no
// key reaches the output.
func TestSetupRemoteDocker(t *testing.T) {
	ca, err := dockertls.NewCA("task-1", time.Now(), time.Hour)
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	eng, err := dockertlstest.Start(srv, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close() })
	client, err := ca.Client()
	require.NoError(t, err)

	copied := t.TempDir()
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{
		{Type: runner.StepSetupRemoteDocker},
		run("env", `echo "$DOCKER_HOST $DOCKER_TLS_VERIFY"; cp "$DOCKER_CERT_PATH"/*.pem `+copied+`; env | grep ^ORBIT_ || true`),
	}})
	h.cfg.RemoteDocker = &agent.RemoteDocker{Host: "tcp://" + eng.Addr(), Client: client}
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(0))
	assert.Contains(t, task.Output(0), "The remote Docker engine answered (API version "+dockertlstest.APIVersion+")")
	assert.Equal(t, "tcp://"+eng.Addr()+" 1\n", task.Output(1), "no ORBIT_ variable reaches a step")
	assert.EqualValues(t, 1, eng.Pings())
	for name, want := range map[string]string{dockertls.FileCA: client.CA, dockertls.FileCert: client.Cert, dockertls.FileKey: client.Key} {
		got, err := os.ReadFile(filepath.Join(copied, name))
		require.NoError(t, err)
		assert.Equal(t, want, string(got), name)
	}
	for i := range 2 {
		assert.NotContains(t, task.Output(i), "PRIVATE KEY")
		assert.NotContains(t, task.Output(i), "CERTIFICATE")
	}
}

// TestSetupRemoteDockerEngineNeverAnswers: a bounded wait, then the step
// fails saying so.
func TestSetupRemoteDockerEngineNeverAnswers(t *testing.T) {
	ca, err := dockertls.NewCA("task-1", time.Now(), time.Hour)
	require.NoError(t, err)
	client, err := ca.Client()
	require.NoError(t, err)
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{{Type: runner.StepSetupRemoteDocker}, run("after", "echo ran")}})
	h.cfg.RemoteDocker = &agent.RemoteDocker{Host: "tcp://127.0.0.1:1", Client: client, Wait: 2 * time.Second}
	out, task := h.run(t)
	assert.Equal(t, agent.OutcomeFailed, out)
	assert.Contains(t, task.Output(0), "did not answer within 2s")
	assert.False(t, strings.Contains(task.Output(1), "ran"), "the job stops at the failed step")
}
