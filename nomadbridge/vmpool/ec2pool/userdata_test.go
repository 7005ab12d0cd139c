package ec2pool

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
)

func TestUserDataCarriesTheEnvironmentBack(t *testing.T) {
	env := map[string]string{
		"ORBIT_TASK_TOKEN": "tok'en\"$(rm -rf /)`x`",
		"ORBIT_RUNNER_URL": "https://ci.example.com/runner/v1",
		"MULTI":            "line one\nline two\n",
		"EMPTY":            "",
	}
	for _, purpose := range []string{string(vmpool.Machine), string(vmpool.RemoteDocker)} {
		ud, err := userData("/usr/local/bin/orbit", purpose, env)
		require.NoError(t, err)
		got, err := ParseEnv(ud)
		require.NoError(t, err)
		assert.Equal(t, env, got, purpose)
		assert.Contains(t, ud, "cloud_final_modules:\n- [scripts-user, always]", "the script runs on every boot (a warm VM boots twice)")
		assert.Contains(t, ud, "export ORBIT_TASK_TOKEN='tok'\\''en\"$(rm -rf /)`x`'", "single-quoted: nothing expands")
	}
	machine, _ := userData("/opt/orbit", string(vmpool.Machine), env)
	assert.Contains(t, machine, "'/opt/orbit' agent")
	assert.Contains(t, machine, "shutdown -h now", "the VM powers off when the agent exits")
	docker, _ := userData("/opt/orbit", string(vmpool.RemoteDocker), env)
	assert.Contains(t, docker, "tcp://0.0.0.0:2376 --tlsverify")
	assert.NotContains(t, docker, " agent ")
}

func TestUserDataOfAWarmVMHasNoEnvironment(t *testing.T) {
	ud, err := userData("/usr/local/bin/orbit", "warm", nil)
	require.NoError(t, err)
	env, err := ParseEnv(ud)
	require.NoError(t, err)
	assert.Nil(t, env)
	assert.True(t, strings.HasSuffix(strings.TrimSpace(strings.Split(ud, "shutdown -h now")[0]), "claims this VM."))
}

func TestUserDataRefusesWhatItCannotCarry(t *testing.T) {
	_, err := userData("x", "machine", map[string]string{"BAD NAME": "v"})
	assert.ErrorContains(t, err, `environment variable name "BAD NAME"`)
	_, err = userData("x", "machine", map[string]string{"V": "a\nORBIT_ENV_END\nb"})
	assert.ErrorContains(t, err, "environment variable V: its value holds the block's end marker")
	_, err = ParseEnv(envBegin + "export A='x")
	assert.Error(t, err)
}
