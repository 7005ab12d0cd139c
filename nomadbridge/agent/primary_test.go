package agent_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/runner"
)

// TestPrimaryCommandRunsBesideTheSteps: in the primary container (no host
// driver) a configured command runs in the background with the job's
// environment while the steps run, and is killed with the task.
func TestPrimaryCommandRunsBesideTheSteps(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{
		Executor:    "docker",
		Images:      []runner.Image{{Image: "example/db:1", Entrypoint: []string{"/bin/sh", "-c"}, Command: []string{`echo "$$ $GREETING" > "$HOME/primary"; exec sleep 60`}}},
		Environment: []runner.EnvVar{{Name: "GREETING", Value: "hello"}},
		Steps: []runner.Step{run("wait for the primary command",
			`for i in $(seq 100); do [ -s ~/primary ] && break; sleep 0.1; done; cut -d" " -f2 ~/primary`)},
	})
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(0))
	assert.Equal(t, "hello\n", task.Output(0))
	b, err := os.ReadFile(filepath.Join(h.cfg.BaseDir, "home", "primary"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	require.NoError(t, err)
	assert.Eventually(t, func() bool { return !alive(pid) }, 5*time.Second, 20*time.Millisecond,
		"the primary command ends with the task")
}
