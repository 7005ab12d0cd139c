package agent_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/cishim"
)

// TestMain makes the test binary the circleci shim when the agent runs it
// under that name (Config.Shim defaults to the agent's own executable, as
// the orbit binary does).
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == agent.ShimName {
		wd, _ := os.Getwd()
		os.Exit(cishim.Main(os.Args[1:], cishim.IO{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout,
			Stderr: os.Stderr, Dir: wd}))
	}
	os.Exit(m.Run())
}
