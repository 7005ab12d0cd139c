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
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// Meta keys of Orbit's Nomad jobs. MetaTaskID marks a job as Orbit's.
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
}

// ResourceClasses maps CircleCI's docker resource classes to sizes ("" is
// medium, the default).
var ResourceClasses = map[string]ResourceClass{
	"small":    {1, 2},
	"medium":   {2, 4},
	"medium+":  {3, 6},
	"large":    {4, 8},
	"xlarge":   {8, 16},
	"2xlarge":  {16, 32},
	"2xlarge+": {20, 40},
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
	// Driver runs the agent (DefaultDriver when empty). raw_exec and exec
	// take the same config.
	Driver string
	// Agent is the agent's command.
	Agent AgentCommand
	// RunnerURL is the runner API's base URL as agents reach it.
	RunnerURL string
	// ResourceScale multiplies the resource class's CPU and memory (1 when
	// 0), so that a laptop's dev agent can place a "large" job.
	ResourceScale float64
}

// BuildJob builds the Nomad batch job that runs the message's task: ID
// m.NomadJobID(), one group with one task running the agent, no Nomad
// restarts or reschedules (Orbit retries, as a new job), the task's ids in
// Meta and the agent's environment (runner URL, task token, task dir).
func BuildJob(s JobSpec, m runqueue.Message) (*api.Job, error) {
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
	scale := s.ResourceScale
	if scale <= 0 {
		scale = 1
	}
	cpu := max(int(math.Round(rc.VCPU*1000*scale)), 10)
	mem := max(int(math.Round(rc.MemoryGB*1024*scale)), 32)
	driver := s.Driver
	if driver == "" {
		driver = DefaultDriver
	}
	dcs := s.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}

	env := map[string]string{}
	maps.Copy(env, s.Agent.Env)
	env[agent.EnvRunnerURL] = s.RunnerURL
	env[agent.EnvTaskToken] = m.Token
	env[agent.EnvTaskDir] = "${NOMAD_TASK_DIR}"

	id := m.NomadJobID()
	job := &api.Job{
		ID:          ptr(id),
		Name:        ptr(id),
		Type:        ptr(api.JobTypeBatch),
		Datacenters: slices.Clone(dcs),
		Meta: map[string]string{
			MetaTaskID:     m.TaskID,
			MetaJobID:      m.JobID,
			MetaPipelineID: m.PipelineID,
			MetaWorkflowID: m.WorkflowID,
			MetaTaskIndex:  strconv.Itoa(m.Index),
			MetaAttempt:    strconv.Itoa(m.Attempt),
		},
		TaskGroups: []*api.TaskGroup{{
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
			Tasks: []*api.Task{{
				Name:   TaskName,
				Driver: driver,
				Config: map[string]any{
					"command": s.Agent.Path,
					"args":    append([]string{}, s.Agent.Args...),
				},
				Env: env,
				Resources: &api.Resources{
					CPU:      ptr(cpu),
					MemoryMB: ptr(mem),
				},
				// The agent kills its steps' process groups within its own
				// grace (2 s) and then exits.
				KillTimeout: ptr(10 * time.Second),
				Meta: map[string]string{
					"orbit_executor":       m.Executor,
					"orbit_image":          m.Image,
					"orbit_resource_class": rcName,
				},
			}},
		}},
	}
	if s.Region != "" {
		job.Region = ptr(s.Region)
	}
	return job, nil
}

func ptr[T any](v T) *T { return &v }
