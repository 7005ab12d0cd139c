package nomadbridge

import (
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/nomad/api"
)

// Capacity is what a Nomad client can run, as `orbit admin nodes` shows it:
// its healthy task drivers, what it offers builds (its resources less the
// reservation for coordination) and the resource classes a build of which
// fits there when it runs nothing else.
type Capacity struct {
	// Drivers are the healthy task drivers (docker, exec, raw_exec…).
	Drivers []string
	// CPUMHz and MemoryMB are the node's resources less its reservation.
	CPUMHz, MemoryMB int64
	// GPUs counts the node's NVIDIA GPUs.
	GPUs int
	// Classes are the resource classes that fit, smallest first.
	Classes []string
	// DynamicPorts is Nomad's dynamic port range there ("" when Nomad did
	// not say): where SSH into builds listens.
	DynamicPorts string
}

// capacityOf reads a node list stub fetched with resources=true; scale and
// gpuClass are the bridge's ResourceScale and GPUNodeClass.
func capacityOf(s *api.NodeListStub, scale float64, gpuClass *regexp.Regexp) Capacity {
	var c Capacity
	for _, d := range slices.Sorted(maps.Keys(s.Drivers)) {
		if s.Drivers[d] != nil && s.Drivers[d].Healthy {
			c.Drivers = append(c.Drivers, d)
		}
	}
	if s.NodeResources == nil {
		return c
	}
	r := s.NodeResources
	c.CPUMHz, c.MemoryMB = r.Cpu.CpuShares, r.Memory.MemoryMB
	if rr := s.ReservedResources; rr != nil {
		c.CPUMHz -= int64(rr.Cpu.CpuShares)
		c.MemoryMB -= int64(rr.Memory.MemoryMB)
	}
	for _, d := range r.Devices {
		if d != nil && d.Vendor == "nvidia" && d.Type == "gpu" {
			c.GPUs += len(d.Instances)
		}
	}
	if r.MinDynamicPort > 0 {
		c.DynamicPorts = fmt.Sprintf("%d-%d", r.MinDynamicPort, r.MaxDynamicPort)
	}
	spec := JobSpec{ResourceScale: scale}
	names := slices.Collect(maps.Keys(ResourceClasses))
	slices.SortFunc(names, func(a, b string) int {
		x, y := ResourceClasses[a], ResourceClasses[b]
		if x.GPUs != y.GPUs {
			return x.GPUs - y.GPUs
		}
		if d := x.VCPU - y.VCPU; d != 0 {
			return int(math.Copysign(1, d))
		}
		if d := x.MemoryGB - y.MemoryGB; d != 0 {
			return int(math.Copysign(1, d))
		}
		return strings.Compare(a, b)
	})
	for _, name := range names {
		rc := ResourceClasses[name]
		need := spec.resources(rc)
		if int64(*need.CPU) > c.CPUMHz || int64(*need.MemoryMB) > c.MemoryMB {
			continue
		}
		if rc.GPUs > 0 && (c.GPUs < rc.GPUs || !gpuClass.MatchString(s.NodeClass)) {
			continue
		}
		c.Classes = append(c.Classes, name)
	}
	return c
}

// writeCapacity prints what each node can run.
func writeCapacity(w io.Writer, nodes []NodeStatus) {
	fmt.Fprintln(w, "\nWhat each node can run:")
	for _, n := range nodes {
		c := n.Capacity
		classes := strings.Join(c.Classes, ", ")
		if classes == "" {
			classes = "none (too small for the smallest resource class)"
		}
		drivers := strings.Join(c.Drivers, ", ")
		if drivers == "" {
			drivers = "none healthy"
		}
		state := "takes new builds"
		switch {
		case n.Drain:
			state = "draining: takes no new builds"
		case n.Eligibility == api.NodeSchedulingIneligible:
			state = "ineligible: takes no new builds"
		case n.Status != api.NodeStatusReady:
			state = n.Status + ": takes no new builds"
		}
		fmt.Fprintf(w, "  %s  %s\n    drivers: %s\n    for builds: %d MHz CPU, %d MiB memory", n.Name, state, drivers, c.CPUMHz, c.MemoryMB)
		if c.GPUs > 0 {
			fmt.Fprintf(w, ", %d GPU", c.GPUs)
		}
		if c.DynamicPorts != "" {
			fmt.Fprintf(w, "; dynamic ports %s", c.DynamicPorts)
		}
		fmt.Fprintf(w, "\n    resource classes: %s\n", classes)
	}
}
