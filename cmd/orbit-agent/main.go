// Command orbit-agent is the build agent alone: what Nomad starts in every
// task's allocation (and a warm agent waits in). It is `orbit agent` without
// the server, the AWS SDK and the UI linked in, so it starts in a few
// milliseconds rather than tens (docs/PERFORMANCE.md, the cold path).
//
//	orbit-agent [agent] [--warm]
//
// The optional `agent` word lets one command line (`<path> agent`) start
// either binary. Called as `circleci` (the link the agent puts on a job's
// PATH) it is the shim.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/orbit-ci/orbit/nomadbridge/agent/agentcmd"
)

func main() {
	if agentcmd.IsShim(os.Args[0]) {
		os.Exit(agentcmd.Shim(os.Args[1:]))
	}
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "agent" {
		args = args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := agentcmd.Run(ctx, args, os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}
