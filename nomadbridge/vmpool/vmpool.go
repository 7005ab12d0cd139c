// Package vmpool is the port through which nomadbridge gets virtual
// machines: for jobs with the machine (or macos) executor, and for the
// remote Docker engine of setup_remote_docker. Package ec2pool is its EC2
// driver (preallocated and on-demand instances, per-region AMIs, DLC
// volumes that only one project's jobs reuse, leaked-VM collection: the
// seed's vm-service, vm-scaler and vm-gc); package fakepool is an in-memory
// driver for tests, and vmpooltest the conformance suite both pass. A bridge configured without a pool
// runs those jobs on the host executor, and the build agent's first output
// lines say so plainly.
//
//	machine task ─▶ Lease(task) ─▶ VM boots and runs the build agent with
//	                               Request.Env (runner URL, task token)
//	                               ─▶ agent reports to the runner API
//	             ─▶ bridge: Leases() every few seconds ─▶ VM Stopped before
//	                               the task ended, or lease expired
//	                               ─▶ task infrastructure_fail
//	             ─▶ task terminal ─▶ Release(lease): the VM is terminated,
//	                               never reused
//
// Contract (pinned down by vmpooltest.Run):
//
//   - Lease is idempotent by TaskID while the lease lives: a redelivered
//     run-queue message gets the same lease back (same ID), whatever its
//     VM's state. After Release, a Lease for the same TaskID makes a new
//     lease on a new VM; the bridge asks the runner API first whether the
//     task is over. Lease returns once the VM is requested; it need not
//     wait for the VM to boot.
//   - A pool that cannot provide a VM of the class now answers
//     ErrUnavailable (capacity: the bridge leaves the message for
//     redelivery and tries again later); ErrUnknownClass is final (the
//     task is reported infrastructure_fail). Neither takes capacity. Other
//     errors mean the pool itself failed and the call may be retried.
//   - Leases lists every lease not yet released, with the request that
//     made it and the VM's current state, so that a restarted bridge
//     re-learns its tasks (and their tokens) from the pool, as it does
//     from Nomad's jobs. A lease whose VM stopped (its agent exited and it
//     shut down, it died, or the pool reclaimed it at ExpiresAt) is listed
//     as Stopped until it is released.
//   - Release is idempotent (an unknown or released lease ID is not an
//     error) and terminates the VM, also one whose lease expired. A VM
//     never serves a second lease.
//   - A request the pool will not serve as asked answers ErrRefused,
//     final like ErrUnknownClass, with a message fit for the task (e.g.
//     Docker layer caching asked of a preallocated pool: the seed's VM
//     service caches layers on on-demand instances only).
//   - Docker layer caching (Request.DockerLayerCaching): the lease's VM
//     gets a cache volume of the request's project (Lease.Cache). A volume
//     serves one lease at a time and only leases of its project; a
//     released lease's volume is reused by the project's next lease once
//     it is detached, and a new volume is made when none is free.
//   - Remote Docker TLS (Request.DockerTLS): the lease's Env holds the
//     engine's material, a server certificate of the request's authority
//     for the host of Lease.Address; a lease found again by TaskID keeps
//     the material it was made with (the caller compares the authority
//     and releases a lease whose authority it no longer holds).
//   - Every method is safe for concurrent use.
package vmpool

import (
	"context"
	"errors"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
)

// Errors of Lease.
var (
	// ErrUnavailable: no VM can be provided now; try again later.
	ErrUnavailable = errors.New("vmpool: no VM available")
	// ErrUnknownClass: the pool has no such image or resource class.
	ErrUnknownClass = errors.New("vmpool: unknown image or resource class")
	// ErrRefused: the pool will not serve the request as asked (its
	// message says why); final.
	ErrRefused = errors.New("vmpool: request refused")
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

// SSHPort is where the build agent of a machine VM listens for a rerun
// with SSH (CircleCI's VM SSH port); a pool that makes VMs public opens it.
const SSHPort = 54782

// Request asks for a VM.
type Request struct {
	// TaskID makes Lease idempotent.
	TaskID      string
	ProjectSlug string
	Purpose     Purpose
	// Image is the machine image ("" for the default) or the Docker
	// version of setup_remote_docker.
	Image string
	// ResourceClass is the VM's size ("" for the default, medium).
	ResourceClass string
	// DockerLayerCaching attaches the project's DLC volume.
	DockerLayerCaching bool
	// Env is given to the build agent on the VM (runner URL, task token,
	// proxies, CA directory). Secret: never logged.
	Env map[string]string
	// Meta labels the VM with the task's ids (the bridge's log attributes;
	// EC2 tags). Not secret.
	Meta map[string]string
	// DockerTLS is a RemoteDocker request's certificate authority: the
	// pool issues the engine's server certificate with it for the VM's
	// address (known only once the pool places the VM) and gives the VM
	// that certificate, its key and the authority's certificate in Env
	// (dockertls.EnvServerCA, …), never the authority's key. Not kept:
	// Leases returns it nil, the VM's material in Env.
	DockerTLS *dockertls.CA
}

// State is what a leased VM is doing.
type State string

// States of a lease's VM.
const (
	// Running: the VM is booting or runs what it was leased for.
	Running State = "running"
	// Stopped: the VM no longer runs: its agent exited and it shut down,
	// it failed or was lost, or the pool reclaimed it when the lease
	// expired. The lease stays until it is released.
	Stopped State = "stopped"
)

// Lease is a VM held for one task.
type Lease struct {
	ID string
	// Address reaches the VM (the Docker engine's for RemoteDocker).
	Address string
	// Cache names the Docker layer caching volume attached to the VM ("" for
	// none), for logs and tests. Not secret.
	Cache string
	// ExpiresAt is when the pool reclaims the VM if it is not released.
	ExpiresAt time.Time
	// State is the VM's state when the pool answered.
	State State
	// Reason says why a Stopped VM stopped, in words fit for the task's
	// infrastructure_fail message (never a secret).
	Reason string
	// Request is the request the lease was made for. Its Env is secret.
	Request Request
}

// Pool leases VMs.
type Pool interface {
	// Lease leases a VM for r.TaskID, or returns the lease it already has.
	Lease(ctx context.Context, r Request) (Lease, error)
	// Leases lists the leases not yet released.
	Leases(ctx context.Context) ([]Lease, error)
	// Release ends a lease and terminates its VM.
	Release(ctx context.Context, leaseID string) error
}
