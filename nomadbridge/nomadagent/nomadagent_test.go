package nomadagent_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

func TestReachable(t *testing.T) {
	answer := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			assert.Equal(t, "/v1/status/leader", r.URL.Path)
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	tests := []struct {
		name, addr, want string
	}{
		{"healthy", answer(200, `"127.0.0.1:4647"`), ""},
		{"no leader", answer(200, `""`), "has no cluster leader"},
		{"error status", answer(500, `No cluster leader`), "answered 500"},
		{"not nomad", answer(200, `<html>`), "is it Nomad?"},
		{"nothing listening", closed, "nomad unreachable at " + closed},
		{"not a url", "::bad", "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := nomadagent.Reachable(context.Background(), tt.addr)
			if tt.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.want)
			}
		})
	}
}

func TestStartStop(t *testing.T) {
	bin := nomadtest.Binary(t)
	if testing.Short() {
		t.Skip("starts a Nomad agent")
	}
	ctx := context.Background()
	a, err := nomadagent.Start(ctx, nomadagent.Config{Binary: bin, DataDir: t.TempDir(), DieWithParent: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Stop() })
	require.NoError(t, nomadagent.Reachable(ctx, a.Addr()))
	require.NoError(t, a.Stop())
	assert.ErrorContains(t, nomadagent.Reachable(ctx, a.Addr()), "nomad unreachable at")
	require.NoError(t, a.Stop(), "Stop twice is fine")
}

func TestStartFailsClearly(t *testing.T) {
	_, err := nomadagent.Start(context.Background(), nomadagent.Config{
		Binary: filepath.Join(t.TempDir(), "no-such-nomad"), DataDir: t.TempDir()})
	assert.ErrorContains(t, err, "no-such-nomad")
}
