package vmpooltest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
)

// Docker layer caching: a volume per project, reused by that project's
// leases only, one lease at a time.

const otherProject = "gh/acme/other"

func dlcRequest(taskID, project string) vmpool.Request {
	r := request(taskID)
	r.ProjectSlug, r.DockerLayerCaching = project, true
	return r
}

// leaseCache leases a DLC VM for project until its cache is want (a
// released lease's volume may take a moment to detach), releasing the
// misses; it returns the lease that got it.
func leaseCache(t *testing.T, p vmpool.Pool, task, project, want string) vmpool.Lease {
	t.Helper()
	ctx := ctxFor(t)
	var got vmpool.Lease
	n := 0
	require.Eventually(t, func() bool {
		n++
		l, err := p.Lease(ctx, dlcRequest(fmt.Sprintf("%s-%d", task, n), project))
		require.NoError(t, err)
		if l.Cache == want {
			got = l
			return true
		}
		require.NotEmpty(t, l.Cache, "a DLC lease has a cache volume")
		require.NoError(t, p.Release(ctx, l.ID))
		return false
	}, patience, 50*time.Millisecond, "the project's free volume %s is reused", want)
	return got
}

func testDLCReuse(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 3).Pool
	ctx := ctxFor(t)
	a, err := p.Lease(ctx, dlcRequest("task-1", "gh/acme/app"))
	require.NoError(t, err)
	require.NotEmpty(t, a.Cache, "a DLC lease gets a cache volume")
	assert.True(t, a.Request.DockerLayerCaching)
	assert.Equal(t, a.Cache, leases(t, p)[a.ID].Cache, "Leases shows the cache")
	plain, err := p.Lease(ctx, request("task-plain"))
	require.NoError(t, err)
	assert.Empty(t, plain.Cache, "no cache without docker_layer_caching")
	again, err := p.Lease(ctx, dlcRequest("task-1", "gh/acme/app"))
	require.NoError(t, err)
	assert.Equal(t, a.Cache, again.Cache, "a repeated Lease keeps its volume")

	require.NoError(t, p.Release(ctx, a.ID))
	b := leaseCache(t, p, "task-2", "gh/acme/app", a.Cache)
	assert.Equal(t, "gh/acme/app", b.Request.ProjectSlug)
	require.NoError(t, p.Release(ctx, b.ID))
}

func testDLCOneAtATime(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 3).Pool
	ctx := ctxFor(t)
	a, err := p.Lease(ctx, dlcRequest("task-1", "gh/acme/app"))
	require.NoError(t, err)
	b, err := p.Lease(ctx, dlcRequest("task-2", "gh/acme/app"))
	require.NoError(t, err)
	require.NotEmpty(t, a.Cache)
	require.NotEmpty(t, b.Cache)
	assert.NotEqual(t, a.Cache, b.Cache, "two leases held at once never share a volume: a new one is made")
	require.NoError(t, p.Release(ctx, a.ID))
	// b still holds its volume: a third lease gets a's, never b's.
	c := leaseCache(t, p, "task-3", "gh/acme/app", a.Cache)
	assert.NotEqual(t, b.Cache, c.Cache)
	for _, l := range leases(t, p) {
		if l.ID != b.ID {
			assert.NotEqual(t, b.Cache, l.Cache, "b's volume is b's alone")
		}
	}
}

func testDLCProjects(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 3).Pool
	ctx := ctxFor(t)
	a, err := p.Lease(ctx, dlcRequest("task-1", "gh/acme/app"))
	require.NoError(t, err)
	require.NotEmpty(t, a.Cache)
	require.NoError(t, p.Release(ctx, a.ID))
	// a's volume is free now (or soon): another project never gets it.
	for i := range 3 {
		o, err := p.Lease(ctx, dlcRequest(fmt.Sprintf("other-%d", i), otherProject))
		require.NoError(t, err)
		require.NotEmpty(t, o.Cache)
		assert.NotEqual(t, a.Cache, o.Cache, "a volume never serves another project")
		require.NoError(t, p.Release(ctx, o.ID))
	}
	// …and it is still there for its own.
	b := leaseCache(t, p, "task-2", "gh/acme/app", a.Cache)
	require.NoError(t, p.Release(ctx, b.ID))
}

func testDLCPreallocated(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 2).Pool
	ctx := ctxFor(t)
	r := dlcRequest("task-1", "gh/acme/app")
	r.Image = PreallocatedImage
	_, err := p.Lease(ctx, r)
	require.ErrorIs(t, err, vmpool.ErrRefused)
	assert.False(t, errors.Is(err, vmpool.ErrUnavailable) || errors.Is(err, vmpool.ErrUnknownClass), "refused is its own answer: %v", err)
	assert.Contains(t, err.Error(), "docker_layer_caching", "the job's message says what to change")
	assert.Empty(t, leases(t, p), "a refused Lease holds nothing")
	r.DockerLayerCaching = false
	l, err := p.Lease(ctx, r)
	require.NoError(t, err, "the preallocated pool serves leases without DLC")
	assert.Empty(t, l.Cache)
	require.NoError(t, p.Release(ctx, l.ID))
}
