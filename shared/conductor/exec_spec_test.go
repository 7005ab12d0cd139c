package conductor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/runner"
)

func TestRunnerStep(t *testing.T) {
	tests := []struct {
		name string
		in   config.Step
		want runner.Step
	}{
		{
			name: "run",
			in: config.Step{Type: config.StepRun, Name: "test", Command: "make", Shell: "/bin/sh", Background: true,
				WorkingDirectory: "sub", NoOutputTimeout: time.Minute, When: config.WhenAlways,
				Environment: []config.EnvVar{{Name: "A", Value: "1"}}, MaxAutoReruns: 2, AutoRerunDelay: time.Second},
			want: runner.Step{Type: runner.StepRun, Name: "test", Command: "make", Shell: "/bin/sh", Background: true,
				WorkingDirectory: "sub", NoOutputTimeout: runner.Duration(time.Minute), When: "always",
				Environment: []runner.EnvVar{{Name: "A", Value: "1"}}, MaxAutoReruns: 2, AutoRerunDelay: runner.Duration(time.Second)},
		},
		{
			name: "save_cache",
			in:   config.Step{Type: config.StepSaveCache, Name: "Saving cache", Key: "v1-{{ .Branch }}", Paths: []string{"~/go"}},
			want: runner.Step{Type: runner.StepSaveCache, Name: "Saving cache", Key: "v1-{{ .Branch }}", Paths: []string{"~/go"}},
		},
		{
			name: "restore_cache",
			in:   config.Step{Type: config.StepRestoreCache, Keys: []string{"a", "b"}},
			want: runner.Step{Type: runner.StepRestoreCache, Keys: []string{"a", "b"}},
		},
		{
			name: "workspace",
			in:   config.Step{Type: config.StepPersistToWorkspace, Root: "out", Paths: []string{"bin/*"}},
			want: runner.Step{Type: runner.StepPersistToWorkspace, Root: "out", Paths: []string{"bin/*"}},
		},
		{
			name: "attach",
			in:   config.Step{Type: config.StepAttachWorkspace, At: "/tmp/ws"},
			want: runner.Step{Type: runner.StepAttachWorkspace, At: "/tmp/ws"},
		},
		{
			name: "artifacts",
			in:   config.Step{Type: config.StepStoreArtifacts, Path: "out", Destination: "build"},
			want: runner.Step{Type: runner.StepStoreArtifacts, Path: "out", Destination: "build"},
		},
		{
			name: "ssh keys",
			in:   config.Step{Type: config.StepAddSSHKeys, Fingerprints: []string{"SHA256:x"}},
			want: runner.Step{Type: runner.StepAddSSHKeys, Fingerprints: []string{"SHA256:x"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, runnerStep(tt.in))
		})
	}
}

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
