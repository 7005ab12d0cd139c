package nomadbridge

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// Meta keys of Orbit's Nomad jobs and VM leases (vmpool.Request.Meta).
// MetaTaskID marks a job as Orbit's.
const (
	MetaTaskID     = "orbit_task_id"
	MetaJobID      = "orbit_job_id"
	MetaPipelineID = "orbit_pipeline_id"
	MetaWorkflowID = "orbit_workflow_id"
	MetaTaskIndex  = "orbit_task_index"
	MetaAttempt    = "orbit_attempt"
)

// Names inside an Orbit Nomad job: one group with one task, the agent.
const (
	GroupName = "build"
	TaskName  = "agent"
)

// DefaultDriver is the Nomad driver of the host executor.
const DefaultDriver = "raw_exec"

// ErrUnknownResourceClass: the message names a resource class Orbit cannot
// place. The bridge reports the task as infrastructure_fail.
var ErrUnknownResourceClass = errors.New("unknown resource class")

// ResourceClass is a CircleCI resource class's size.
type ResourceClass struct {
	VCPU     float64
	MemoryGB float64
	// GPUs are NVIDIA GPUs; a class with GPUs places only on Nomad clients
	// of a GPU node class (JobSpec.GPUNodeClass) with the nvidia device.
	GPUs int
}

// ResourceClasses maps CircleCI's resource classes to sizes ("" is
// medium, the default): the docker classes of DESIGN.md and the GPU classes
// of CircleCI Server.
var ResourceClasses = map[string]ResourceClass{
	"small":             {1, 2, 0},
	"medium":            {2, 4, 0},
	"medium+":           {3, 6, 0},
	"large":             {4, 8, 0},
	"xlarge":            {8, 16, 0},
	"2xlarge":           {16, 32, 0},
	"2xlarge+":          {20, 40, 0},
	"gpu.nvidia.small":  {4, 15, 1},
	"gpu.nvidia.medium": {8, 30, 1},
	"gpu.nvidia.large":  {8, 30, 1},
}

// AgentCommand is how a Nomad task starts the build agent.
type AgentCommand struct {
	// Path is the executable, e.g. the orbit binary (absolute: raw_exec does
	// not search PATH the way a shell does).
	Path string
	// Args follow Path, e.g. ["agent"].
	Args []string
	// Env adds variables to the agent's environment (tests use it).
	Env map[string]string
}

// JobSpec holds what BuildJob needs besides the message.
type JobSpec struct {
	// Datacenters of the job (default: all, "*").
	Datacenters []string
	// Region of the job ("" is the agent's).
	Region string
	// Driver runs the agent on the host executor (DefaultDriver when
	// empty). raw_exec and exec take the same config.
	Driver string
	// Docker, when set, runs docker-executor tasks with Nomad's docker
	// driver (jobspec_docker.go); otherwise every task runs on the host
	// executor and the agent says the image was not used.
	Docker *DockerSpec
	// GPUNodeClass is the regular expression the node class of a client
	// must match to run a GPU resource class (default "^gpu").
	GPUNodeClass string
	// Agent is the agent's command.
	Agent AgentCommand
	// RunnerURL is the runner API's base URL as agents reach it.
	RunnerURL string
	// Proxy is passed on to agents and their steps.
	Proxy ProxyEnv
	// CACertDir is a directory of extra CA certificates on the clients,
	// trusted by agents and their steps ("" for none).
	CACertDir string
	// ResourceScale multiplies the resource class's CPU and memory (1 when
	// 0), so that a laptop's dev agent can place a "large" job.
	ResourceScale float64
}

// BuildJob builds the Nomad batch job that runs the message's task: ID
// m.NomadJobID(), one group whose task TaskName runs the agent, no Nomad
// restarts or reschedules (Orbit retries, as a new job), the task's ids in
// Meta and the agent's environment (runner URL, task token, task dir).
// spec is the task's spec from the runner API when the bridge could fetch
// it (the docker executor's containers); the zero spec falls back to the
// message's primary image.
//
// Executors: docker tasks run with Nomad's docker driver when s.Docker is
// set, else on the host executor. Machine and macos tasks need a VM: a
// bridge with a VM pool (Config.Pool) leases one instead of calling
// BuildJob; without a pool they run here on the host executor, and the
// agent's first output lines say so.
func BuildJob(s JobSpec, m runqueue.Message, spec runner.TaskPlacement) (*api.Job, error) {
	rcName := m.ResourceClass
	if rcName == "" {
		rcName = "medium"
	}
	rc, ok := ResourceClasses[rcName]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownResourceClass, m.ResourceClass,
			slices.Sorted(maps.Keys(ResourceClasses)))
	}
	if s.Agent.Path == "" {
		return nil, errors.New("nomadbridge: agent path is empty")
	}
	env := s.agentEnv(m)
	env[agent.EnvTaskDir] = "${NOMAD_TASK_DIR}"

	id := m.NomadJobID()
	group := newGroup()
	var primary *api.Task
	if s.Docker != nil && (m.Executor == "docker" || m.Executor == "") {
		primary = s.dockerTasks(group, m, spec, env)
	} else {
		primary = s.hostTask(env)
	}
	primary.Resources = s.resources(rc)
	primary.Meta = map[string]string{
		"orbit_executor":       m.Executor,
		"orbit_image":          m.Image,
		"orbit_resource_class": rcName,
	}
	group.Tasks = append([]*api.Task{primary}, group.Tasks...)
	if spec.SSH {
		addSSHPort(group)
	}
	if rc.GPUs > 0 {
		class := s.GPUNodeClass
		if class == "" {
			class = "^gpu"
		}
		group.Constraints = append(group.Constraints, api.NewConstraint("${node.class}", "regexp", class))
	}
	return s.batchJob(id, taskMeta(m), group), nil
}

