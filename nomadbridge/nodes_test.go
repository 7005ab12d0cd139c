package nomadbridge_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
)

// fakeNodes is an in-memory *api.Nodes.
type fakeNodes struct {
	mu     sync.Mutex
	nodes  []*api.NodeListStub
	allocs map[string][]*api.Allocation
	drains map[string]*api.DrainOptions
	// toggles are the ToggleEligibility calls, "<node> <eligible>".
	toggles []string
}

func (f *fakeNodes) List(*api.QueryOptions) ([]*api.NodeListStub, *api.QueryMeta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes, &api.QueryMeta{}, nil
}

func (f *fakeNodes) Allocations(id string, _ *api.QueryOptions) ([]*api.Allocation, *api.QueryMeta, error) {
	return f.allocs[id], &api.QueryMeta{}, nil
}

func (f *fakeNodes) UpdateDrainOpts(id string, o *api.DrainOptions, _ *api.WriteOptions) (*api.NodeDrainUpdateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drains[id] = o
	for _, n := range f.nodes {
		if n.ID == id {
			n.Drain = o.DrainSpec != nil
			if n.Drain {
				n.SchedulingEligibility = "ineligible"
			} else if o.MarkEligible {
				n.SchedulingEligibility = "eligible"
			}
		}
	}
	return &api.NodeDrainUpdateResponse{}, nil
}

func (f *fakeNodes) ToggleEligibility(id string, eligible bool, _ *api.WriteOptions) (*api.NodeEligibilityUpdateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.toggles = append(f.toggles, fmt.Sprint(id, " ", eligible))
	for _, n := range f.nodes {
		if n.ID == id {
			n.SchedulingEligibility = map[bool]string{true: "eligible", false: "ineligible"}[eligible]
		}
	}
	return &api.NodeEligibilityUpdateResponse{}, nil
}

func TestNodes(t *testing.T) {
	ctx := context.Background()
	f := &fakeNodes{
		nodes: []*api.NodeListStub{
			{ID: "b2c3d4e5-0000", Name: "client-b", Datacenter: "dc1", Status: "ready", SchedulingEligibility: "eligible"},
			{ID: "a1b2c3d4-0000", Name: "client-a", Datacenter: "dc1", NodeClass: "gpu", Status: "ready", SchedulingEligibility: "eligible"},
			{ID: "a1ffffff-0000", Name: "client-c", Datacenter: "dc1", Status: "down", SchedulingEligibility: "eligible"},
		},
		allocs: map[string][]*api.Allocation{"a1b2c3d4-0000": {
			{ID: "alloc-1234567", JobID: "p-0-build-acme-app-7", ClientStatus: "running", Job: &api.Job{Meta: map[string]string{nomadbridge.MetaTaskID: "task-7"}}},
			{ID: "alloc-done", JobID: "old", ClientStatus: "complete"},
			{ID: "alloc-other", JobID: "other", ClientStatus: "running", Job: &api.Job{}},
		}},
		drains: map[string]*api.DrainOptions{},
	}
	n := nomadbridge.Nodes{API: f}
	list, err := n.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, "client-a", list[0].Name)
	assert.Equal(t, []nomadbridge.NodeAlloc{{ID: "alloc-other", JobID: "other"},
		{ID: "alloc-1234567", JobID: "p-0-build-acme-app-7", TaskID: "task-7"}}, list[0].Running)
	var out bytes.Buffer
	require.NoError(t, nomadbridge.WriteNodes(&out, list))
	assert.Contains(t, out.String(), "a1b2c3d4  dc1  client-a  gpu")
	assert.Contains(t, out.String(), "client-a runs:\n  alloc-ot  other  (not Orbit's)\n  alloc-12  p-0-build-acme-app-7  task task-7\n")

	tests := []struct {
		ref, want, err string
	}{
		{"client-b", "b2c3d4e5-0000", ""},
		{"b2c3", "b2c3d4e5-0000", ""},
		{"a1b2c3d4-0000", "a1b2c3d4-0000", ""},
		{"a1", "", "ambiguous"},
		{"zz", "", "node not found"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := n.Find(ctx, tt.ref)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.ID)
		})
	}

	require.NoError(t, n.Drain(ctx, "b2c3d4e5-0000", 0))
	assert.Equal(t, nomadbridge.DefaultDrainDeadline, f.drains["b2c3d4e5-0000"].DrainSpec.Deadline, "running builds may finish")
	require.NoError(t, n.Drain(ctx, "b2c3d4e5-0000", -time.Second))
	assert.Equal(t, -time.Second, f.drains["b2c3d4e5-0000"].DrainSpec.Deadline)
	require.NoError(t, n.Undrain(ctx, "b2c3d4e5-0000"))
	assert.Nil(t, f.drains["b2c3d4e5-0000"].DrainSpec)
	got, _ := n.Find(ctx, "client-b")
	assert.False(t, got.Drain)
	assert.Equal(t, "eligible", got.Eligibility)
	// Eligibility comes back through ToggleEligibility, the call after which
	// Nomad retries the evaluations blocked during the drain; ending the
	// drain with MarkEligible would not.
	assert.False(t, f.drains["b2c3d4e5-0000"].MarkEligible)
	assert.Equal(t, []string{"b2c3d4e5-0000 true"}, f.toggles)
	require.NoError(t, n.SetEligibility(ctx, "a1b2c3d4-0000", false))
	got, _ = n.Find(ctx, "client-a")
	assert.Equal(t, "ineligible", got.Eligibility)
}
