package main

import (
	"context"
	"os"

	"github.com/orbit-ci/orbit/nomadbridge/agent/agentcmd"
)

// cmdAgent runs the build agent (package agentcmd); nomadbridge starts it,
// or the smaller orbit-agent binary beside this one, inside each allocation.
func cmdAgent(ctx context.Context, args []string) error {
	if code := agentcmd.Run(ctx, args, os.Getenv, os.Stderr); code != 0 {
		return exitError{code: code}
	}
	return nil
}
