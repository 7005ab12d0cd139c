package config

import (
	"time"

	"github.com/orbit-ci/orbit/shared/plan"
)

// Plan is a compiled configuration: the contract between Compile and the
// conductor. It holds only the workflows and jobs that run for the pipeline
// the Options describe (filters are already applied), in file order. It is
// plain data and round-trips through encoding/json.
type Plan struct {
	// Version is the config version, normalized to "2.0" or "2.1".
	Version string `json:"version"`
	// Workflows are the workflows to start, in file order. A workflow whose
	// jobs were all filtered out, or whose when/unless says no, is left
	// out; the list may be empty.
	Workflows []Workflow `json:"workflows"`
	// Setup marks a setup configuration (`setup: true`): its workflows
	// run first, and one of its jobs continues the pipeline with a
	// generated configuration, compiled with Options.Continuation set.
	Setup bool `json:"setup,omitempty"`
	// Schedules are the config's scheduled workflows (`triggers`), which
	// never run for a push; a scheduler starts them with
	// Options.ScheduledWorkflow on each branch their filter allows.
	Schedules []Schedule `json:"schedules,omitempty"`
	// Warnings are what CircleCI tolerates and Orbit accepts as it does,
	// but that the author probably did not mean, such as a key a built-in
	// step does not use (see docs/CONFIG-DIFFERENCES.md). They are never
	// errors: the plan runs as CircleCI would run it.
	Warnings ErrorList `json:"warnings,omitempty"`
}

// Schedule is one `triggers` schedule of a workflow.
type Schedule struct {
	// Workflow names the workflow.
	Workflow string `json:"workflow"`
	// Cron is the five-field schedule, in UTC.
	Cron string `json:"cron"`
	// Branches are the branch filter's only and ignore patterns as written
	// (`/re/` for a regular expression matching the whole name).
	Branches PatternFilter `json:"branches"`
}

// PatternFilter is a branch or tag filter as written in the config.
type PatternFilter struct {
	Only   []string `json:"only,omitempty"`
	Ignore []string `json:"ignore,omitempty"`
}

// Workflow is one workflow to start.
type Workflow struct {
	// Name is the workflow's key under `workflows` ("workflow" for a 2.0
	// config without workflows).
	Name string `json:"name"`
	// Jobs are the job invocations in file order. Requirements only name
	// invocations of this list.
	Jobs []JobInvocation `json:"jobs"`
}

// Job types of a JobInvocation.
const (
	// JobTypeBuild is a job that runs steps (the empty type).
	JobTypeBuild = ""
	// JobTypeApproval waits for a person to approve it; it runs nothing.
	JobTypeApproval = "approval"
	// JobTypeNoOp runs nothing and succeeds as soon as its requirements
	// are met (a job definition's `type: no-op`), to join a workflow's
	// branches.
	JobTypeNoOp = "no-op"
)

// JobInvocation is one job of a workflow.
type JobInvocation struct {
	// Name is the invocation's name, unique in its workflow: the `name`
	// override if given, else JobName.
	Name string `json:"name"`
	// JobName is the key of the job definition under `jobs` (for an approval
	// job, the key used in the workflow).
	JobName string `json:"job_name"`
	// Type is JobTypeBuild (""), JobTypeApproval or JobTypeNoOp.
	Type string `json:"type,omitempty"`
	// Requires lists the invocations that must finish (with one of the
	// accepted statuses) before this one starts.
	Requires []Requirement `json:"requires,omitempty"`
	// Contexts name the contexts whose environment variables the job gets.
	Contexts []string `json:"contexts,omitempty"`
	// SerialGroup, when set, makes this job wait for other jobs of the same
	// group (across the project's pipelines) to finish first.
	SerialGroup string `json:"serial_group,omitempty"`
	// Job is the job to run; nil for an approval or no-op job.
	Job *Job `json:"job,omitempty"`
}

// Job statuses a Requirement may accept.
const (
	StatusSuccess      = "success"
	StatusFailed       = "failed"
	StatusCanceled     = "canceled"
	StatusNotRun       = "not_run"
	StatusUnauthorized = "unauthorized"
	// StatusTerminal accepts any terminal status.
	StatusTerminal = "terminal"
)

