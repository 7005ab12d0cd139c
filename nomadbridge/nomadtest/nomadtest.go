// Package nomadtest helps tests and benchmarks that run against a real
// Nomad agent (NOMAD_ADDR): waiting for allocations with blocking queries
// instead of sleeps.
package nomadtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/shared/testenv"
)

// Client returns an API client for NOMAD_ADDR, or skips the test when it is
// not set.
func Client(tb testing.TB) *api.Client {
	tb.Helper()
	addr := testenv.Need(tb, "NOMAD_ADDR", "make test starts a Nomad agent")
	c, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		tb.Fatalf("nomad client for %s: %v", addr, err)
	}
	return c
}

// WaitRunning waits until an allocation of jobID runs and returns it. It
// fails early when an allocation of the job ends before running.
func WaitRunning(ctx context.Context, client *api.Client, jobID string) (*api.AllocationListStub, error) {
	return WaitAlloc(ctx, client, jobID, func(a *api.AllocationListStub) (bool, error) {
		switch a.ClientStatus {
		case api.AllocClientStatusRunning:
			return true, nil
		case api.AllocClientStatusComplete, api.AllocClientStatusFailed, api.AllocClientStatusLost:
			return false, fmt.Errorf("allocation %s of job %s is %s (%s) before it ran", a.ID, jobID,
				a.ClientStatus, a.ClientDescription)
		}
		return false, nil
	})
}

// WaitAlloc waits until match accepts an allocation of jobID (or returns an
// error), following the job's allocations with blocking queries.
func WaitAlloc(ctx context.Context, client *api.Client, jobID string,
	match func(*api.AllocationListStub) (bool, error)) (*api.AllocationListStub, error) {
	var index uint64
	for {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second}).WithContext(ctx)
		allocs, meta, err := client.Jobs().Allocations(jobID, true, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("wait for allocation of %s: %w", jobID, ctx.Err())
			}
			return nil, fmt.Errorf("list allocations of %s: %w", jobID, err)
		}
		for _, a := range allocs {
			ok, err := match(a)
			if err != nil {
				return nil, err
			}
			if ok {
				return a, nil
			}
		}
		index = max(meta.LastIndex, 1) // index 0 (no allocation yet) would not block
	}
}
