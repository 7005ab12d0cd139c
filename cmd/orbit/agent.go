package main

import (
	"context"
	"os"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
)

// cmdAgent runs the build agent; nomadbridge starts it inside each
// allocation with the task's runner URL and token in the environment.
func cmdAgent(ctx context.Context, _ []string) error {
	if code := agent.Main(ctx, os.Getenv, os.Stderr); code != 0 {
		return exitError{code: code}
	}
	return nil
}
