package ec2pool

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/shared/hostmetrics"
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

// TestUserDataHostMetrics: with a namespace, a task VM starts the
// CloudWatch agent in the background with shared/hostmetrics'
// configuration; a warm VM does not; every script is valid bash.
func TestUserDataHostMetrics(t *testing.T) {
	cfg, err := hostmetrics.AgentConfig(hostmetrics.Options{Namespace: "Orbit/vms"})
	require.NoError(t, err)
	sc := script{agentPath: "/usr/local/bin/orbit", metrics: cfg, metricsNamespace: "Orbit/vms"}
	env := map[string]string{"ORBIT_TASK_TOKEN": "t", "ORBIT_SSH_ADDR": ":54782"}
	for _, purpose := range []string{string(vmpool.Machine), string(vmpool.RemoteDocker), "warm"} {
		ud, err := sc.userData(purpose, env)
		require.NoError(t, err)
		if purpose == "warm" {
			assert.NotContains(t, ud, "amazon-cloudwatch-agent", "a warm VM powers off at once")
			assert.NotContains(t, ud, "docker-metrics")
		} else {
			// The Docker metrics, per VM and over all VMs, from the orbit binary.
			assert.Contains(t, ud, "exec '/usr/local/bin/orbit' docker-metrics --namespace 'Orbit/vms' \\\n", purpose)
			assert.Contains(t, ud, `--dimension InstanceId="$(imds instance-id)" --aggregate all`, purpose)
			assert.Contains(t, ud, ") >/var/log/orbit-docker-metrics.log 2>&1 &", "in the background")
			assert.Contains(t, ud, cfg, purpose)
			assert.Contains(t, ud, "amazon-cloudwatch-agent-ctl\n", purpose)
			assert.Contains(t, ud, ") >/var/log/orbit-host-metrics.log 2>&1 &", "in the background")
		}
		_, sh, ok := strings.Cut(ud, "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n\n")
		require.True(t, ok)
		sh, _, _ = strings.Cut(sh, "--"+boundary+"--")
		out, err := exec.Command("bash", "-n", "-c", sh).CombinedOutput()
		assert.NoError(t, err, "%s script: %s", purpose, out)
	}
	plain, err := userData("/usr/local/bin/orbit", string(vmpool.Machine), env)
	require.NoError(t, err)
	assert.NotContains(t, plain, "amazon-cloudwatch-agent", "no namespace, no agent")
	assert.NotContains(t, plain, "docker-metrics", "no namespace, no Docker metrics")
	_, err = script{metrics: "x\n" + cwEnd + "\n"}.userData(string(vmpool.Machine), env)
	assert.Error(t, err)
}
