package nomadbridge_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestBuildJobGolden(t *testing.T) {
	base := nomadbridge.JobSpec{
		Agent:     nomadbridge.AgentCommand{Path: "/usr/local/bin/orbit", Args: []string{"agent"}},
		RunnerURL: "http://10.0.0.5:8080/runner/v1",
	}
	docker := func(s nomadbridge.JobSpec) nomadbridge.JobSpec {
		s.Docker = &nomadbridge.DockerSpec{}
		return s
	}
	tests := []struct {
		name string
		spec func(nomadbridge.JobSpec) nomadbridge.JobSpec
		msg  runqueue.Message
		task runner.TaskPlacement
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
		{
			name: "docker_primary_and_services",
			spec: docker,
			msg:  message("task-3", func(m *runqueue.Message) { m.Image, m.ResourceClass = "cimg/go:1.22", "xlarge" }),
			task: runner.TaskPlacement{Images: []runner.Image{
				{Image: "cimg/go:1.22", User: "circleci", Environment: []runner.EnvVar{{Name: "GOFLAGS", Value: "-mod=mod"}},
					Auth: &runner.RegistryAuth{Username: "bot", Password: "registry-secret"}},
				{Image: "postgres:16", Name: "db", Environment: []runner.EnvVar{{Name: "POSTGRES_PASSWORD", Value: "pw"}}},
				{Image: "registry.example.com/team/redis:7@sha256:abc", Entrypoint: []string{"redis-server"},
					Command: []string{"--port", "6380"}, User: "redis"},
			}},
		},
		{
			name: "docker_without_spec_uses_message_image",
			spec: docker,
			msg:  message("task-4"),
		},
		{
			name: "gpu_class_on_gpu_nodes",
			spec: func(s nomadbridge.JobSpec) nomadbridge.JobSpec { s.GPUNodeClass = "^gpu-nvidia$"; return s },
			msg:  message("task-5", func(m *runqueue.Message) { m.ResourceClass = "gpu.nvidia.medium" }),
		},
		{
			name: "proxy_and_custom_ca",
			spec: func(s nomadbridge.JobSpec) nomadbridge.JobSpec {
				s.Proxy = nomadbridge.ProxyFromEnvironment(envMap{
					"https_proxy": "http://proxy.corp:3128", "HTTP_PROXY": "http://proxy.corp:3128", "NO_PROXY": "169.254.169.254",
				}.get)
				s.CACertDir = "/usr/local/share/ca-certificates"
				return s
			},
			msg: message("task-7"),
		},
		{
			name: "machine_on_the_host_executor",
			spec: docker,
			msg:  message("task-6", func(m *runqueue.Message) { m.Executor, m.Image = "machine", "ubuntu-2204:current" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := nomadbridge.BuildJob(tt.spec(base), tt.msg, tt.task)
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
		{"gpu.nvidia.small", 1, 4000, 15360},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			s := spec
			s.ResourceScale = tt.scale
			job, err := nomadbridge.BuildJob(s, message("t", func(m *runqueue.Message) { m.ResourceClass = tt.class }), runner.TaskPlacement{})
			require.NoError(t, err)
			r := job.TaskGroups[0].Tasks[0].Resources
			assert.Equal(t, tt.cpu, *r.CPU)
			assert.Equal(t, tt.mem, *r.MemoryMB)
		})
	}
	_, err := nomadbridge.BuildJob(spec, message("t", func(m *runqueue.Message) { m.ResourceClass = "arm.huge" }), runner.TaskPlacement{})
	assert.ErrorIs(t, err, nomadbridge.ErrUnknownResourceClass)
}

// TestGoldenJobsValidateWithNomad asks the real Nomad server to validate
// every golden job spec (structure, networks, lifecycle, constraints,
// devices); the docker driver's own config is checked by clients only.
func TestGoldenJobsValidateWithNomad(t *testing.T) {
	client := nomadtest.Client(t)
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			var job api.Job
			require.NoError(t, json.Unmarshal(b, &job))
			resp, _, err := client.Jobs().Validate(&job, nil)
			require.NoError(t, err)
			assert.Empty(t, resp.ValidationErrors)
			assert.Empty(t, resp.Error)
		})
	}
}

type envMap map[string]string

func (m envMap) get(k string) string { return m[k] }
