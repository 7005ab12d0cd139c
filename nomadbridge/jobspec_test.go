package nomadbridge_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestBuildJobGolden(t *testing.T) {
	base := nomadbridge.JobSpec{
		Agent:     nomadbridge.AgentCommand{Path: "/usr/local/bin/orbit", Args: []string{"agent"}},
		RunnerURL: "http://10.0.0.5:8080/runner/v1",
	}
	tests := []struct {
		name string
		spec func(nomadbridge.JobSpec) nomadbridge.JobSpec
		msg  runqueue.Message
	}{
		{
			name: "default_medium",
			spec: func(s nomadbridge.JobSpec) nomadbridge.JobSpec { return s },
			msg:  message("task-1"),
		},
		{
			name: "large_retry_scaled_region",
			spec: func(s nomadbridge.JobSpec) nomadbridge.JobSpec {
				s.ResourceScale, s.Region, s.Datacenters, s.Driver = 0.05, "eu", []string{"eu-west-1a", "eu-west-1b"}, "exec"
				return s
			},
			msg: message("task-2", func(m *runqueue.Message) {
				m.ResourceClass, m.Attempt, m.Index, m.Total, m.ProjectSlug = "large", 2, 3, 4, "gh/Acme Corp/web.app"
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := nomadbridge.BuildJob(tt.spec(base), tt.msg)
			require.NoError(t, err)
			got, err := json.MarshalIndent(job, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			path := filepath.Join("testdata", tt.name+".json")
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./nomadbridge -update to create it")
			assert.Equal(t, string(want), string(got))
		})
	}
}

func TestBuildJobResources(t *testing.T) {
	spec := nomadbridge.JobSpec{Agent: nomadbridge.AgentCommand{Path: "/bin/orbit"}}
	tests := []struct {
		class    string
		scale    float64
		cpu, mem int
	}{
		{"", 1, 2000, 4096},
		{"small", 1, 1000, 2048},
		{"medium", 1, 2000, 4096},
		{"medium+", 1, 3000, 6144},
		{"large", 1, 4000, 8192},
		{"xlarge", 1, 8000, 16384},
		{"2xlarge", 1, 16000, 32768},
		{"2xlarge+", 1, 20000, 40960},
		{"medium", 0.05, 100, 205},
		{"small", 0.001, 10, 32},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			s := spec
			s.ResourceScale = tt.scale
			job, err := nomadbridge.BuildJob(s, message("t", func(m *runqueue.Message) { m.ResourceClass = tt.class }))
			require.NoError(t, err)
			r := job.TaskGroups[0].Tasks[0].Resources
			assert.Equal(t, tt.cpu, *r.CPU)
			assert.Equal(t, tt.mem, *r.MemoryMB)
		})
	}
	_, err := nomadbridge.BuildJob(spec, message("t", func(m *runqueue.Message) { m.ResourceClass = "arm.huge" }))
	assert.ErrorIs(t, err, nomadbridge.ErrUnknownResourceClass)
}