// newGroup is the task group of every Orbit job: one allocation, no Nomad
// restarts or reschedules (Orbit retries, as a new job).
func newGroup() *api.TaskGroup {
	return &api.TaskGroup{
		Name:  ptr(GroupName),
		Count: ptr(1),
		RestartPolicy: &api.RestartPolicy{
			Attempts: ptr(0),
			Mode:     ptr("fail"),
		},
		ReschedulePolicy: &api.ReschedulePolicy{
			Attempts:  ptr(0),
			Unlimited: ptr(false),
		},
	}
}

// batchJob is the Nomad batch job id of one group, in s's datacenters and
// region.
func (s JobSpec) batchJob(id string, meta map[string]string, group *api.TaskGroup) *api.Job {
	dcs := s.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	job := &api.Job{
		ID:          ptr(id),
		Name:        ptr(id),
		Type:        ptr(api.JobTypeBatch),
		Datacenters: slices.Clone(dcs),
		Meta:        meta,
		TaskGroups:  []*api.TaskGroup{group},
	}
	if s.Region != "" {
		job.Region = ptr(s.Region)
	}
	return job
}

// taskMeta labels what runs m's task (a Nomad job's meta, a VM lease's)
// with the task's ids.
func taskMeta(m runqueue.Message) map[string]string {
	return map[string]string{
		MetaTaskID:     m.TaskID,
		MetaJobID:      m.JobID,
		MetaPipelineID: m.PipelineID,
		MetaWorkflowID: m.WorkflowID,
		MetaTaskIndex:  strconv.Itoa(m.Index),
		MetaAttempt:    strconv.Itoa(m.Attempt),
	}
}

// agentEnv is the environment the build agent of m's task gets wherever it
// runs, in a Nomad job or on a leased VM: Agent.Env, the runner URL, the
// task token, the proxies and the CA directory.
func (s JobSpec) agentEnv(m runqueue.Message) map[string]string {
	env := map[string]string{}
	maps.Copy(env, s.Agent.Env)
	env[agent.EnvRunnerURL] = s.RunnerURL
	env[agent.EnvTaskToken] = m.Token
	s.Proxy.env(s.RunnerURL, env)
	if s.CACertDir != "" {
		env[agent.EnvCACertDir] = s.CACertDir
	}
	return env
}

// hostTask runs the agent directly on the client (raw_exec or exec).
func (s JobSpec) hostTask(env map[string]string) *api.Task {
	driver := s.Driver
	if driver == "" {
		driver = DefaultDriver
	}
	env[agent.EnvHostDriver] = driver
	return &api.Task{
		Name:   TaskName,
		Driver: driver,
		Config: map[string]any{
			"command": s.Agent.Path,
			"args":    append([]string{}, s.Agent.Args...),
		},
		Env: env,
		// The agent kills its steps' process groups within its own grace
		// (2 s) and then exits.
		KillTimeout: ptr(10 * time.Second),
	}
}

// resources sizes the primary task from its resource class.
func (s JobSpec) resources(rc ResourceClass) *api.Resources {
	scale := s.ResourceScale
	if scale <= 0 {
		scale = 1
	}
	r := &api.Resources{
		CPU:      ptr(max(int(math.Round(rc.VCPU*1000*scale)), 10)),
		MemoryMB: ptr(max(int(math.Round(rc.MemoryGB*1024*scale)), 32)),
	}
	if rc.GPUs > 0 {
		r.Devices = []*api.RequestedDevice{{Name: "nvidia/gpu", Count: ptr(uint64(rc.GPUs))}}
	}
	return r
}

func ptr[T any](v T) *T { return &v }
