package conductor

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/runner"
)

func TestExecutorSpec(t *testing.T) {
	var spec runner.TaskSpec
	executorSpec(&spec, config.Executor{Type: config.ExecutorDocker, ResourceClass: "large", Images: []config.Image{
		{Image: "cimg/go:1.22", User: "circleci", Environment: []config.EnvVar{{Name: "GOFLAGS", Value: "-mod=mod"}}},
		{Image: "postgres:16", Name: "db", Entrypoint: []string{"docker-entrypoint.sh"}, Command: []string{"postgres", "-F"}},
	}})
	assert.Equal(t, runner.TaskSpec{Executor: "docker", ResourceClass: "large", Image: "cimg/go:1.22", Images: []runner.Image{
		{Image: "cimg/go:1.22", User: "circleci", Environment: []runner.EnvVar{{Name: "GOFLAGS", Value: "-mod=mod"}}},
		{Image: "postgres:16", Name: "db", Entrypoint: []string{"docker-entrypoint.sh"}, Command: []string{"postgres", "-F"}},
	}}, spec)

	spec = runner.TaskSpec{}
	executorSpec(&spec, config.Executor{Type: config.ExecutorMachine, MachineImage: "ubuntu-2204:current"})
	assert.Equal(t, runner.TaskSpec{Executor: "machine", Image: "ubuntu-2204:current"}, spec)
}

func TestResolveAuth(t *testing.T) {
	spec := runner.TaskSpec{
		Environment: []runner.EnvVar{{Name: "USER_A", Value: "ci"}, {Name: "P0", Value: "pass"}, {Name: "P1", Value: "word-42"}},
		Images: []runner.Image{
			{Image: "registry.example.com/app", Auth: &runner.RegistryAuth{Username: "$USER_A", Password: "${P0}${P1}"}},
			{Image: "redis"},
			{Image: "other", Auth: &runner.RegistryAuth{Username: "plain", Password: "$UNSET"}},
		},
	}
	plan := spec.Images[0].Auth
	resolveAuth(&spec)
	assert.Equal(t, &runner.RegistryAuth{Username: "ci", Password: "password-42"}, spec.Images[0].Auth)
	assert.Nil(t, spec.Images[1].Auth)
	assert.Equal(t, &runner.RegistryAuth{Username: "plain"}, spec.Images[2].Auth, "an unset variable is empty")
	assert.Equal(t, []string{"password-42"}, spec.Secrets, "the password is masked")
	assert.Equal(t, "${P0}${P1}", plan.Password, "the plan's auth is not changed")
}
