package nomadbridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Node operations from the seed's runbook ("Shutting Down a Nomad Client"):
// list the clients with their running builds, drain one (it finishes the
// builds it runs and takes no new ones), toggle scheduling eligibility.

// NomadNodes is the part of *api.Nodes the node operations use.
type NomadNodes interface {
	List(q *api.QueryOptions) ([]*api.NodeListStub, *api.QueryMeta, error)
	Allocations(nodeID string, q *api.QueryOptions) ([]*api.Allocation, *api.QueryMeta, error)
	UpdateDrainOpts(nodeID string, opts *api.DrainOptions, q *api.WriteOptions) (*api.NodeDrainUpdateResponse, error)
	ToggleEligibility(nodeID string, eligible bool, q *api.WriteOptions) (*api.NodeEligibilityUpdateResponse, error)
}

var _ NomadNodes = (*api.Nodes)(nil)

// DefaultDrainDeadline is how long a drain lets running builds go on before
// Nomad stops them: CircleCI Server's job timeout, so a graceful drain
// never cuts a build short.
const DefaultDrainDeadline = 5 * time.Hour

// ErrNodeNotFound: no node has that ID, ID prefix or name.
var ErrNodeNotFound = errors.New("node not found")

// NodeStatus is one Nomad client as `orbit admin nodes` shows it.
type NodeStatus struct {
	ID, Name, Datacenter, NodeClass, Status, Eligibility string
	Drain                                                bool
	// Running are the node's running allocations.
	Running []NodeAlloc
	// Capacity is what the node can run (List only).
	Capacity Capacity
}

// NodeAlloc is a running allocation.
type NodeAlloc struct {
	ID, JobID string
	// TaskID is Orbit's task id ("" for a job that is not Orbit's, or an
	// idle warm agent).
	TaskID string
	// Warm is the resource class of a warm agent ("" for other jobs).
	Warm string
}

// Nodes administers Nomad clients.
type Nodes struct {
	API    NomadNodes
	Region string
	// Variables, when set, tell which warm agents run a task (List).
	Variables NomadVariables
	// ResourceScale is the bridge's (Config.ResourceScale, default 1), so
	// that List tells the resource classes each node fits as the bridge
	// sizes them.
	ResourceScale float64
	// GPUNodeClass is the bridge's pattern of GPU node classes (default
	// "^gpu").
	GPUNodeClass string
	// DrainMessage is recorded with a drain, for `nomad node status`
	// (default "drained by orbit admin nodes").
	DrainMessage string
}

func (n Nodes) query(ctx context.Context) *api.QueryOptions {
	return (&api.QueryOptions{Region: n.Region}).WithContext(ctx)
}

func (n Nodes) write(ctx context.Context) *api.WriteOptions {
	return (&api.WriteOptions{Region: n.Region}).WithContext(ctx)
}

