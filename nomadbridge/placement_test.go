package nomadbridge

import (
	"testing"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
)

func TestPlacementReason(t *testing.T) {
	ready := &api.NodeListStub{Name: "node-2", Status: api.NodeStatusReady, SchedulingEligibility: api.NodeSchedulingEligible}
	tests := []struct {
		name   string
		metric *api.AllocationMetric
		nodes  []*api.NodeListStub
		want   string
	}{
		{"resources exhausted", &api.AllocationMetric{NodesEvaluated: 2, NodesExhausted: 2,
			DimensionExhausted: map[string]int{"memory": 2, "cpu": 1}},
			nil, "no client with resource class large has room: cpu, memory exhausted on 2 of 2 nodes"},
		{"filtered by a constraint", &api.AllocationMetric{NodesEvaluated: 3, NodesFiltered: 3,
			ConstraintFiltered: map[string]int{"${node.class} regexp ^gpu": 3}},
			nil, "no client with resource class large: 3 of 3 nodes filtered out by ${node.class} regexp ^gpu"},
		{"the only node drained", &api.AllocationMetric{},
			[]*api.NodeListStub{{Name: "node-1", Status: api.NodeStatusReady, Drain: true,
				SchedulingEligibility: api.NodeSchedulingIneligible}},
			"node drained: node-1 (no other client can take the task)"},
		{"ineligible", &api.AllocationMetric{},
			[]*api.NodeListStub{{Name: "node-1", Status: api.NodeStatusReady, SchedulingEligibility: api.NodeSchedulingIneligible}, ready},
			"node ineligible for new builds: node-1"},
		{"node down", &api.AllocationMetric{},
			[]*api.NodeListStub{{Name: "node-1", Status: api.NodeStatusDown}},
			"no Nomad client is ready: node-1 (down)"},
		{"no node at all", &api.AllocationMetric{}, nil, "no Nomad client in the job's datacenters"},
		{"no metric", nil, nil, "no client with resource class large can place the task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failed := map[string]*api.AllocationMetric{"task": tt.metric}
			assert.Equal(t, tt.want, placementReason("large", failed, tt.nodes))
		})
	}
}

// TestPlacementReasonGPU: a GPU class on a fleet without GPU clients says
// that no client offers it, rather than naming a constraint.
func TestPlacementReasonGPU(t *testing.T) {
	failed := map[string]*api.AllocationMetric{"task": {NodesEvaluated: 3, NodesFiltered: 3,
		ConstraintFiltered: map[string]int{"${node.class} regexp ^gpu": 3}}}
	assert.Equal(t, "no client offers resource class gpu.nvidia.small: it needs a GPU client (node class matching ^gpu), and none of the 3 nodes is one",
		placementReason("gpu.nvidia.small", failed, nil))
	// Some GPU clients exist but are full: that is a matter of room.
	failed["task"] = &api.AllocationMetric{NodesEvaluated: 3, NodesFiltered: 2, NodesExhausted: 1,
		ConstraintFiltered: map[string]int{"${node.class} regexp ^gpu": 2}, DimensionExhausted: map[string]int{"devices: no devices match request": 1}}
	assert.Contains(t, placementReason("gpu.nvidia.small", failed, nil), "has room")
}
