package nomadbridge_test

import (
	"testing"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

// TestSSHPort: a rerun with SSH gets one dynamic port labelled ssh, on the
// group's only network (Nomad takes one per group), whatever the executor;
// other jobs get none.
func TestSSHPort(t *testing.T) {
	host := nomadbridge.JobSpec{Agent: nomadbridge.AgentCommand{Path: "/bin/orbit"}, RunnerURL: "http://r"}
	docker := host
	docker.Docker = &nomadbridge.DockerSpec{}
	msg := message("t", func(m *runqueue.Message) { m.Executor, m.Image = "docker", "cimg/base:stable" })
	for _, tt := range []struct {
		name string
		spec nomadbridge.JobSpec
		mode string
	}{{"host executor", host, ""}, {"docker executor", docker, "bridge"}} {
		t.Run(tt.name, func(t *testing.T) {
			job, err := nomadbridge.BuildJob(tt.spec, msg, runner.TaskPlacement{SSH: true})
			require.NoError(t, err)
			nets := job.TaskGroups[0].Networks
			require.Len(t, nets, 1)
			assert.Equal(t, tt.mode, nets[0].Mode)
			assert.Equal(t, []api.Port{{Label: nomadbridge.SSHPortLabel}}, nets[0].DynamicPorts)
			assert.Empty(t, nets[0].ReservedPorts, "Nomad, not the bridge, picks the port")

			job, err = nomadbridge.BuildJob(tt.spec, msg, runner.TaskPlacement{})
			require.NoError(t, err)
			for _, n := range job.TaskGroups[0].Networks {
				assert.Empty(t, n.DynamicPorts)
			}
		})
	}
}
