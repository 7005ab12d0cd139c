package vmpooltest

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
)

// testRemoteDockerTLS: a remote Docker lease with an authority gets an
// engine certificate of that authority for the host of its address, the
// VM's material is in the lease's Env (listed too), and the authority's
// key is nowhere in it. The driver must offer the default remote Docker
// pool (purpose RemoteDocker, image and class "").
func testRemoteDockerTLS(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 2).Pool
	ctx := ctxFor(t)
	ca, err := dockertls.NewCA("task-rd", time.Now(), time.Hour)
	require.NoError(t, err)
	req := request("task-rd")
	req.Purpose, req.Image, req.ResourceClass, req.DockerTLS = vmpool.RemoteDocker, "", "", ca
	l, err := p.Lease(ctx, req)
	require.NoError(t, err)
	require.NotEmpty(t, l.Address)
	host := l.Address
	if h, _, err := net.SplitHostPort(l.Address); err == nil {
		host = h
	}
	for _, got := range []vmpool.Lease{l, leases(t, p)[l.ID]} {
		m, ok := dockertls.ServerFromEnv(got.Request.Env)
		require.True(t, ok, "the lease's Env holds the engine's material")
		assert.Equal(t, ca.CertPEM(), m.CA)
		assert.Equal(t, req.Env["ORBIT_TASK_TOKEN"], got.Request.Env["ORBIT_TASK_TOKEN"], "the request's Env is kept")
		assert.Nil(t, got.Request.DockerTLS, "the authority is not kept")
		block, _ := pem.Decode([]byte(m.Cert))
		require.NotNil(t, block)
		cert, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM([]byte(ca.CertPEM()))
		_, err = cert.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		assert.NoError(t, err, "the engine's certificate is the authority's, for %s", host)
		_, err = dockertls.ServerConfig(m)
		assert.NoError(t, err, "the key matches the certificate")
	}
	require.NoError(t, p.Release(ctx, l.ID))
}
