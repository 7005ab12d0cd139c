package fakepool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/fakepool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/vmpooltest"
)

func TestConformance(t *testing.T) {
	vmpooltest.Run(t, func(t *testing.T, cfg vmpooltest.Config) vmpooltest.Driver {
		p := fakepool.New(fakepool.Config{Capacity: cfg.Capacity, Images: cfg.Images,
			ResourceClasses: cfg.ResourceClasses, PreallocatedImages: cfg.PreallocatedImages})
		t.Cleanup(p.Close)
		return vmpooltest.Driver{Pool: p, Kill: func(t *testing.T, id string) {
			require.True(t, p.Kill(id, "the VM was lost"))
		}}
	})
}

// TestConformanceWithBoot runs the suite with VMs that really run
// something until they are stopped.
func TestConformanceWithBoot(t *testing.T) {
	vmpooltest.Run(t, func(t *testing.T, cfg vmpooltest.Config) vmpooltest.Driver {
		p := fakepool.New(fakepool.Config{Capacity: cfg.Capacity, Images: cfg.Images,
			ResourceClasses: cfg.ResourceClasses, PreallocatedImages: cfg.PreallocatedImages, Boot: fakepool.Command(nil, "sleep", "600")})
		t.Cleanup(p.Close)
		return vmpooltest.Driver{Pool: p, Kill: func(t *testing.T, id string) {
			require.True(t, p.Kill(id, "the VM was lost"))
		}}
	})
}

// bootRecorder is a Boot that records its requests and runs until told.
type bootRecorder struct {
	mu      sync.Mutex
	started []vmpool.Request
	exit    chan error
}

func (b *bootRecorder) boot(ctx context.Context, r vmpool.Request) error {
	b.mu.Lock()
	b.started = append(b.started, r)
	b.mu.Unlock()
	select {
	case err := <-b.exit:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *bootRecorder) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.started)
}

func state(t *testing.T, p *fakepool.Pool, id string) vmpool.Lease {
	t.Helper()
	ls, err := p.Leases(context.Background())
	require.NoError(t, err)
	for _, l := range ls {
		if l.ID == id {
			return l
		}
	}
	return vmpool.Lease{}
}

func TestBootRunsOncePerLeaseWithTheEnv(t *testing.T) {
	rec := &bootRecorder{exit: make(chan error, 1)}
	p := fakepool.New(fakepool.Config{Capacity: 2, Boot: rec.boot})
	t.Cleanup(p.Close)
	ctx := context.Background()
	req := vmpool.Request{TaskID: "t1", Purpose: vmpool.Machine, Env: map[string]string{"ORBIT_TASK_TOKEN": "tok"}}
	l, err := p.Lease(ctx, req)
	require.NoError(t, err)
	_, err = p.Lease(ctx, req)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rec.count() == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "tok", rec.started[0].Env["ORBIT_TASK_TOKEN"])
	assert.Equal(t, 1, p.Made())

	// The agent exits on its own: the VM shuts down, the lease stays.
	rec.exit <- nil
	require.Eventually(t, func() bool { return state(t, p, l.ID).State == vmpool.Stopped }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "the VM shut down", state(t, p, l.ID).Reason)
	assert.Equal(t, 1, p.Held())
	require.NoError(t, p.Release(ctx, l.ID))
	assert.Zero(t, p.Held())
}

func TestBootFailureIsTheReason(t *testing.T) {
	rec := &bootRecorder{exit: make(chan error, 1)}
	p := fakepool.New(fakepool.Config{Boot: rec.boot})
	t.Cleanup(p.Close)
	l, err := p.Lease(context.Background(), vmpool.Request{TaskID: "t1", Purpose: vmpool.Machine})
	require.NoError(t, err)
	rec.exit <- errors.New("kernel panic")
	require.Eventually(t, func() bool { return state(t, p, l.ID).State == vmpool.Stopped }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "the VM failed: kernel panic", state(t, p, l.ID).Reason)
}

func TestReleaseStopsTheVM(t *testing.T) {
	rec := &bootRecorder{exit: make(chan error)}
	p := fakepool.New(fakepool.Config{Boot: rec.boot})
	l, err := p.Lease(context.Background(), vmpool.Request{TaskID: "t1", Purpose: vmpool.Machine})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rec.count() == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, p.Release(context.Background(), l.ID), "Release returns once Boot returned")
	assert.Zero(t, p.Held())
}

func TestExpiredLeaseIsReclaimed(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rec := &bootRecorder{exit: make(chan error)}
	p := fakepool.New(fakepool.Config{Boot: rec.boot, LeaseDuration: time.Minute, Now: clock})
	t.Cleanup(p.Close)
	l, err := p.Lease(context.Background(), vmpool.Request{TaskID: "t1", Purpose: vmpool.Machine})
	require.NoError(t, err)
	assert.Equal(t, now.Add(time.Minute), l.ExpiresAt)
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	got := state(t, p, l.ID)
	assert.Equal(t, vmpool.Stopped, got.State)
	assert.Contains(t, got.Reason, "lease expired at 2025-01-01T12:01:00Z")
	_, err = p.Lease(context.Background(), vmpool.Request{TaskID: "t2", Purpose: vmpool.Machine})
	assert.ErrorIs(t, err, vmpool.ErrUnavailable, "an expired lease holds its VM until released")
	require.NoError(t, p.Release(context.Background(), l.ID))
}

func TestCommandReportsTheExitCode(t *testing.T) {
	boot := fakepool.Command(nil, "sh", "-c", `test "$ORBIT_TASK_TOKEN" = tok && exit 7`)
	err := boot(context.Background(), vmpool.Request{Env: map[string]string{"ORBIT_TASK_TOKEN": "tok"}})
	assert.EqualError(t, err, "the agent exited with code 7")
	ok := fakepool.Command(nil, "true")
	assert.NoError(t, ok(context.Background(), vmpool.Request{}))
}
