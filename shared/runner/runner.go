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

import "time"

// Step types the agent knows (the others are in files.go).
const (
	StepCheckout = "checkout"
	StepRun      = "run"
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
}

// TaskPlacement is the part of a TaskSpec that places the task: the
// executor and its images (registry logins resolved), not its environment,
// secrets or keys.
type TaskPlacement struct {
	Executor      string  `json:"executor"`
	Image         string  `json:"image,omitempty"`
	Images        []Image `json:"images,omitempty"`
	ResourceClass string  `json:"resource_class,omitempty"`
}

// Placement is the spec's placement.
func (s TaskSpec) Placement() TaskPlacement {
	return TaskPlacement{Executor: s.Executor, Image: s.Image, Images: s.Images, ResourceClass: s.ResourceClass}
}

// Image is one container of a docker executor.
type Image struct {
	Image       string   `json:"image"`
	Name        string   `json:"name,omitempty"`
	User        string   `json:"user,omitempty"`
	Entrypoint  []string `json:"entrypoint,omitempty"`
	Command     []string `json:"command,omitempty"`
	Environment []EnvVar `json:"environment,omitempty"`
	// Auth logs in to the image's registry. Secret.
	Auth *RegistryAuth `json:"auth,omitempty"`
}

// RegistryAuth is a docker registry login.
type RegistryAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

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
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

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
}

// Step is one step of the job, as the config compiles it: the compiled
// plan (config.Step is this type) stores exactly what the agent is sent,
// so the two never drift apart. Type says which fields mean something;
// the agent ignores those it does not implement. config imports this
// package for it, so this package never imports config. Field order is
// the JSON order of stored plans and of config's golden files: do not
// reorder.
type Step struct {
	// Type is StepCheckout, StepRun or one of the built-in steps of
	// files.go (StepSaveCache, ...).
	Type string `json:"type"`
	// Name is shown in the UI: the configured name, else CircleCI's
	// default for the step ("Checkout code", "Saving cache", …) and, for
	// run, the first non-blank line of the command.
	Name string `json:"name"`
	// Command is the run step's script.
	Command string `json:"command,omitempty"`
	// Shell overrides TaskSpec.Shell for this run step ("" = the job's).
	Shell string `json:"shell,omitempty"`
	// Environment is added for this step only, in file order.
	Environment []EnvVar `json:"environment,omitempty"`
	// Background runs the step without waiting for it.
	Background bool `json:"background,omitempty"`
	// WorkingDirectory overrides the job's for this step ("" = the job's).
	WorkingDirectory string `json:"working_directory,omitempty"`
	// When is always, on_success (the default of run and save_cache) or
	// on_fail.
	When string `json:"when,omitempty"`
	// MaxAutoReruns reruns a failed run step up to this many times (0-5),
	// waiting AutoRerunDelay before each; the output of every try is kept.
	MaxAutoReruns int `json:"max_auto_reruns,omitempty"`
	// Path is checkout's destination ("" = the working directory), and
	// the file or directory store_artifacts and store_test_results upload.
	Path string `json:"path,omitempty"`
	// Method is checkout's method: "" (the default), "full" or "blobless".
	Method string `json:"method,omitempty"`
	// Key is save_cache's key template ({{ checksum "go.sum" }}, …).
	Key string `json:"key,omitempty"`
	// Keys are restore_cache's key templates, tried in order (its `key`
	// first, then `keys`).
	Keys []string `json:"keys,omitempty"`
	// Paths are what save_cache saves and persist_to_workspace persists
	// (globs relative to Root).
	Paths []string `json:"paths,omitempty"`
	// Root is persist_to_workspace's root directory.
	Root string `json:"root,omitempty"`
	// At is where attach_workspace extracts the workspace.
	At string `json:"at,omitempty"`
	// Destination is store_artifacts' prefix in the artifacts API.
	Destination string `json:"destination,omitempty"`
	// Fingerprints select add_ssh_keys' keys (all of the project's when
	// empty).
	Fingerprints []string `json:"fingerprints,omitempty"`
	// DockerLayerCaching and Version configure setup_remote_docker.
	DockerLayerCaching bool   `json:"docker_layer_caching,omitempty"`
	Version            string `json:"version,omitempty"`
	// NoOutputTimeout fails a run step that prints nothing for this long
	// (the config sets 10m unless told otherwise; 0: the agent's default).
	NoOutputTimeout Duration `json:"no_output_timeout,omitempty"`
	// AutoRerunDelay is the wait before each rerun of MaxAutoReruns.
	AutoRerunDelay Duration `json:"auto_rerun_delay,omitempty"`
}

// Duration is a time.Duration encoded as a Go duration string ("10m0s").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

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
