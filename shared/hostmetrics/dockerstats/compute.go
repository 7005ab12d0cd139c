package dockerstats

import "strings"

// Sample is the part of a GET /containers/{id}/stats answer that Compute
// reads (the Engine API's ContainerStatsResponse).
type Sample struct {
	ID       string                  `json:"id"`
	Name     string                  `json:"name"`
	CPU      CPUStats                `json:"cpu_stats"`
	PreCPU   CPUStats                `json:"precpu_stats"`
	Memory   MemoryStats             `json:"memory_stats"`
	Networks map[string]NetworkStats `json:"networks"`
	Blkio    BlkioStats              `json:"blkio_stats"`
}

// CPUStats is cpu_stats (and precpu_stats, the previous reading).
type CPUStats struct {
	Usage struct {
		// TotalUsage is the container's CPU time in nanoseconds.
		TotalUsage uint64 `json:"total_usage"`
		// PerCPU is set on cgroup v1 only; its length counts the CPUs
		// where an older daemon sets no online_cpus.
		PerCPU []uint64 `json:"percpu_usage"`
	} `json:"cpu_usage"`
	// SystemUsage is the host's CPU time in nanoseconds, all CPUs.
	SystemUsage uint64 `json:"system_cpu_usage"`
	// OnlineCPUs is the number of CPUs (0 from older daemons).
	OnlineCPUs uint32 `json:"online_cpus"`
}

// MemoryStats is memory_stats. Stats' keys differ by cgroup version: v1
// has cache, total_inactive_file, …; v2 has inactive_file, file, anon, ….
type MemoryStats struct {
	Usage uint64            `json:"usage"`
	Limit uint64            `json:"limit"`
	Stats map[string]uint64 `json:"stats"`
}

// NetworkStats is one interface of networks (absent without networking:
// --network none).
type NetworkStats struct {
	RxBytes uint64 `json:"rx_bytes"`
	TxBytes uint64 `json:"tx_bytes"`
}

// BlkioStats is blkio_stats; on cgroup v2 only io_service_bytes_recursive
// is set.
type BlkioStats struct {
	IOServiceBytesRecursive []BlkioEntry `json:"io_service_bytes_recursive"`
}

// BlkioEntry is one device's bytes for one operation: cgroup v1 writes
// the operations as "Read", "Write", "Sync", "Async", "Total"; v2 as
// "read", "write".
type BlkioEntry struct {
	Major uint64 `json:"major"`
	Minor uint64 `json:"minor"`
	Op    string `json:"op"`
	Value uint64 `json:"value"`
}

// Usage is one container's resource use, as `docker stats` shows it.
type Usage struct {
	// ID is the container's id.
	ID string
	// CPUPercent is its share of one CPU over the sample's interval
	// (100 is one CPU busy; up to 100 × the host's CPUs). 0 when the
	// sample has no previous reading.
	CPUPercent float64
	// MemUsed is the memory it uses, less the page cache it could drop
	// (inactive files), in bytes.
	MemUsed uint64
	// MemLimit is its memory limit in bytes: the host's memory when it
	// has none.
	MemLimit uint64
	// NetRx and NetTx are the bytes received and sent since it started,
	// summed over its interfaces (0 without networking).
	NetRx, NetTx uint64
	// IORead and IOWrite are the bytes read from and written to block
	// devices since it started, summed over devices.
	IORead, IOWrite uint64
	// IOReported is whether dockerd reported block I/O at all: false
	// where the kernel does not account it per cgroup (the list is
	// empty), so zero I/O is not mistaken for idle disks.
	IOReported bool
}

// Compute turns a stats sample into Usage with the Engine API's formulas:
//
//	cpu %     (cpu.total − precpu.total) / (cpu.system − precpu.system)
//	          × online CPUs (or len(percpu_usage)) × 100
//	mem used  usage − total_inactive_file (v1), − inactive_file (v2),
//	          − cache (older v1 daemons), whichever the sample has first;
//	          usage when that is not below usage
//	net       Σ rx_bytes, Σ tx_bytes over networks
//	block I/O Σ value of io_service_bytes_recursive by op read / write
//
// Counters that went backwards (a container restarted between readings)
// give 0 CPU rather than a huge share.
func Compute(s Sample) Usage {
	u := Usage{ID: s.ID, CPUPercent: cpuPercent(s.CPU, s.PreCPU), MemUsed: memUsed(s.Memory), MemLimit: s.Memory.Limit}
	for _, n := range s.Networks {
		u.NetRx += n.RxBytes
		u.NetTx += n.TxBytes
	}
	u.IOReported = len(s.Blkio.IOServiceBytesRecursive) > 0
	for _, e := range s.Blkio.IOServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			u.IORead += e.Value
		case "write":
			u.IOWrite += e.Value
		}
	}
	return u
}

func cpuPercent(cur, pre CPUStats) float64 {
	if pre.SystemUsage == 0 || cur.SystemUsage <= pre.SystemUsage || cur.Usage.TotalUsage < pre.Usage.TotalUsage {
		return 0
	}
	cpus := float64(cur.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(cur.Usage.PerCPU))
	}
	cpuDelta := float64(cur.Usage.TotalUsage - pre.Usage.TotalUsage)
	sysDelta := float64(cur.SystemUsage - pre.SystemUsage)
	return cpuDelta / sysDelta * cpus * 100
}

func memUsed(m MemoryStats) uint64 {
	for _, key := range []string{"total_inactive_file", "inactive_file", "cache"} {
		if v, ok := m.Stats[key]; ok {
			if v < m.Usage {
				return m.Usage - v
			}
			return m.Usage
		}
	}
	return m.Usage
}
