// Package plan holds the data a compiled job is made of: its steps, its
// docker images and its environment variables. The config compiler
// (shared/config) produces them in a Plan; the runner API (shared/runner)
// carries the same values to the build agent, so the stored plan's JSON is
// exactly what the agent is sent and the two never drift apart.
//
//	.circleci/config.yml ─▶ config.Compile ─▶ Plan{…Job{Steps []plan.Step}}
//	                                              │ stored as JSON
//	                                              ▼
//	                      conductor ─▶ runner.TaskSpec{Steps []plan.Step} ─▶ agent
//
// It is pure data with no dependencies on Orbit's transports, so the
// compiler stays a pure function of the config.
package plan

import "time"

// Step types: CircleCI's built-in steps. when/unless steps and command
// invocations never reach a plan; the compiler expands them into these.
const (
	StepCheckout           = "checkout"
	StepRun                = "run"
	StepSaveCache          = "save_cache"
	StepRestoreCache       = "restore_cache"
	StepPersistToWorkspace = "persist_to_workspace"
	StepAttachWorkspace    = "attach_workspace"
	StepStoreArtifacts     = "store_artifacts"
	StepStoreTestResults   = "store_test_results"
	StepAddSSHKeys         = "add_ssh_keys"
	StepSetupRemoteDocker  = "setup_remote_docker"
)

// Values of Step.When.
const (
	WhenAlways    = "always"
	WhenOnSuccess = "on_success"
	WhenOnFail    = "on_fail"
)

// Step is one step of a job, as the config compiles it. Type says which
// fields mean something; the agent ignores those it does not implement.
// Field order is the JSON order of stored plans and of config's golden
// files: do not reorder.
type Step struct {
	// Type is one of the Step* constants.
	Type string `json:"type"`
	// Name is shown in the UI: the configured name, else CircleCI's
	// default for the step ("Checkout code", "Saving cache", …) and, for
	// run, the first non-blank line of the command.
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

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
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

// Runs reports whether the step runs, given whether an earlier step of
// the task failed: When decides; without one (plans compiled before
// store_artifacts and store_test_results carried theirs), those two run
// always, as on CircleCI, so a failed job keeps its artifacts and test
// results, and every other step runs only while all before it succeeded.
func (s Step) Runs(failed bool) bool {
	when := s.When
	if when == "" && (s.Type == StepStoreArtifacts || s.Type == StepStoreTestResults) {
		when = WhenAlways
	}
	switch when {
	case WhenAlways:
		return true
	case WhenOnFail:
		return failed
	default:
		return !failed
	}
}
