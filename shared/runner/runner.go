// Package runner is the runner API: how a build agent, running inside a Nomad
// allocation or on a VM, gets the task it must run and reports what happens.
//
// Every request carries `Authorization: Bearer <task token>`; the token names
// one task and expires with it (see Tokens). Routes, relative to the runner
// base URL (the API serves them under /runner/v1):
//
//	GET  /task                    → TaskSpec (200), 401 bad token, 410 task already terminal
//	GET  /task/placement          → TaskPlacement: what the bridge needs to place the task
//	                              (executor, images with registry logins); never the job's
//	                              environment, secrets or keys, which only the agent gets
//	POST /task/start              TaskStart → 204; marks the task running (idempotent)
//	POST /task/steps/{n}/output?seq=K   raw output bytes → 204; chunk K (from 0) of step n;
//	                              a chunk already stored with the same seq is ignored,
//	                              so retries are harmless
//	POST /task/steps/{n}          StepReport → 204; a step's status (running, then a
//	                              terminal one); a terminal report is final
//	POST /task/finish             TaskResult → 204; the task's outcome; the first
//	                              terminal result wins, later ones are no-ops (204)
//	POST /task/heartbeat          → 204; the task is still alive (nomadbridge sends it
//	                              while the allocation runs; it keeps the job's
//	                              orchestrator heartbeat fresh)
//
// GET /task answers 410 Gone once the task is terminal: the bridge asks it
// before registering a redelivered message, and the agent stops there.
//
// Errors are JSON {"message": "..."}. 5xx and network errors are retried by the
// agent with backoff (the API may be restarting); 4xx are not.
//
// Call order: GET /task, POST /task/start, then for each step: POST
// /task/steps/{n} (running), output chunks, POST /task/steps/{n} (terminal);
// finally POST /task/finish.
package runner

import (
	"time"

	"github.com/orbit-ci/orbit/shared/plan"
)

// Step types the agent knows (the others are in files.go): the plan's.
const (
	StepCheckout = plan.StepCheckout
	StepRun      = plan.StepRun
)

// Task statuses reported by the agent (a subset of job statuses).
const (
	StatusRunning            = "running"
	StatusSuccess            = "success"
	StatusFailed             = "failed"
	StatusCanceled           = "canceled"
	StatusInfrastructureFail = "infrastructure_fail"
	StatusTimedOut           = "timedout"
)

// TaskSpec is everything the agent needs to run one task.
type TaskSpec struct {
	TaskID     string `json:"task_id"`
	JobID      string `json:"job_id"`
	JobName    string `json:"job_name"`
	JobNumber  int64  `json:"job_number"`
	WorkflowID string `json:"workflow_id"`
	PipelineID string `json:"pipeline_id"`
	// Index and Total are CIRCLE_NODE_INDEX and CIRCLE_NODE_TOTAL.
	Index int `json:"index"`
	Total int `json:"total"`
	// ProjectSlug is the project's slug, e.g. "gh/acme/api".
	ProjectSlug string `json:"project_slug,omitempty"`
	// Executor and Image are as configured; the host executor records the
	// image without pulling it.
	Executor string `json:"executor"`
	Image    string `json:"image,omitempty"`
	// Images are the docker executor's containers, the primary first; the
	// bridge builds the docker job spec from them.
	Images []Image `json:"images,omitempty"`
	// ResourceClass is the configured resource class ("" is medium).
	ResourceClass string `json:"resource_class,omitempty"`
	// Notices are printed, one per line, at the top of the first step's
	// output: how the job really runs (e.g. that the image was not used).
	Notices []string `json:"notices,omitempty"`
	// SSHKeys are the project's additional SSH keys, installed by
	// add_ssh_keys. Secret: never logged.
	SSHKeys []SSHKey `json:"ssh_keys,omitempty"`
	// WorkingDirectory is the job's working_directory as configured
	// ("~/project" by default); the agent expands "~".
	WorkingDirectory string `json:"working_directory"`
	// Shell is the default shell of run steps ("/bin/bash -eo pipefail").
	Shell string `json:"shell"`
	// Environment is the job's environment in the order the agent applies
	// it: CircleCI's built-in variables first, then project, context, job
	// and step variables override in that order. Values may be secrets.
	Environment []EnvVar `json:"environment"`
	// Secrets lists values to mask in output.
	Secrets []string `json:"secrets,omitempty"`
	// Checkout says where the source is.
	Checkout Checkout `json:"checkout"`
	// Steps are the job's steps in order.
	Steps []Step `json:"steps"`
	// SSH is set for a rerun with SSH (ssh.go): who may connect, how long.
	SSH *SSHAccess `json:"ssh,omitempty"`
}

