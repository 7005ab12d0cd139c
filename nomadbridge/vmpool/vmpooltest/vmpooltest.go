// Package vmpooltest is the conformance suite of the vmpool port: every
// driver (fakepool; the EC2 driver against moto) runs Run against a fresh
// pool per test, so a fake cannot drift from the real thing. It pins down
// the contract in vmpool's package comment: Lease idempotent by TaskID,
// Release idempotent, ErrUnavailable when the pool is exhausted and
// ErrUnknownClass for what it does not know (neither taking capacity),
// Leases listing what is held, stopped VMs staying leased until released,
// and safety under concurrent calls.
//
// The suite works in real time and waits on conditions with deadlines;
// subtests run in parallel, each on its own pool.
package vmpooltest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
)

// Config describes the pool the suite asks newPool for.
type Config struct {
	// Capacity is how many leases the pool may hold at once.
	Capacity int
	// Images and ResourceClasses are what the pool must know, besides ""
	// (the defaults); the suite's unknown names are none of them.
	Images          []string
	ResourceClasses []string
	// PreallocatedImages are images (besides Images) whose pools keep
	// preallocated VMs: the suite checks that Docker layer caching is
	// refused there, as the seed's VM service requires on-demand VMs for it.
	PreallocatedImages []string
}

// Driver is a pool under test and the controls the suite needs.
type Driver struct {
	Pool vmpool.Pool
	// Kill makes a lease's VM die as if the cloud lost it (for EC2:
	// terminate the instance behind the pool's back). Nil skips the test
	// that needs it.
	Kill func(t *testing.T, leaseID string)
}

// NewPool makes a fresh, empty pool for one test and arranges its cleanup
// with t.Cleanup. It fails t when it cannot.
type NewPool func(t *testing.T, cfg Config) Driver

// Names the suite leases with.
const (
	Image          = "ubuntu-2204:current"
	ResourceClass  = "medium"
	ResourceClass2 = "large"
	// PreallocatedImage is the suite's image of a preallocated pool.
	PreallocatedImage = "ubuntu-2204:preallocated"
	unknownImage      = "no-such-image:2001.01"
	unknownClass      = "gigantic.xxl"
)

// patience bounds every wait for something that should happen (generous:
// the EC2 driver's suite runs against moto on a busy machine).
const patience = 90 * time.Second

// Run runs the conformance suite against the driver newPool makes.
func Run(t *testing.T, newPool NewPool) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, newPool NewPool)
	}{
		{"LeaseListRelease", testLeaseListRelease},
		{"LeaseIsIdempotentByTaskID", testLeaseIdempotent},
		{"ReleaseIsIdempotent", testReleaseIdempotent},
		{"UnavailableWhenExhausted", testUnavailable},
		{"UnknownClassIsFinal", testUnknownClass},
		{"StoppedVMStaysLeased", testStopped},
		{"ConcurrentLeasesAndReleases", testConcurrent},
		{"DLCVolumeIsReusedWithinAProject", testDLCReuse},
		{"DLCVolumeServesOneLeaseAtATime", testDLCOneAtATime},
		{"DLCVolumeNeverCrossesProjects", testDLCProjects},
		{"DLCRefusedOnPreallocatedPools", testDLCPreallocated},
		{"RemoteDockerEngineCertificateNamesTheVM", testRemoteDockerTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newPool)
		})
	}
}

func newDriver(t *testing.T, newPool NewPool, capacity int) Driver {
	t.Helper()
	d := newPool(t, Config{Capacity: capacity, Images: []string{Image},
		ResourceClasses: []string{ResourceClass, ResourceClass2}, PreallocatedImages: []string{PreallocatedImage}})
	require.NotNil(t, d.Pool)
	return d
}

