// Package vmpool is the port through which nomadbridge gets virtual
// machines: for jobs with the machine (or macos) executor, and for the
// remote Docker engine of setup_remote_docker. Its EC2 driver (preallocated
// and on-demand instances, per-region AMIs, DLC volumes that only one
// project's jobs reuse, leaked-VM collection) is the VM service's work.
// Until a driver exists the bridge runs those jobs on the host executor,
// and the build agent's first output lines say so plainly.
//
//	machine task ─▶ Lease(task) ─▶ VM runs the build agent with the task's
//	                               runner URL and token ─▶ agent reports
//	             ─▶ task terminal ─▶ Release(lease): the VM is terminated,
//	                               never reused
//
// Contract: Lease is idempotent by TaskID (a redelivered run-queue message
// gets the same lease back); Release is idempotent and also terminates a
// VM whose lease expired; both are safe for concurrent use. A pool that
// cannot provide a VM of the class now answers ErrUnavailable (the bridge
// keeps the message and retries); ErrUnknownClass is final (the task is
// reported infrastructure_fail).
package vmpool

import (
	"context"
	"errors"
	"time"
)

// Errors of Lease.
var (
	// ErrUnavailable: no VM can be provided now; try again later.
	ErrUnavailable = errors.New("vmpool: no VM available")
	// ErrUnknownClass: the pool has no such image or resource class.
	ErrUnknownClass = errors.New("vmpool: unknown image or resource class")
)

// Purpose says what a VM is for.
type Purpose string

// Purposes of a lease.
const (
	// Machine runs the build agent itself (machine and macos executors).
	Machine Purpose = "machine"
	// RemoteDocker runs a Docker engine for setup_remote_docker.
	RemoteDocker Purpose = "remote_docker"
)

// Request asks for a VM.
type Request struct {
	// TaskID makes Lease idempotent.
	TaskID      string
	ProjectSlug string
	Purpose     Purpose
	// Image is the machine image ("" for the default) or the Docker
	// version of setup_remote_docker.
	Image         string
	ResourceClass string
	// DockerLayerCaching attaches the project's DLC volume.
	DockerLayerCaching bool
	// Env is given to the build agent on the VM (runner URL, task token).
	// Secret: never logged.
	Env map[string]string
}

// Lease is a VM held for one task.
type Lease struct {
	ID string
	// Address reaches the VM (the Docker engine's for RemoteDocker).
	Address string
	// ExpiresAt is when the pool reclaims the VM if it is not released.
	ExpiresAt time.Time
}

// Pool leases VMs.
type Pool interface {
	Lease(ctx context.Context, r Request) (Lease, error)
	Release(ctx context.Context, leaseID string) error
}
