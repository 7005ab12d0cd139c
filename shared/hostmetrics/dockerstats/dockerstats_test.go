package dockerstats_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/hostmetrics/dockerstats"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// shortSocket is a socket path under the 108-byte limit of sun_path
// (t.TempDir can be longer).
func shortSocket(t *testing.T) string {
	dir, err := os.MkdirTemp("", "ds")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "d.sock")
}

// TestErrors: what each failure says names the request, the socket, the
// status and dockerd's message.
func TestErrors(t *testing.T) {
	sock := shortSocket(t)
	c, err := dockerstats.New(dockerstats.Config{Socket: sock, Timeout: 10 * time.Second})
	require.NoError(t, err)
	_, err = c.List(t.Context())
	assert.ErrorContains(t, err, "docker GET /containers/json on unix://"+sock+": ")
	assert.ErrorContains(t, err, "no such file or directory")

	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containers/{id}/stats", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "false", r.URL.Query().Get("stream"))
		assert.Equal(t, "false", r.URL.Query().Get("one-shot"), "two readings, so precpu_stats is filled")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"No such container: gone"}`))
	})
	mux.HandleFunc("GET /containers/json", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("engine broke"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	_, err = c.Stats(t.Context(), "gone")
	var se *dockerstats.StatusError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, http.StatusNotFound, se.Status)
	assert.EqualError(t, err, "docker GET /containers/gone/stats on unix://"+sock+": HTTP 404: No such container: gone")
	_, err = c.List(t.Context())
	assert.EqualError(t, err, "docker GET /containers/json on unix://"+sock+": HTTP 500: engine broke")
	_, err = c.Stats(t.Context(), "../images/json")
	assert.ErrorContains(t, err, "bad container id")
	_, err = dockerstats.New(dockerstats.Config{Socket: "docker.sock"})
	assert.ErrorContains(t, err, "want an absolute path")
}

// dockerClient is a client of the test dockerd (ORBIT_DOCKER_HOST).
func dockerClient(t *testing.T) (*dockerstats.Client, string) {
	host := testenv.Docker(t)
	sock, err := dockerstats.SocketFromHost(host)
	require.NoError(t, err)
	c, err := dockerstats.New(dockerstats.Config{Socket: sock})
	require.NoError(t, err)
	return c, host
}

// TestDockerd reads a real dockerd: a container burning CPU and one that
// holds 16 MiB of memory (a file in its /dev/shm tmpfs, charged to it as
// shared memory, not as inactive file cache) and writes 8 MiB with fsync.
func TestDockerd(t *testing.T) {
	c, host := dockerClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	burner := testenv.RunContainer(t, host, "burner", "while :; do :; done")
	holder := testenv.RunContainer(t, host, "holder",
		"dd if=/dev/zero of=/dev/shm/held bs=1M count=16 && dd if=/dev/zero of=/written bs=1M count=8 conv=fsync && touch /ready && exec sleep 3600")
	// Wait until the holder's memory is in place (it touches /ready).
	deadline := time.Now().Add(time.Minute)
	for {
		u, err := c.Stats(ctx, holder)
		require.NoError(t, err)
		if u.MemUsed >= 16<<20 || time.Now().After(deadline) {
			break
		}
	}

	list, err := c.List(ctx)
	require.NoError(t, err)
	ids := map[string]bool{}
	for _, ct := range list {
		ids[ct.ID] = true
		assert.Equal(t, "running", ct.State)
	}
	assert.GreaterOrEqual(t, len(list), 2)
	assert.True(t, ids[burner] && ids[holder], "both containers listed")

	b, err := c.Stats(ctx, burner)
	require.NoError(t, err)
	assert.Equal(t, burner, b.ID)
	assert.Greater(t, b.CPUPercent, 0.0, "the burner uses CPU")
	assert.Positive(t, b.MemLimit)
	assert.Zero(t, b.NetRx+b.NetTx, "no networking")

	h, err := c.Stats(ctx, holder)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, h.MemUsed, uint64(16<<20), "the holder's 16 MiB in /dev/shm")
	assert.GreaterOrEqual(t, h.MemLimit, h.MemUsed)
	if h.IOReported {
		assert.GreaterOrEqual(t, h.IOWrite, uint64(8<<20), "the holder's fsynced 8 MiB")
	} else {
		t.Log("dockerd reports no block I/O here (the kernel accounts none per cgroup): write bytes not checked")
	}

	_, err = c.Stats(ctx, "0000000000000000000000000000000000000000000000000000000000000000")
	var se *dockerstats.StatusError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, http.StatusNotFound, se.Status)
}
