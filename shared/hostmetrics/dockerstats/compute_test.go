package dockerstats_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/hostmetrics/dockerstats"
)

func sample(t *testing.T, name string) dockerstats.Sample {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var s dockerstats.Sample
	require.NoError(t, json.Unmarshal(b, &s))
	return s
}

// TestComputeSamples: the testdata files are stats answers in the Engine
// API's shape, from a cgroup v1 host (with two block devices and two
// interfaces), a cgroup v2 host and a one-shot read (no previous CPU
// reading, no online_cpus, no block I/O accounting).
func TestComputeSamples(t *testing.T) {
	tests := []struct {
		name string
		file string
		want dockerstats.Usage
	}{
		{name: "cgroup v1", file: "stats-cgroup-v1.json", want: dockerstats.Usage{
			ID: "9d781a0d28328ea4e191223f40327b6ce18eddc2eea6b96d2c667cde20f33f80",
			// (2866674567 − 1894371877) / (1073630000000 − 1071620000000) × 2 × 100
			CPUPercent: 96.74653631840796,
			MemUsed:    22421504 - 20971520, MemLimit: 536870912, // usage − total_inactive_file
			NetRx: 5338 + 4641, NetTx: 648 + 690,
			IORead: 1048576 + 4096, IOWrite: 20971520 + 8192, IOReported: true, // Read/Write, not Sync/Async/Total
		}},
		{name: "cgroup v2", file: "stats-cgroup-v2.json", want: dockerstats.Usage{
			ID: "5b1f9e0c7c0a6a8f4f2d1e3b9c8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c",
			// 0.5 s of CPU in 4 s of host CPU time over 4 CPUs: half a CPU
			CPUPercent: 50,
			MemUsed:    73400320 - 25165824, MemLimit: 4294967296, // usage − inactive_file
			NetRx: 123456789, NetTx: 2345678,
			IORead: 3145728 + 1024, IOWrite: 10485760, IOReported: true,
		}},
		{name: "one-shot: no previous reading", file: "stats-one-shot.json", want: dockerstats.Usage{
			ID:         "4c448736ce5843368a50eed4c9f0f3c0ec643a44cfa6cc9e638de0f9b0cf91e2",
			CPUPercent: 0, MemUsed: 679936, MemLimit: 25276071936,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dockerstats.Compute(sample(t, tt.file))
			assert.InDelta(t, tt.want.CPUPercent, got.CPUPercent, 1e-9)
			got.CPUPercent = tt.want.CPUPercent
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestComputeCPU(t *testing.T) {
	cpu := func(total, system uint64, online uint32, percpu int) dockerstats.CPUStats {
		var c dockerstats.CPUStats
		c.Usage.TotalUsage, c.SystemUsage, c.OnlineCPUs = total, system, online
		c.Usage.PerCPU = make([]uint64, percpu)
		return c
	}
	tests := []struct {
		name     string
		cur, pre dockerstats.CPUStats
		want     float64
	}{
		{name: "one of two CPUs busy", cur: cpu(2e9, 12e9, 2, 0), pre: cpu(1e9, 10e9, 2, 0), want: 100},
		{name: "no online_cpus: percpu_usage counts the CPUs", cur: cpu(2e9, 12e9, 0, 4), pre: cpu(1e9, 10e9, 0, 4), want: 200},
		{name: "idle", cur: cpu(1e9, 12e9, 2, 0), pre: cpu(1e9, 10e9, 2, 0), want: 0},
		{name: "no previous reading", cur: cpu(2e9, 12e9, 2, 0), pre: cpu(0, 0, 0, 0), want: 0},
		{name: "container restarted: its counter went back", cur: cpu(1e8, 12e9, 2, 0), pre: cpu(1e9, 10e9, 2, 0), want: 0},
		{name: "system counter did not move", cur: cpu(2e9, 10e9, 2, 0), pre: cpu(1e9, 10e9, 2, 0), want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dockerstats.Compute(dockerstats.Sample{CPU: tt.cur, PreCPU: tt.pre})
			assert.InDelta(t, tt.want, got.CPUPercent, 1e-9)
		})
	}
}

func TestComputeMemory(t *testing.T) {
	tests := []struct {
		name  string
		usage uint64
		stats map[string]uint64
		want  uint64
	}{
		{name: "v1: total_inactive_file over cache", usage: 1000, stats: map[string]uint64{"total_inactive_file": 300, "inactive_file": 100, "cache": 600}, want: 700},
		{name: "v2: inactive_file", usage: 1000, stats: map[string]uint64{"inactive_file": 250, "file": 400}, want: 750},
		{name: "older v1 daemon: cache", usage: 1000, stats: map[string]uint64{"cache": 400}, want: 600},
		{name: "inactive not below usage: usage", usage: 1000, stats: map[string]uint64{"inactive_file": 1000}, want: 1000},
		{name: "no stats", usage: 1000, want: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dockerstats.Compute(dockerstats.Sample{Memory: dockerstats.MemoryStats{Usage: tt.usage, Stats: tt.stats}})
			assert.Equal(t, tt.want, got.MemUsed)
		})
	}
}

func TestSocketFromHost(t *testing.T) {
	tests := []struct {
		host, want, err string
	}{
		{host: "unix:///var/run/docker.sock", want: "/var/run/docker.sock"},
		{host: "/run/docker.sock", want: "/run/docker.sock"},
		{host: "", err: "empty"},
		{host: "unix://docker.sock", err: "want unix:///absolute/path"},
		{host: "tcp://127.0.0.1:2375", err: "only unix sockets are supported"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got, err := dockerstats.SocketFromHost(tt.host)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