// TaskPlacement is the part of a TaskSpec that places the task: the
// executor and its images (registry logins resolved), not its environment,
// secrets or keys.
type TaskPlacement struct {
	Executor      string  `json:"executor"`
	Image         string  `json:"image,omitempty"`
	Images        []Image `json:"images,omitempty"`
	ResourceClass string  `json:"resource_class,omitempty"`
	// SSH asks for a port for SSH into the job (a rerun with SSH).
	SSH bool `json:"ssh,omitempty"`
	// RemoteDocker is set when the job's steps have a setup_remote_docker:
	// the bridge leases the job a remote Docker engine before it starts.
	RemoteDocker *RemoteDocker `json:"remote_docker,omitempty"`
}

// RemoteDocker is what a job's (first) setup_remote_docker step asks for.
type RemoteDocker struct {
	// Version is the step's Docker version ("" for the default).
	Version string `json:"version,omitempty"`
	// DockerLayerCaching keeps the engine's layers between the project's
	// jobs.
	DockerLayerCaching bool `json:"docker_layer_caching,omitempty"`
}

// Placement is the spec's placement.
func (s TaskSpec) Placement() TaskPlacement {
	p := TaskPlacement{Executor: s.Executor, Image: s.Image, Images: s.Images, ResourceClass: s.ResourceClass,
		SSH: s.SSH != nil}
	for _, st := range s.Steps {
		if st.Type == StepSetupRemoteDocker {
			p.RemoteDocker = &RemoteDocker{Version: st.Version, DockerLayerCaching: st.DockerLayerCaching}
			break
		}
	}
	return p
}

// Image is one container of a docker executor: the plan's, as compiled.
type Image = plan.Image

// RegistryAuth is a docker registry login.
type RegistryAuth = plan.RegistryAuth

// SSHKey is an additional SSH key of the project.
type SSHKey struct {
	// Fingerprint is the key's SHA256 fingerprint ("SHA256:…") and MD5 its
	// MD5 one ("aa:bb:…"); add_ssh_keys may name either.
	Fingerprint string `json:"fingerprint"`
	MD5         string `json:"md5,omitempty"`
	// Hostname limits the key to one host ("" for all).
	Hostname string `json:"hostname,omitempty"`
	// PrivateKey is the PEM private key. Secret.
	PrivateKey string `json:"private_key"`
}

// EnvVar is one environment variable.
type EnvVar = plan.EnvVar

// Checkout describes the revision to check out.
type Checkout struct {
	// RepoURL is what git clones: a URL or, in the embedded shape, a local path.
	RepoURL string `json:"repo_url"`
	// Revision is the commit SHA to check out.
	Revision string `json:"revision"`
	Branch   string `json:"branch,omitempty"`
	Tag      string `json:"tag,omitempty"`
	// SSHKey is the project's checkout key (an OpenSSH private key), used
	// when RepoURL is an SSH URL. Secret: never logged.
	SSHKey string `json:"ssh_key,omitempty"`
	// KnownHosts are pinned known_hosts lines for the repository's host
	// (GitHub's published keys): a host presenting another key is refused.
	KnownHosts string `json:"known_hosts,omitempty"`
	// Token, for an HTTPS RepoURL, authenticates the clone as
	// x-access-token (GitHub). Secret: never logged, given to the checkout
	// step alone.
	Token string `json:"token,omitempty"`
}

// Step is one step of the job: the compiled plan's step (package plan),
// sent to the agent unchanged.
type Step = plan.Step

// Duration is a time.Duration encoded as a Go duration string ("10m0s").
type Duration = plan.Duration

// TaskStart is the body of POST /task/start.
type TaskStart struct {
	// Host names the machine or allocation running the task.
	Host string `json:"host,omitempty"`
}

// StepReport is the body of POST /task/steps/{n}.
type StepReport struct {
	// Status is running, success, failed, canceled or timedout.
	Status    string    `json:"status"`
	ExitCode  *int      `json:"exit_code,omitempty"`
	StartedAt time.Time `json:"started_at"`
	StoppedAt time.Time `json:"stopped_at,omitzero"`
	// Message explains a failure that is not the command's (e.g. a timeout).
	Message string `json:"message,omitempty"`
}

// TaskResult is the body of POST /task/finish.
type TaskResult struct {
	// Status is success, failed, canceled, infrastructure_fail or timedout.
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}