// List returns every client, by name, with its running allocations and
// what it can run.
func (n Nodes) List(ctx context.Context) ([]NodeStatus, error) {
	gpu, err := regexp.Compile(cmp.Or(n.GPUNodeClass, "^gpu"))
	if err != nil {
		return nil, fmt.Errorf("GPU node class pattern: %w", err)
	}
	scale := n.ResourceScale
	if scale <= 0 {
		scale = 1
	}
	q := n.query(ctx)
	q.Params = map[string]string{"resources": "true"}
	stubs, _, err := n.API.List(q)
	if err != nil {
		return nil, fmt.Errorf("list Nomad nodes: %w", err)
	}
	out := make([]NodeStatus, 0, len(stubs))
	for _, s := range stubs {
		ns := NodeStatus{ID: s.ID, Name: s.Name, Datacenter: s.Datacenter, NodeClass: s.NodeClass,
			Status: s.Status, Eligibility: s.SchedulingEligibility, Drain: s.Drain, Capacity: capacityOf(s, scale, gpu)}
		allocs, _, err := n.API.Allocations(s.ID, n.query(ctx))
		if err != nil {
			return nil, fmt.Errorf("allocations of node %s: %w", s.Name, err)
		}
		for _, a := range allocs {
			if a.ClientStatus != api.AllocClientStatusRunning {
				continue
			}
			na := NodeAlloc{ID: a.ID, JobID: a.JobID}
			if a.Job != nil {
				na.TaskID, na.Warm = a.Job.Meta[MetaTaskID], a.Job.Meta[MetaWarmClass]
			}
			ns.Running = append(ns.Running, na)
		}
		sort.Slice(ns.Running, func(i, j int) bool { return ns.Running[i].JobID < ns.Running[j].JobID })
		out = append(out, ns)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, n.warmTasks(ctx, out)
}

// warmTasks fills in the tasks of busy warm agents.
func (n Nodes) warmTasks(ctx context.Context, nodes []NodeStatus) error {
	if n.Variables == nil {
		return nil
	}
	var tasks map[string]string
	for i := range nodes {
		for j := range nodes[i].Running {
			a := &nodes[i].Running[j]
			if a.Warm == "" {
				continue
			}
			if tasks == nil {
				var err error
				if tasks, err = WarmTasks(ctx, n.Variables, n.Region); err != nil {
					return err
				}
			}
			a.TaskID = tasks[a.JobID]
		}
	}
	return nil
}

// Find resolves a node by ID, unique ID prefix or name.
func (n Nodes) Find(ctx context.Context, ref string) (NodeStatus, error) {
	stubs, _, err := n.API.List(n.query(ctx))
	if err != nil {
		return NodeStatus{}, fmt.Errorf("list Nomad nodes: %w", err)
	}
	var found []*api.NodeListStub
	for _, s := range stubs {
		if s.ID == ref || s.Name == ref {
			found = []*api.NodeListStub{s}
			break
		}
		if strings.HasPrefix(s.ID, ref) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return NodeStatus{}, fmt.Errorf("%w: %q", ErrNodeNotFound, ref)
	case 1:
		s := found[0]
		return NodeStatus{ID: s.ID, Name: s.Name, Datacenter: s.Datacenter, NodeClass: s.NodeClass,
			Status: s.Status, Eligibility: s.SchedulingEligibility, Drain: s.Drain}, nil
	}
	return NodeStatus{}, fmt.Errorf("node %q is ambiguous: it prefixes %d node IDs", ref, len(found))
}

// Drain starts draining a node: it becomes ineligible at once, its running
// builds have until deadline (DefaultDrainDeadline when 0; negative stops
// them now), then Nomad stops them (Orbit reports them
// infrastructure_fail and retries them elsewhere).
func (n Nodes) Drain(ctx context.Context, id string, deadline time.Duration) error {
	if deadline == 0 {
		deadline = DefaultDrainDeadline
	}
	_, err := n.API.UpdateDrainOpts(id, &api.DrainOptions{
		DrainSpec: &api.DrainSpec{Deadline: deadline, IgnoreSystemJobs: true},
		Meta:      map[string]string{"message": cmp.Or(n.DrainMessage, "drained by orbit admin nodes")},
	}, n.write(ctx))
	if err != nil {
		return fmt.Errorf("drain node %s: %w", id, err)
	}
	return nil
}

// Busy returns the allocations that keep a node from being released: those
// of service and batch jobs that are pending or running, by job. System
// jobs are left out, as Drain leaves them running (IgnoreSystemJobs). An
// empty list means the machine can go.
func (n Nodes) Busy(ctx context.Context, id string) ([]NodeAlloc, error) {
	allocs, _, err := n.API.Allocations(id, n.query(ctx))
	if err != nil {
		return nil, fmt.Errorf("allocations of node %s: %w", id, err)
	}
	var busy []NodeAlloc
	for _, a := range allocs {
		if a.ClientStatus != api.AllocClientStatusRunning && a.ClientStatus != api.AllocClientStatusPending {
			continue
		}
		na := NodeAlloc{ID: a.ID, JobID: a.JobID}
		if a.Job != nil {
			if t := ptrValue(a.Job.Type); t == api.JobTypeSystem || t == api.JobTypeSysbatch {
				continue
			}
			na.TaskID, na.Warm = a.Job.Meta[MetaTaskID], a.Job.Meta[MetaWarmClass]
		}
		busy = append(busy, na)
	}
	sort.Slice(busy, func(i, j int) bool { return busy[i].JobID < busy[j].JobID })
	return busy, nil
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Undrain ends a drain and makes the node eligible again, so that the
// builds queued meanwhile are placed.
//
// It does so in two calls: end the drain leaving the node ineligible, then
// make it eligible. Ending the drain with MarkEligible (what `nomad node
// drain -disable` does) makes the node eligible but, in Nomad 1.6, does not
// retry the evaluations blocked while it was not: it re-evaluates only
// system jobs and jobs with allocations on the node. A build queued during
// the drain then stays pending until some other event on a node of the
// same class (an allocation ending, a node registering), possibly forever.
// An eligibility change does retry them: Nomad unblocks the evaluations of
// the node's class.
func (n Nodes) Undrain(ctx context.Context, id string) error {
	if _, err := n.API.UpdateDrainOpts(id, &api.DrainOptions{MarkEligible: false}, n.write(ctx)); err != nil {
		return fmt.Errorf("end the drain of node %s: %w", id, err)
	}
	if _, err := n.API.ToggleEligibility(id, true, n.write(ctx)); err != nil {
		return fmt.Errorf("the drain of node %s ended but it is still ineligible for new builds: %w", id, err)
	}
	return nil
}

// SetEligibility makes a node eligible for new builds or not; running ones
// are not affected.
func (n Nodes) SetEligibility(ctx context.Context, id string, eligible bool) error {
	if _, err := n.API.ToggleEligibility(id, eligible, n.write(ctx)); err != nil {
		return fmt.Errorf("set eligibility of node %s: %w", id, err)
	}
	return nil
}

// WriteNodes prints nodes as `nomad node status -allocs` does, with the
// Orbit tasks each runs.
func WriteNodes(w io.Writer, nodes []NodeStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDC\tName\tClass\tDrain\tEligibility\tStatus\tRunning Allocs")
	for _, n := range nodes {
		class := n.NodeClass
		if class == "" {
			class = "<none>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\t%d\n", short(n.ID), n.Datacenter, n.Name, class, n.Drain,
			n.Eligibility, n.Status, len(n.Running))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	idle, busy := 0, 0
	for _, n := range nodes {
		for _, a := range n.Running {
			switch {
			case a.Warm != "" && a.TaskID == "":
				idle++
			case a.Warm != "":
				busy++
			}
		}
	}
	if idle+busy > 0 {
		fmt.Fprintf(w, "\nWarm agents: %d idle, %d running a task (each runs one task, then is replaced)\n", idle, busy)
	}
	writeCapacity(w, nodes)
	for _, n := range nodes {
		if len(n.Running) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s runs:\n", n.Name)
		for _, a := range n.Running {
			task := "(not Orbit's)"
			switch {
			case a.Warm != "" && a.TaskID == "":
				task = "warm agent (" + a.Warm + "), idle"
			case a.Warm != "":
				task = "warm agent (" + a.Warm + "), task " + a.TaskID
			case a.TaskID != "":
				task = "task " + a.TaskID
			}
			fmt.Fprintf(w, "  %s  %s  %s\n", short(a.ID), a.JobID, task)
		}
	}
	return nil
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