// Requirement is one entry of a job's `requires`.
type Requirement struct {
	// Name is the required invocation's Name in the same workflow.
	Name string `json:"name"`
	// Statuses are the statuses of the required job that unblock this one;
	// ["success"] unless the config says otherwise.
	Statuses []string `json:"statuses"`
}

// Job is a job definition, with defaults applied.
type Job struct {
	// Executor says where the steps run.
	Executor Executor `json:"executor"`
	// Parallelism is the number of tasks the job is split into (≥ 1).
	Parallelism int `json:"parallelism"`
	// Environment is the job's environment, in file order.
	Environment []EnvVar `json:"environment,omitempty"`
	// WorkingDirectory is where steps run ("~/project" by default).
	WorkingDirectory string `json:"working_directory"`
	// Shell runs run steps ("/bin/bash -eo pipefail" by default).
	Shell string `json:"shell"`
	// Steps are the steps in order, commands and conditions expanded. It is
	// empty only when every step was a when/unless whose condition said no
	// (the job then succeeds with nothing to run).
	Steps []Step `json:"steps"`
	// CircleCIIPRanges asks for the job's traffic to leave from the
	// published IP ranges.
	CircleCIIPRanges bool `json:"circleci_ip_ranges,omitempty"`
}

// Executor types.
const (
	ExecutorDocker  = "docker"
	ExecutorMachine = "machine"
	ExecutorMacOS   = "macos"
)

// Executor describes the environment a job runs in.
type Executor struct {
	// Type is ExecutorDocker, ExecutorMachine or ExecutorMacOS.
	Type string `json:"type"`
	// Images are the docker images; the first is the primary container the
	// steps run in, the others are service containers. Docker only.
	Images []Image `json:"images,omitempty"`
	// MachineImage is the machine image ("" for `machine: true`, the
	// default image) or, for macos, the Xcode version.
	MachineImage string `json:"machine_image,omitempty"`
	// ResourceClass is the job's resource_class ("" for the default).
	ResourceClass string `json:"resource_class,omitempty"`
	// DockerLayerCaching keeps docker layers between machine jobs.
	DockerLayerCaching bool `json:"docker_layer_caching,omitempty"`
}

// Image is one container of a docker executor: the runner API's. Its
// auth is as written in the config, usually a reference such as
// "$DOCKERHUB_PASSWORD" that the conductor resolves from the project's and
// contexts' variables for each task; aws_auth (ECR) is accepted but not
// carried: Nomad clients log in to ECR through their credential helper.
type Image = plan.Image

// EnvVar is one environment variable: the runner API's, so the plan's
// variables reach the agent as they are. Values are strings as CircleCI
// makes them: numbers and booleans as written, null as "".
type EnvVar = plan.EnvVar

// Step types: the built-in steps. when/unless steps and command
// invocations never reach the Plan; they are expanded into these.
const (
	StepCheckout           = plan.StepCheckout
	StepRun                = plan.StepRun
	StepSaveCache          = plan.StepSaveCache
	StepRestoreCache       = plan.StepRestoreCache
	StepStoreArtifacts     = plan.StepStoreArtifacts
	StepStoreTestResults   = plan.StepStoreTestResults
	StepPersistToWorkspace = plan.StepPersistToWorkspace
	StepAttachWorkspace    = plan.StepAttachWorkspace
	StepAddSSHKeys         = plan.StepAddSSHKeys
	StepSetupRemoteDocker  = plan.StepSetupRemoteDocker
)

// Values of Step.When.
const (
	WhenAlways    = plan.WhenAlways
	WhenOnSuccess = plan.WhenOnSuccess
	WhenOnFail    = plan.WhenOnFail
)

// DefaultNoOutputTimeout is the run step's no_output_timeout default.
const DefaultNoOutputTimeout = plan.Duration(10 * time.Minute)

// Step is one step of a job (package plan's): the runner API carries the
// same type, so the conductor hands the plan's steps to the agent unchanged
// and the stored plan's JSON is the runner API's (durations as Go duration
// strings such as "10m0s"). Type is one of the Step* constants and says
// which fields mean something.
type Step = plan.Step

// Duration is a step's duration, encoded as a Go duration string.
type Duration = plan.Duration

// RegistryAuth is an image's registry login as written in the config.
type RegistryAuth = plan.RegistryAuth
