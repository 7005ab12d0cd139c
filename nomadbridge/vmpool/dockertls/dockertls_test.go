package dockertls_test

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
)

// engine serves TLS with m on loopback and answers "OK" to whoever gets
// through the handshake.
func engine(t *testing.T, m dockertls.Material) string {
	t.Helper()
	cfg, err := dockertls.ServerConfig(m)
	require.NoError(t, err)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() == nil {
					_, _ = io.WriteString(c, "OK")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func talk(addr string, m dockertls.Material, host string) (string, error) {
	cfg, err := dockertls.ClientConfig(m, host)
	if err != nil {
		return "", err
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestOnlyTheTasksClientReachesTheTasksEngine(t *testing.T) {
	now := time.Now()
	mine, err := dockertls.NewCA("task-1", now, time.Hour)
	require.NoError(t, err)
	other, err := dockertls.NewCA("task-2", now, time.Hour)
	require.NoError(t, err)
	srv, err := mine.Server("127.0.0.1")
	require.NoError(t, err)
	addr := engine(t, srv)
	client, err := mine.Client()
	require.NoError(t, err)
	foreign, err := other.Client()
	require.NoError(t, err)

	got, err := talk(addr, client, "127.0.0.1")
	require.NoError(t, err)
	assert.Equal(t, "OK", got, "the task's client gets through")

	got, err = talk(addr, foreign, "127.0.0.1")
	assert.Error(t, err, "another task's client certificate is refused")
	assert.Empty(t, got)

	_, err = talk(addr, client, "10.1.2.3")
	assert.ErrorContains(t, err, "10.1.2.3", "the engine's certificate names the VM's address only")

	otherSrv, err := other.Server("127.0.0.1")
	require.NoError(t, err)
	_, err = talk(engine(t, otherSrv), client, "127.0.0.1")
	assert.Error(t, err, "the job trusts no engine of another task's authority")
}

func TestMaterial(t *testing.T) {
	ca, err := dockertls.NewCA("task-1", time.Now(), time.Hour)
	require.NoError(t, err)
	srv, err := ca.Server("ip-10-0-0-1.internal")
	require.NoError(t, err)
	assert.Equal(t, ca.CertPEM(), srv.CA)
	assert.True(t, strings.HasPrefix(srv.Key, "-----BEGIN EC PRIVATE KEY-----"))
	back, ok := dockertls.ServerFromEnv(srv.ServerEnv())
	assert.True(t, ok)
	assert.Equal(t, srv, back)
	_, ok = dockertls.ServerFromEnv(map[string]string{dockertls.EnvServerCA: srv.CA})
	assert.False(t, ok, "a partial environment is no material")
	_, err = ca.Server("")
	assert.Error(t, err)
	_, err = dockertls.NewCA("x", time.Now(), 0)
	assert.Error(t, err)
	for _, v := range []string{srv.Cert, srv.CA} {
		assert.NotContains(t, v, "PRIVATE KEY", "certificates carry no key")
	}
}
