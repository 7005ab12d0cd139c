package compose

import (
	"context"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/api"
)

// UseNomadNodes gives the API's admin nodes page the Nomad clients of the
// cluster at nomadAddr (what `orbit admin nodes` administers). Call it
// before API; without it (the aws shape's API Lambda, which does not reach
// Nomad) the page is left out.
func (a *Assembly) UseNomadNodes(nomadAddr string) error {
	c, err := nomadAPIClient(nomadAddr, a.cfg.CACertDir)
	if err != nil {
		return err
	}
	a.nodes = nodeAdmin{nomadbridge.Nodes{API: c.Nodes(), Variables: c.Variables(), ResourceScale: a.cfg.ResourceScale,
		DrainMessage: "drained from Orbit's admin nodes page"}}
	return nil
}

// nodeAdmin adapts nomadbridge.Nodes to api.NodeAdmin.
type nodeAdmin struct{ n nomadbridge.Nodes }

func (na nodeAdmin) Nodes(ctx context.Context) ([]api.Node, error) {
	list, err := na.n.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Node, 0, len(list))
	for _, s := range list {
		n := api.Node{ID: s.ID, Name: s.Name, Datacenter: s.Datacenter, NodeClass: s.NodeClass, Status: s.Status,
			Eligibility: s.Eligibility, Drain: s.Drain}
		for _, a := range s.Running {
			n.Allocs = append(n.Allocs, api.NodeAlloc{ID: a.ID, JobID: a.JobID, TaskID: a.TaskID, Warm: a.Warm})
		}
		out = append(out, n)
	}
	return out, nil
}

// Drain drains with the default deadline (the job timeout), or stops the
// running builds now (force).
func (na nodeAdmin) Drain(ctx context.Context, id string, force bool) error {
	var deadline = nomadbridge.DefaultDrainDeadline
	if force {
		deadline = -1
	}
	return na.n.Drain(ctx, id, deadline)
}

func (na nodeAdmin) Undrain(ctx context.Context, id string) error { return na.n.Undrain(ctx, id) }
