package nomadbridge_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/fakepool"
	"github.com/orbit-ci/orbit/shared/runner"
)

// TestRemoteDockerEngineOfAnotherAuthorityIsReplaced: the task already has
// an engine whose certificate another authority signed (a bridge that
// leased it crashed before registering the job): the bridge releases it
// and leases a new one, whose engine the job's client certificate is for.
func TestRemoteDockerEngineOfAnotherAuthorityIsReplaced(t *testing.T) {
	srv, err := agenttest.New()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	pool := fakepool.New(fakepool.Config{Capacity: 2})
	t.Cleanup(pool.Close)
	u := newUnit(t, func(c *nomadbridge.Config) {
		c.Pool, c.PoolInterval = pool, 20*time.Millisecond
		c.RunnerURL, c.RunnerClient = srv.URL, nil
	})
	m := message("rd-replace")
	srv.Add(m.Token, runner.TaskSpec{TaskID: m.TaskID, Executor: "docker", Steps: []runner.Step{{Type: runner.StepSetupRemoteDocker}}})
	old, err := dockertls.NewCA("crashed bridge", time.Now(), time.Hour)
	require.NoError(t, err)
	stale, err := pool.Lease(context.Background(), vmpool.Request{TaskID: m.TaskID, Purpose: vmpool.RemoteDocker, DockerTLS: old})
	require.NoError(t, err)

	send(t, u.q, encode(t, m))
	u.start(t)
	var env map[string]string
	require.Eventually(t, func() bool {
		j, _, err := u.jobs.Info(m.NomadJobID(), nil)
		if err != nil || j == nil {
			return false
		}
		env = j.TaskGroups[0].Tasks[0].Env
		return true
	}, 10*time.Second, 5*time.Millisecond, "the job is registered; log:\n%s", u.logs)

	ls, err := pool.Leases(context.Background())
	require.NoError(t, err)
	require.Len(t, ls, 1)
	assert.NotEqual(t, stale.ID, ls[0].ID, "the stale engine was released")
	assert.Equal(t, 2, pool.Made())
	assert.Equal(t, "tcp://"+ls[0].Address, env[agent.EnvRemoteDockerHost])
	engine, ok := dockertls.ServerFromEnv(ls[0].Request.Env)
	require.True(t, ok)
	assert.Equal(t, engine.CA, env[agent.EnvRemoteDockerCA], "the job trusts its engine's authority")
	block, _ := pem.Decode([]byte(env[agent.EnvRemoteDockerCert]))
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(engine.CA))
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err, "the engine accepts the job's client certificate")
	assert.NotContains(t, u.logs.String(), "PRIVATE KEY")
}
