package nomadbridge

import (
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// DockerSpec configures the docker executor's Nomad jobs:
//
//	group "build", network mode bridge (one network namespace: the primary
//	│                reaches every service container on localhost, and by
//	│                its name through /etc/hosts)
//	├─ task "agent"  the primary image; its entrypoint is the build agent,
//	│                bind-mounted read-only from the client host (never baked
//	│                into user images); the image's environment and user
//	└─ task "service-<n>"  each secondary image as a prestart sidecar, with its
//	                 entrypoint, command, user, environment
//
// Registry credentials (auth) go into each task's docker auth block. The
// agent is the primary container's process, as CircleCI's primary
// container runs its agent; a primary image that configures a command has
// it run by the agent in the background (entrypoint + command), as
// CircleCI runs it as the container's main process.
// Clients need the docker driver with bind mounts allowed
// (plugin "docker" { config { volumes { enabled = true } } }).
type DockerSpec struct {
	// HostAgentPath is the orbit binary on the Nomad clients (default
	// JobSpec.Agent.Path).
	HostAgentPath string
	// AgentMountPath is where it appears in the container (default
	// "/opt/orbit/orbit").
	AgentMountPath string
	// ServiceCPU and ServiceMemoryMB size each service container (defaults
	// 500 MHz and 1024 MB, scaled by ResourceScale).
	ServiceCPU, ServiceMemoryMB int
}

// dockerTasks builds the primary task and adds the service tasks to group.
func (s JobSpec) dockerTasks(group *api.TaskGroup, m runqueue.Message, spec runner.TaskPlacement, env map[string]string) *api.Task {
	d := *s.Docker
	if d.HostAgentPath == "" {
		d.HostAgentPath = s.Agent.Path
	}
	if d.AgentMountPath == "" {
		d.AgentMountPath = "/opt/orbit/orbit"
	}
	if d.ServiceCPU <= 0 {
		d.ServiceCPU = 500
	}
	if d.ServiceMemoryMB <= 0 {
		d.ServiceMemoryMB = 1024
	}
	images := spec.Images
	if len(images) == 0 {
		images = []runner.Image{{Image: m.Image}}
	}
	group.Networks = []*api.NetworkResource{{Mode: "bridge"}}

	var hosts []string
	for i, img := range images[1:] {
		name := serviceName(i, img)
		hosts = append(hosts, name+":127.0.0.1")
		cfg := map[string]any{"image": img.Image}
		if len(img.Entrypoint) > 0 {
			cfg["entrypoint"] = img.Entrypoint
		}
		if len(img.Command) > 0 {
			cfg["args"] = img.Command
		}
		addAuth(cfg, img.Auth)
		scale := s.ResourceScale
		if scale <= 0 {
			scale = 1
		}
		group.Tasks = append(group.Tasks, &api.Task{
			Name:        "service-" + name,
			Driver:      "docker",
			Config:      cfg,
			User:        img.User,
			Env:         envMap(img.Environment),
			Lifecycle:   &api.TaskLifecycle{Hook: api.TaskLifecycleHookPrestart, Sidecar: true},
			KillTimeout: ptr(5 * time.Second),
			Resources: &api.Resources{
				CPU:      ptr(max(int(float64(d.ServiceCPU)*scale), 10)),
				MemoryMB: ptr(max(int(float64(d.ServiceMemoryMB)*scale), 32)),
			},
		})
	}

	primary := images[0]
	cfg := map[string]any{
		"image":      primary.Image,
		"entrypoint": []string{d.AgentMountPath},
		"args":       append([]string{}, s.Agent.Args...),
		"mount": []map[string]any{{
			"type": "bind", "source": d.HostAgentPath, "target": d.AgentMountPath, "readonly": true,
		}},
	}
	if len(hosts) > 0 {
		cfg["extra_hosts"] = hosts
	}
	addAuth(cfg, primary.Auth)
	taskEnv := envMap(primary.Environment)
	maps.Copy(taskEnv, env)
	return &api.Task{
		Name:        TaskName,
		Driver:      "docker",
		Config:      cfg,
		User:        primary.User,
		Env:         taskEnv,
		KillTimeout: ptr(10 * time.Second),
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// serviceName is a service container's host name: its configured name, else
// one derived from the image ("postgres:16" → "postgres"), made unique by
// its position.
func serviceName(i int, img runner.Image) string {
	name := img.Name
	if name == "" {
		name = img.Image
		if j := strings.LastIndexByte(name, '/'); j >= 0 {
			name = name[j+1:]
		}
		name, _, _ = strings.Cut(name, ":")
		name, _, _ = strings.Cut(name, "@")
		return fmt.Sprintf("%s-%d", strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(name), "-"), "-"), i+1)
	}
	return strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

func addAuth(cfg map[string]any, a *runner.RegistryAuth) {
	if a != nil {
		cfg["auth"] = []map[string]any{{"username": a.Username, "password": a.Password}}
	}
}

func envMap(env []runner.EnvVar) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		m[e.Name] = e.Value
	}
	return m
}
