package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/cishim"
)

// cmdAgent runs the build agent; nomadbridge starts it inside each
// allocation with the task's runner URL and token in the environment, or
// with --warm as a warm agent that first claims its task from the bridge.
func cmdAgent(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	warm := fs.Bool("warm", false, "wait for a task from the bridge (a warm agent; needs $"+agent.EnvWarmClaimURL+")")
	if err := fs.Parse(args); err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	getenv := os.Getenv
	switch {
	case *warm && os.Getenv(agent.EnvWarmClaimURL) == "":
		return exitError{code: agent.ExitInfrastructureFail, msg: fmt.Sprintf("orbit agent --warm: $%s is not set", agent.EnvWarmClaimURL)}
	case !*warm:
		// A cold agent runs the task of its token, never one it claims.
		getenv = func(k string) string {
			if k == agent.EnvWarmClaimURL {
				return ""
			}
			return os.Getenv(k)
		}
	}
	if code := agent.Main(ctx, getenv, os.Stderr); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// runShim is the `circleci` command inside a job (see package cishim).
func runShim(args []string) int {
	wd, _ := os.Getwd()
	return cishim.Main(args, cishim.IO{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Dir: wd})
}
