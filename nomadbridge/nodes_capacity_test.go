package nomadbridge_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

func stub(id, name, class string, mhz, mib int64, gpus int, drivers ...string) *api.NodeListStub {
	s := &api.NodeListStub{ID: id, Name: name, NodeClass: class, Status: "ready", SchedulingEligibility: "eligible",
		Drivers: map[string]*api.DriverInfo{"java": {Detected: false, Healthy: false}},
		NodeResources: &api.NodeResources{Cpu: api.NodeCpuResources{CpuShares: mhz}, Memory: api.NodeMemoryResources{MemoryMB: mib},
			MinDynamicPort: 64535, MaxDynamicPort: 65535},
		// m5.2xlarge-like: 2 vCPU and 4 GiB reserved for coordination.
		ReservedResources: &api.NodeReservedResources{Cpu: api.NodeReservedCpuResources{CpuShares: 2000},
			Memory: api.NodeReservedMemoryResources{MemoryMB: 4096}}}
	for _, d := range drivers {
		s.Drivers[d] = &api.DriverInfo{Detected: true, Healthy: true}
	}
	if gpus > 0 {
		dev := &api.NodeDeviceResource{Vendor: "nvidia", Type: "gpu", Name: "Tesla T4"}
		for range gpus {
			dev.Instances = append(dev.Instances, &api.NodeDevice{Healthy: true})
		}
		s.NodeResources.Devices = []*api.NodeDeviceResource{dev}
	}
	return s
}

func TestNodesSayWhatTheyCanRun(t *testing.T) {
	f := &fakeNodes{nodes: []*api.NodeListStub{
		stub("a1", "client-a", "build", 8000, 32768, 0, "docker", "raw_exec"),
		stub("g1", "gpu-1", "gpu-t4", 16000, 65536, 1, "docker"),
		stub("g2", "not-gpu-class", "build", 16000, 65536, 1, "docker"),
		stub("t1", "tiny", "", 2500, 4096, 0),
	}, allocs: map[string][]*api.Allocation{}, drains: map[string]*api.DrainOptions{}}
	f.nodes[3].Drain = true
	list, err := nomadbridge.Nodes{API: f}.List(context.Background())
	require.NoError(t, err)
	byName := map[string]nomadbridge.Capacity{}
	for _, n := range list {
		byName[n.Name] = n.Capacity
	}
	a := byName["client-a"]
	assert.Equal(t, []string{"docker", "raw_exec"}, a.Drivers, "only healthy drivers")
	assert.Equal(t, int64(6000), a.CPUMHz)
	assert.Equal(t, int64(28672), a.MemoryMB)
	assert.Equal(t, []string{"small", "medium", "medium+", "large"}, a.Classes)
	assert.Equal(t, "64535-65535", a.DynamicPorts)
	assert.Contains(t, byName["gpu-1"].Classes, "gpu.nvidia.small")
	assert.Contains(t, byName["gpu-1"].Classes, "xlarge")
	assert.NotContains(t, byName["not-gpu-class"].Classes, "gpu.nvidia.small", "a GPU class needs a GPU node class")
	assert.Empty(t, byName["tiny"].Classes)

	var out bytes.Buffer
	require.NoError(t, nomadbridge.WriteNodes(&out, list))
	assert.Contains(t, out.String(), "client-a  takes new builds\n    drivers: docker, raw_exec\n"+
		"    for builds: 6000 MHz CPU, 28672 MiB memory; dynamic ports 64535-65535\n    resource classes: small, medium, medium+, large\n")
	assert.Contains(t, out.String(), "tiny  draining: takes no new builds")
	assert.Contains(t, out.String(), "resource classes: none (too small for the smallest resource class)")

	// The embedded shape's scale fits every non-GPU class on a small node.
	list, err = nomadbridge.Nodes{API: f, ResourceScale: 0.05}.List(context.Background())
	require.NoError(t, err)
	assert.Contains(t, list[0].Capacity.Classes, "2xlarge+")
}

// TestLiveNodesListTheDevAgent: the real agent's node lists raw_exec and
// the classes it fits at the embedded scale.
func TestLiveNodesListTheDevAgent(t *testing.T) {
	nc := nomadtest.Client(t)
	list, err := nomadbridge.Nodes{API: nc.Nodes(), ResourceScale: 0.05}.List(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, list)
	c := list[0].Capacity
	assert.Contains(t, c.Drivers, "raw_exec")
	assert.Positive(t, c.CPUMHz)
	assert.Contains(t, c.Classes, "medium")
}
