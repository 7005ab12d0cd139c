package agent

import (
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
)

// Environment variables of a docker job with a remote Docker engine
// (nomadbridge/remotedocker.go): its address and the job's TLS client
// material, PEM. The key is secret; none of them reaches a step, which
// gets DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH instead.
const (
	EnvRemoteDockerHost = "ORBIT_REMOTE_DOCKER_HOST"
	EnvRemoteDockerCA   = "ORBIT_REMOTE_DOCKER_CA"
	EnvRemoteDockerCert = "ORBIT_REMOTE_DOCKER_CERT"
	EnvRemoteDockerKey  = "ORBIT_REMOTE_DOCKER_KEY"
	// EnvRemoteDockerNotice is a line setup_remote_docker prints (the
	// engine is not the version asked for).
	EnvRemoteDockerNotice = "ORBIT_REMOTE_DOCKER_NOTICE"
)

// RemoteDocker is the job's remote Docker engine (Config.RemoteDocker).
type RemoteDocker struct {
	// Host is DOCKER_HOST: tcp://address:port.
	Host string
	// Client is the job's TLS client material. Its key is secret.
	Client dockertls.Material
	// Notice is printed by the step ("" for none).
	Notice string
	// Wait bounds how long setup_remote_docker waits for the engine to
	// answer (default 5 min: a VM's boot).
	Wait time.Duration
}

// remoteDockerFromEnv reads the engine from the bridge's variables (nil
// when the job has none).
func remoteDockerFromEnv(getenv func(string) string) *RemoteDocker {
	host := getenv(EnvRemoteDockerHost)
	if host == "" {
		return nil
	}
	return &RemoteDocker{Host: host, Notice: getenv(EnvRemoteDockerNotice), Client: dockertls.Material{
		CA: getenv(EnvRemoteDockerCA), Cert: getenv(EnvRemoteDockerCert), Key: getenv(EnvRemoteDockerKey)}}
}
