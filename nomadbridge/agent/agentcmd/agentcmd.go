// Package agentcmd is the build agent's command line, shared by
// `orbit agent` and the small `orbit-agent` binary that Nomad starts for
// every task (cmd/orbit-agent): the same flags, the same environment, the
// same `circleci` shim when the binary is called by that name.
package agentcmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/cishim"
)

// IsShim reports whether the program was called as the `circleci` shim the
// agent links into a job's PATH (argv0 is os.Args[0]).
func IsShim(argv0 string) bool { return filepath.Base(argv0) == agent.ShimName }

// Shim runs the `circleci` command inside a job (see package cishim) and
// returns its exit code.
func Shim(args []string) int {
	wd, _ := os.Getwd()
	return cishim.Main(args, cishim.IO{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Dir: wd})
}

// Run runs the agent with its arguments (after `agent`) and returns the exit
// code: without flags it runs the task of $ORBIT_TASK_TOKEN; with --warm it
// first claims a task from the bridge at $ORBIT_WARM_CLAIM_URL.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	warm := fs.Bool("warm", false, "wait for a task from the bridge (a warm agent; needs $"+agent.EnvWarmClaimURL+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case *warm && getenv(agent.EnvWarmClaimURL) == "":
		fmt.Fprintf(stderr, "orbit agent --warm: $%s is not set\n", agent.EnvWarmClaimURL)
		return agent.ExitInfrastructureFail
	case !*warm:
		// A cold agent runs the task of its token, never one it claims.
		env := getenv
		getenv = func(k string) string {
			if k == agent.EnvWarmClaimURL {
				return ""
			}
			return env(k)
		}
	}
	return agent.Main(ctx, getenv, stderr)
}
