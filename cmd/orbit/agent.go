package main

import (
	"context"
	"os"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/cishim"
)

// cmdAgent runs the build agent; nomadbridge starts it inside each
// allocation with the task's runner URL and token in the environment.
func cmdAgent(ctx context.Context, _ []string) error {
	if code := agent.Main(ctx, os.Getenv, os.Stderr); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// runShim is the `circleci` command inside a job (see package cishim).
func runShim(args []string) int {
	wd, _ := os.Getwd()
	return cishim.Main(args, cishim.IO{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Dir: wd})
}