func request(taskID string) vmpool.Request {
	return vmpool.Request{
		TaskID: taskID, ProjectSlug: "gh/acme/app", Purpose: vmpool.Machine, Image: Image,
		ResourceClass: ResourceClass,
		Env: map[string]string{
			"ORBIT_RUNNER_URL": "http://runner.invalid/runner/v1",
			"ORBIT_TASK_TOKEN": "token-of-" + taskID,
		},
		Meta: map[string]string{"orbit_task_id": taskID, "orbit_pipeline_id": "pipeline-1"},
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

func leases(t *testing.T, p vmpool.Pool) map[string]vmpool.Lease {
	t.Helper()
	ls, err := p.Leases(ctxFor(t))
	require.NoError(t, err)
	out := map[string]vmpool.Lease{}
	for _, l := range ls {
		require.NotContains(t, out, l.ID, "Leases lists a lease twice")
		out[l.ID] = l
	}
	return out
}

func testLeaseListRelease(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 2).Pool
	ctx := ctxFor(t)
	before := time.Now()
	req := request("task-1")
	req.ResourceClass = ResourceClass2
	l, err := p.Lease(ctx, req)
	require.NoError(t, err)
	assert.NotEmpty(t, l.ID)
	assert.True(t, l.ExpiresAt.After(before), "a new lease expires in the future, not at %v", l.ExpiresAt)
	assert.Equal(t, vmpool.Running, l.State)
	assert.Equal(t, req, l.Request, "the lease carries its request")

	// Defaults: "" image and class.
	d, err := p.Lease(ctx, vmpool.Request{TaskID: "task-2", Purpose: vmpool.Machine, Env: req.Env})
	require.NoError(t, err)
	assert.NotEqual(t, l.ID, d.ID)

	listed := leases(t, p)
	require.Len(t, listed, 2)
	got := listed[l.ID]
	assert.Equal(t, req, got.Request, "Leases returns the request: a restarted bridge re-learns its tasks")
	assert.Equal(t, vmpool.Running, got.State)
	assert.Equal(t, l.ExpiresAt.Unix(), got.ExpiresAt.Unix())

	require.NoError(t, p.Release(ctx, l.ID))
	listed = leases(t, p)
	assert.NotContains(t, listed, l.ID, "a released lease is not listed")
	assert.Contains(t, listed, d.ID)
}

func testLeaseIdempotent(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 2).Pool
	ctx := ctxFor(t)
	a, err := p.Lease(ctx, request("task-1"))
	require.NoError(t, err)
	again, err := p.Lease(ctx, request("task-1"))
	require.NoError(t, err)
	assert.Equal(t, a.ID, again.ID, "a redelivered message gets the same lease")
	assert.Len(t, leases(t, p), 1)
	// The repeated Lease took no capacity: a second task still fits.
	_, err = p.Lease(ctx, request("task-2"))
	require.NoError(t, err)
	_, err = p.Lease(ctx, request("task-1"))
	require.NoError(t, err, "a task holding a lease gets it back even when the pool is full")
	assert.Len(t, leases(t, p), 2)
}

func testReleaseIdempotent(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 1).Pool
	ctx := ctxFor(t)
	assert.NoError(t, p.Release(ctx, "never-leased"), "releasing an unknown lease is not an error")
	a, err := p.Lease(ctx, request("task-1"))
	require.NoError(t, err)
	require.NoError(t, p.Release(ctx, a.ID))
	require.NoError(t, p.Release(ctx, a.ID), "a second Release is a no-op")
	assert.Empty(t, leases(t, p))
	// The capacity is back, and a new lease for the same task is a new VM.
	b, err := p.Lease(ctx, request("task-1"))
	require.NoError(t, err)
	assert.NotEqual(t, a.ID, b.ID, "a VM never serves a second lease")
	require.NoError(t, p.Release(ctx, b.ID))
}

func testUnavailable(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 2).Pool
	ctx := ctxFor(t)
	a, err := p.Lease(ctx, request("task-1"))
	require.NoError(t, err)
	_, err = p.Lease(ctx, request("task-2"))
	require.NoError(t, err)
	_, err = p.Lease(ctx, request("task-3"))
	require.ErrorIs(t, err, vmpool.ErrUnavailable)
	assert.NotErrorIs(t, err, vmpool.ErrUnknownClass)
	assert.Len(t, leases(t, p), 2, "a refused Lease holds nothing")
	require.NoError(t, p.Release(ctx, a.ID))
	c, err := p.Lease(ctx, request("task-3"))
	require.NoError(t, err, "a released VM's capacity is available again")
	assert.Equal(t, "task-3", c.Request.TaskID)
}

