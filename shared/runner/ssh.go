package runner

import "github.com/orbit-ci/orbit/shared/plan"

// A rerun with SSH ("Rerun job with SSH"; the API's rerun with enable_ssh)
// runs the job as usual between two steps the agent provides:
//
//	enable_ssh      start an SSH server on the job's SSH port (allocated by
//	                Nomad from the clients' 64535–65535) that admits only
//	                SSHAccess.AuthorizedKeys; print `ssh -p PORT user@host`
//	…the job's steps…
//	wait_for_ssh    (always) keep the job up until no session was open for
//	                IdleSeconds (default 10 min), at most MaxSeconds (default
//	                2 h); then close every session, and the job ends with
//	                the outcome of its own steps
//
// Sessions run in the job's working directory with the job's environment.
const (
	StepEnableSSH  = "enable_ssh"
	StepWaitForSSH = "wait_for_ssh"
)

// SSHAccess is who may SSH into a job rerun with SSH, and for how long.
type SSHAccess struct {
	// AuthorizedKeys are authorized_keys lines ("ssh-ed25519 AAAA… name"):
	// the public keys of the user who asked for the rerun (their GitHub
	// keys, or those added to their Orbit account). No other key gets in.
	AuthorizedKeys []string `json:"authorized_keys"`
	// IdleSeconds is how long the job waits after the last session ends, or
	// for a first session (0: 600, CircleCI's ten minutes).
	IdleSeconds int `json:"idle_seconds,omitempty"`
	// MaxSeconds bounds the wait whatever the sessions (0: 7200, two hours).
	MaxSeconds int `json:"max_seconds,omitempty"`
}

// WithSSH returns spec rerun with SSH: access recorded, enable_ssh first
// and wait_for_ssh last (it runs whatever the steps' outcome).
func WithSSH(spec TaskSpec, access SSHAccess) TaskSpec {
	spec.SSH = &access
	steps := make([]Step, 0, len(spec.Steps)+2)
	steps = append(steps, Step{Type: StepEnableSSH, Name: "Enable SSH"})
	steps = append(steps, spec.Steps...)
	spec.Steps = append(steps, Step{Type: StepWaitForSSH, Name: "Wait for SSH sessions", When: plan.WhenAlways})
	return spec
}
