package compose

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAgentPath: Nomad starts orbit-agent from beside orbit when make build
// put it there (it starts in milliseconds), ORBIT_AGENT_PATH wins, and
// without either the agent is `orbit agent` of the running binary.
func TestAgentPath(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "orbit")
	require.NoError(t, os.WriteFile(self, []byte("#!/bin/sh\n"), 0o755))

	p, small := agentPathFor("", self)
	assert.Equal(t, self, p, "no orbit-agent beside orbit")
	assert.False(t, small)

	notExec := filepath.Join(dir, agentBinary)
	require.NoError(t, os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644))
	p, _ = agentPathFor("", self)
	assert.Equal(t, self, p, "an orbit-agent that cannot run is not used")

	require.NoError(t, os.Chmod(notExec, 0o755))
	p, small = agentPathFor("", self)
	assert.Equal(t, filepath.Join(dir, "orbit-agent"), p)
	assert.True(t, small)

	p, small = agentPathFor("/usr/local/bin/orbit-agent", self)
	assert.Equal(t, "/usr/local/bin/orbit-agent", p, "ORBIT_AGENT_PATH wins")
	assert.True(t, small)
}