func testUnknownClass(t *testing.T, newPool NewPool) {
	p := newDriver(t, newPool, 1).Pool
	ctx := ctxFor(t)
	img := request("task-1")
	img.Image = unknownImage
	_, err := p.Lease(ctx, img)
	assert.ErrorIs(t, err, vmpool.ErrUnknownClass)
	assert.NotErrorIs(t, err, vmpool.ErrUnavailable)
	class := request("task-2")
	class.ResourceClass = unknownClass
	_, err = p.Lease(ctx, class)
	assert.ErrorIs(t, err, vmpool.ErrUnknownClass)
	assert.Empty(t, leases(t, p), "a refused Lease holds nothing")
	// Unknown is final: it says so even when the pool is full.
	_, err = p.Lease(ctx, request("task-3"))
	require.NoError(t, err)
	_, err = p.Lease(ctx, class)
	assert.ErrorIs(t, err, vmpool.ErrUnknownClass)
}

func testStopped(t *testing.T, newPool NewPool) {
	d := newDriver(t, newPool, 1)
	if d.Kill == nil {
		t.Skip("the driver offers no way to kill a VM")
	}
	p := d.Pool
	ctx := ctxFor(t)
	a, err := p.Lease(ctx, request("task-1"))
	require.NoError(t, err)
	d.Kill(t, a.ID)
	var got vmpool.Lease
	require.Eventually(t, func() bool {
		got = leases(t, p)[a.ID]
		return got.State == vmpool.Stopped
	}, patience, 10*time.Millisecond, "a dead VM's lease is listed Stopped")
	assert.NotEmpty(t, got.Reason, "a Stopped lease says why")
	assert.Equal(t, "task-1", got.Request.TaskID)
	again, err := p.Lease(ctx, request("task-1"))
	require.NoError(t, err)
	assert.Equal(t, a.ID, again.ID, "a stopped VM's lease is still the task's lease")
	assert.Equal(t, vmpool.Stopped, again.State)
	require.NoError(t, p.Release(ctx, a.ID))
	assert.Empty(t, leases(t, p))
}

func testConcurrent(t *testing.T, newPool NewPool) {
	const capacity, tasks, callers = 3, 6, 4
	p := newDriver(t, newPool, capacity).Pool
	// A driver may serialize its calls (ec2pool does, under a mutex): the
	// last of the tasks×callers Leases waits for all the others, so the
	// deadline covers them all (on a busy machine each is a few moto
	// calls that take seconds), not one call's patience.
	ctx, cancel := context.WithTimeout(context.Background(), 4*patience)
	t.Cleanup(cancel)
	type result struct {
		task string
		id   string
		err  error
	}
	results := make(chan result, tasks*callers)
	var wg sync.WaitGroup
	for i := range tasks * callers {
		task := fmt.Sprintf("task-%d", i%tasks)
		wg.Go(func() {
			l, err := p.Lease(ctx, request(task))
			results <- result{task, l.ID, err}
		})
	}
	wg.Wait()
	close(results)
	ids := map[string]map[string]bool{}
	refused := map[string]int{}
	for r := range results {
		switch {
		case r.err == nil:
			if ids[r.task] == nil {
				ids[r.task] = map[string]bool{}
			}
			ids[r.task][r.id] = true
		case errors.Is(r.err, vmpool.ErrUnavailable):
			refused[r.task]++
		default:
			t.Errorf("Lease %s: unexpected error %v", r.task, r.err)
		}
	}
	assert.Len(t, ids, capacity, "exactly Capacity tasks got a VM")
	seen := map[string]bool{}
	for task, set := range ids {
		assert.Len(t, set, 1, "every caller for %s got the same lease", task)
		assert.Zero(t, refused[task], "a task holding a lease is never refused")
		for id := range set {
			assert.False(t, seen[id], "lease %s given to two tasks", id)
			seen[id] = true
		}
	}
	listed := leases(t, p)
	assert.Len(t, listed, capacity)

	// Release concurrently, each lease twice.
	for id := range listed {
		for range 2 {
			wg.Go(func() { assert.NoError(t, p.Release(ctx, id)) })
		}
	}
	wg.Wait()
	assert.Empty(t, leases(t, p))
}
