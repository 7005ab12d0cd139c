package nomadbridge_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

// countingProxy forwards to target and counts the watches' list requests
// (allocations and evaluations).
func countingProxy(t *testing.T, target string) (addr string, allocLists *atomic.Int64) {
	t.Helper()
	allocLists = &atomic.Int64{}
	return nomadProxy(t, target, func(r *http.Request) {
		if r.URL.Path == "/v1/allocations" || r.URL.Path == "/v1/evaluations" {
			allocLists.Add(1)
		}
	}), allocLists
}

// nomadProxy forwards to target and shows each request to seen first.
func nomadProxy(t *testing.T, target string, seen func(*http.Request)) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen(r)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestIdleBridgeBlocksOnNomad: on a fresh Nomad agent (no allocation ever,
// so Nomad answers the list with index 0) an idle bridge waits in blocking
// queries instead of listing in a loop (it used to send ~1,400 a second).
func TestIdleBridgeBlocksOnNomad(t *testing.T) {
	agent := nomadtest.StartAgent(t)
	addr, lists := countingProxy(t, agent.Addr())
	nc, err := api.NewClient(&api.Config{Address: addr})
	require.NoError(t, err)
	l := newLive(t)
	l.nomad = nc
	l.start(t, time.Hour, func(c *nomadbridge.Config) {
		c.WatchWait = 30 * time.Second
		c.MinBackoff, c.MaxBackoff = 100*time.Millisecond, time.Second
	})
	require.Eventually(t, func() bool { return lists.Load() >= 2 }, 30*time.Second, 10*time.Millisecond,
		"the watches list allocations and evaluations")
	// Measure over a window: an idle watch holds one blocking query open.
	start := lists.Load()
	window := time.NewTimer(3 * time.Second)
	<-window.C
	n := lists.Load() - start
	assert.LessOrEqual(t, n, int64(4), "allocation and evaluation lists in 3 s while idle")
}
