package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/store"
)

// The Nomad nodes page: each client's status, scheduling eligibility,
// drain state and running allocations (the Orbit task of each), with drain
// and undrain, what `orbit admin nodes` does (served when Config.Nodes is
// set: the embedded shape, whose process reaches Nomad).
//
//	GET  /ui/admin/nodes
//	POST /ui/admin/nodes/{id}/drain     force=on stops running builds now (Orbit retries them
//	                                    elsewhere); else they have the drain deadline to finish
//	POST /ui/admin/nodes/{id}/undrain   ends the drain; the node takes builds again

// NodeAdmin administers the Nomad clients; cmd/orbit adapts
// nomadbridge.Nodes to it.
type NodeAdmin interface {
	// Nodes lists every client by name with its running allocations.
	Nodes(ctx context.Context) ([]Node, error)
	// Drain stops placing builds on the node; force stops its running
	// ones now instead of at the drain deadline.
	Drain(ctx context.Context, id string, force bool) error
	// Undrain ends a drain and makes the node eligible again.
	Undrain(ctx context.Context, id string) error
}

// Node is one Nomad client.
type Node struct {
	ID, Name, Datacenter, NodeClass string
	// Status is Nomad's ("ready", "down", "initializing"); Eligibility
	// "eligible" or "ineligible".
	Status, Eligibility string
	Drain               bool
	Allocs              []NodeAlloc
}

// NodeAlloc is a running allocation.
type NodeAlloc struct {
	ID, JobID string
	// TaskID is Orbit's task ("" for a job that is not Orbit's or an idle
	// warm agent); Warm the resource class of a warm agent.
	TaskID, Warm string
}

func (s *server) routeUIAdminNodes(mux *http.ServeMux) {
	if s.cfg.Nodes == nil {
		return
	}
	s.route(mux, "GET /ui/admin/nodes", siteAdmin, s.html(s.uiAdminNodes))
	s.route(mux, "POST /ui/admin/nodes/{id}/drain", siteAdmin, s.action(s.uiNodeDrain(true)))
	s.route(mux, "POST /ui/admin/nodes/{id}/undrain", siteAdmin, s.action(s.uiNodeDrain(false)))
}

type adminNodesPage struct {
	adminBase
	Nodes []Node
}

func (s *server) uiAdminNodes(r *http.Request) (string, uiPage, error) {
	nodes, err := s.cfg.Nodes.Nodes(r.Context())
	if err != nil {
		return "", nil, err
	}
	return "admin-nodes", &adminNodesPage{adminBase: s.adminBase("Nomad nodes · Admin", "nodes"), Nodes: nodes}, nil
}

// findNode is the listed node of id (a form names only listed ones).
func (s *server) findNode(ctx context.Context, id string) (Node, error) {
	nodes, err := s.cfg.Nodes.Nodes(ctx)
	if err != nil {
		return Node{}, err
	}
	for _, n := range nodes {
		if n.ID == id {
			return n, nil
		}
	}
	return Node{}, fmt.Errorf("Nomad node %s: %w", id, store.ErrNotFound)
}

func (s *server) uiNodeDrain(drain bool) actionFunc {
	return func(r *http.Request) (string, string, error) {
		ctx := audit.WithRequest(r.Context(), requestOf(r))
		n, err := s.findNode(ctx, r.PathValue("id"))
		if err != nil {
			return "", "", err
		}
		force := drain && r.PostFormValue("force") == "on"
		action, notice := audit.AdminNodeUndrain, "Node "+n.Name+" is no longer draining and takes builds again."
		if drain {
			err = s.cfg.Nodes.Drain(ctx, n.ID, force)
			action, notice = audit.AdminNodeDrain, "Node "+n.Name+" is draining: no new builds; running ones finish first."
			if force {
				notice = "Node " + n.Name + " is draining: its running builds were stopped and are retried elsewhere."
			}
		} else {
			err = s.cfg.Nodes.Undrain(ctx, n.ID)
		}
		if s.cfg.Audit != nil {
			s.cfg.Audit.Must(ctx, audit.Event{Action: action, Target: audit.Entity{ID: n.ID, Type: "nomad_node", Name: n.Name},
				Scope: audit.Entity{ID: "orbit", Type: "installation"}, Payload: map[string]any{"force": force}, Success: err == nil})
		}
		if err != nil {
			return "", "", err
		}
		return "/ui/admin/nodes", notice, nil
	}
}
