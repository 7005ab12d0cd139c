package nomadbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// Remote Docker engines of docker jobs (setup_remote_docker), with a pool:
//
//	dispatch: placement.RemoteDocker ─▶ the task's authority (dockertls,
//	   kept in memory until the job is registered)
//	─▶ Pool.Lease(RemoteDocker, version, DLC, DockerTLS, agent env) ── errors
//	   as a machine task's (leaseFor), but a version the pool has no image
//	   for is served by the default image, and the step says so
//	─▶ a lease found again whose engine another authority signed (a bridge
//	   restarted between the lease and the registration): Release, lease anew
//	─▶ client certificate ─▶ the Nomad job's agent env (EnvRemoteDocker*)
//	─▶ register the job as usual; the agent's setup_remote_docker step
//	   writes DOCKER_CERT_PATH, sets DOCKER_HOST and DOCKER_TLS_VERIFY for
//	   the later steps and waits for the engine (agent/remotedocker.go)
//	the lease is tracked as a machine task's: heartbeats, infrastructure_fail
//	if the engine's VM dies first, Release once the task is over (410)
//
// The lease is made when the job is dispatched, not at the step: the VM
// boots while the job's first steps run. The client's key is in the Nomad
// job's environment, as the task token is: readable only with Nomad's
// job read permission, never logged by the bridge.

// remoteDockerTTL is how long a task's certificates are valid: the pool's
// longest lease and then some.
const remoteDockerTTL = 8 * time.Hour

// remoteDockerVersion is the pool image that serves a step's version.
func remoteDockerVersion(v string) string {
	if v == "default" {
		return ""
	}
	return v
}

// remoteDocker leases msg's task a remote Docker engine. ok is false when
// the message was dealt with or err must be retried, as leaseFor's; env is
// what the job's agent gets.
func (b *Bridge) remoteDocker(ctx context.Context, log *slog.Logger, m queue.Message, msg runqueue.Message, rep TaskReporter,
	rd *runner.RemoteDocker) (env map[string]string, ok bool, err error) {
	ca, err := b.taskCA(msg.TaskID)
	if err != nil {
		return nil, false, err
	}
	req := vmpool.Request{
		TaskID: msg.TaskID, ProjectSlug: msg.ProjectSlug, Purpose: vmpool.RemoteDocker,
		Image: remoteDockerVersion(rd.Version), DockerLayerCaching: rd.DockerLayerCaching,
		// The runner URL and token let a restarted bridge adopt the lease
		// and release it when the task is over.
		Env: b.jobSpec.agentEnv(msg), Meta: taskMeta(msg), DockerTLS: ca,
	}
	lease, ok, err := b.leaseFor(ctx, log, m, msg, rep, req, true)
	if !ok {
		return nil, false, err
	}
	if got, _ := dockertls.ServerFromEnv(lease.Request.Env); got.CA != ca.CertPEM() {
		log.Info("the task's remote Docker engine was made with another authority: replacing it", "lease_id", lease.ID)
		pctx, cancel := context.WithTimeout(ctx, poolCallTimeout)
		err := b.cfg.Pool.Release(pctx, lease.ID)
		cancel()
		if err != nil {
			b.stats.poolErrors.Add(1)
			return nil, false, fmt.Errorf("release a remote Docker engine of another authority: %w", err)
		}
		if lease, ok, err = b.leaseFor(ctx, log, m, msg, rep, req, true); !ok {
			return nil, false, err
		}
		if got, _ := dockertls.ServerFromEnv(lease.Request.Env); got.CA != ca.CertPEM() {
			return nil, false, errors.New("the VM pool gave the remote Docker engine no certificate of the task's authority")
		}
	}
	if lease.Address == "" {
		return nil, false, fmt.Errorf("remote Docker lease %s has no address", lease.ID)
	}
	client, err := ca.Client()
	if err != nil {
		return nil, false, err
	}
	b.track(lease, log.With("lease_id", lease.ID), rep, msg, m)
	env = map[string]string{
		agent.EnvRemoteDockerHost: "tcp://" + lease.Address,
		agent.EnvRemoteDockerCA:   client.CA,
		agent.EnvRemoteDockerCert: client.Cert,
		agent.EnvRemoteDockerKey:  client.Key,
	}
	if want := remoteDockerVersion(rd.Version); want != "" && lease.Request.Image != want {
		env[agent.EnvRemoteDockerNotice] = fmt.Sprintf("Docker version %s was asked for; this Orbit's VM pool has no remote Docker image "+
			"for it, so its default image runs the engine.", want)
	}
	return env, true, nil
}

// taskCA is the task's authority: the same one while its message is
// retried, so a lease made by an earlier attempt stays usable.
func (b *Bridge) taskCA(taskID string) (*dockertls.CA, error) {
	if v, ok := b.dockerCAs.Load(taskID); ok {
		return v.(*dockertls.CA), nil
	}
	ca, err := dockertls.NewCA(taskID, b.cfg.Clock.Now(), remoteDockerTTL)
	if err != nil {
		return nil, err
	}
	v, _ := b.dockerCAs.LoadOrStore(taskID, ca)
	return v.(*dockertls.CA), nil
}
