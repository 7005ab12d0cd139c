package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// Plan is a compiled configuration: the contract between Compile and the
// conductor. It holds only the workflows and jobs that run for the pipeline
// the Options describe (filters are already applied), in file order. It is
// plain data and round-trips through encoding/json.
type Plan struct {
	// Version is the config version, normalized to "2.0" or "2.1".
	Version string `json:"version"`
	// Workflows are the workflows to start, in file order. A workflow whose
	// jobs were all filtered out is left out; the list may be empty.
	Workflows []Workflow `json:"workflows"`
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
)

// JobInvocation is one job of a workflow.
type JobInvocation struct {
	// Name is the invocation's name, unique in its workflow: the `name`
	// override if given, else JobName.
	Name string `json:"name"`
	// JobName is the key of the job definition under `jobs` (for an approval
	// job, the key used in the workflow).
	JobName string `json:"job_name"`
	// Type is JobTypeBuild ("") or JobTypeApproval.
	Type string `json:"type,omitempty"`
	// Requires lists the invocations that must finish (with one of the
	// accepted statuses) before this one starts.
	Requires []Requirement `json:"requires,omitempty"`
	// Contexts name the contexts whose environment variables the job gets.
	Contexts []string `json:"contexts,omitempty"`
	// Job is the job to run; nil for an approval job.
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
	// Steps are the steps in order; never empty.
	Steps []Step `json:"steps"`
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
}

// Image is one container of a docker executor. Registry credentials (auth,
// aws_auth) are accepted in the config but deliberately not carried here.
type Image struct {
	// Image is the image reference, e.g. "cimg/go:1.22".
	Image string `json:"image"`
	// Name is the container's host name in the job's network (optional).
	Name string `json:"name,omitempty"`
	// User runs the container's processes (optional).
	User string `json:"user,omitempty"`
	// Entrypoint overrides the image's entrypoint; a string in the config
	// becomes a one-element list.
	Entrypoint []string `json:"entrypoint,omitempty"`
	// Command overrides the image's command; a string in the config becomes
	// a one-element list.
	Command []string `json:"command,omitempty"`
	// Environment is the container's environment, in file order.
	Environment []EnvVar `json:"environment,omitempty"`
}

// EnvVar is one environment variable. Values are strings as CircleCI makes
// them: numbers and booleans as written, null as "".
type EnvVar struct {
	// Name is the variable's name.
	Name string `json:"name"`
	// Value is the variable's value.
	Value string `json:"value"`
}

// Step types that compile fully today; the other built-in steps keep Type
// as their key and their fields in Step.Raw.
const (
	StepCheckout = "checkout"
	StepRun      = "run"
)

// Values of Step.When.
const (
	WhenAlways    = "always"
	WhenOnSuccess = "on_success"
	WhenOnFail    = "on_fail"
)

// DefaultNoOutputTimeout is the run step's no_output_timeout default.
const DefaultNoOutputTimeout = 10 * time.Minute

// Step is one step of a job.
type Step struct {
	// Type is the step's key: "checkout", "run", or another built-in step
	// (save_cache, restore_cache, store_artifacts, …) whose fields are in Raw.
	Type string `json:"type"`
	// Name is shown in the UI: the configured name, else "Checkout code" for
	// checkout and the first non-blank line of the command for run.
	Name string `json:"name"`
	// Command is the run step's script.
	Command string `json:"command,omitempty"`
	// Shell overrides the job's shell for this run step ("" = the job's).
	Shell string `json:"shell,omitempty"`
	// Environment is added for this step only, in file order.
	Environment []EnvVar `json:"environment,omitempty"`
	// Background runs the step without waiting for it.
	Background bool `json:"background,omitempty"`
	// WorkingDirectory overrides the job's for this step ("" = the job's).
	WorkingDirectory string `json:"working_directory,omitempty"`
	// NoOutputTimeout fails a run step that prints nothing for this long
	// (DefaultNoOutputTimeout unless configured). JSON: a Go duration
	// string such as "10m0s".
	NoOutputTimeout time.Duration `json:"-"`
	// When is WhenAlways, WhenOnSuccess (the run default) or WhenOnFail.
	When string `json:"when,omitempty"`
	// Path is checkout's destination ("" = the working directory).
	Path string `json:"path,omitempty"`
	// Raw holds the fields of a step type that is not compiled yet, as
	// plain values (string, int, float64, bool, nil, []any, map[string]any).
	Raw map[string]any `json:"raw,omitempty"`
}

// stepJSON is Step's wire form: NoOutputTimeout as a duration string.
type stepJSON struct {
	stepFields
	NoOutputTimeout string `json:"no_output_timeout,omitempty"`
}

// stepFields is Step without its methods, so encoding it does not recurse.
type stepFields Step

// MarshalJSON encodes NoOutputTimeout as a duration string.
func (s Step) MarshalJSON() ([]byte, error) {
	w := stepJSON{stepFields: stepFields(s)}
	if s.NoOutputTimeout != 0 {
		w.NoOutputTimeout = s.NoOutputTimeout.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the form MarshalJSON writes.
func (s *Step) UnmarshalJSON(b []byte) error {
	var w stepJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Step(w.stepFields)
	if w.NoOutputTimeout != "" {
		d, err := time.ParseDuration(w.NoOutputTimeout)
		if err != nil {
			return fmt.Errorf("step %q: no_output_timeout: %w", s.Name, err)
		}
		s.NoOutputTimeout = d
	}
	return nil
}
