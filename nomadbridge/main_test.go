package nomadbridge_test

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/cishim"
)

// envTestAgent makes the test binary act as the build agent: the
// integration tests register Nomad jobs whose command is this binary.
const envTestAgent = "ORBIT_TEST_AGENT"

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == agent.ShimName {
		wd, _ := os.Getwd()
		os.Exit(cishim.Main(os.Args[1:], cishim.IO{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout,
			Stderr: os.Stderr, Dir: wd}))
	}
	if os.Getenv(envTestAgent) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := agent.Main(ctx, os.Getenv, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
