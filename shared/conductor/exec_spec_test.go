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
