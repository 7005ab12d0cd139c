// Command orbit is Orbit's command line: `orbit up` runs the embedded
// all-in-one shape (API and UI, conductor, state machines, nomadbridge and a
// Nomad dev agent); the other commands talk to a running Orbit over its API,
// run the build agent inside a Nomad allocation, or work offline on configs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/orbit-ci/orbit/nomadbridge/agent/agentcmd"
)

const usage = `usage: orbit <command> [flags]

Commands:
  up                      run Orbit (embedded shape): API and UI, state machines, bridge, Nomad
  bridge                  run nomadbridge alone (aws shape): SQS run queue → Nomad, CloudWatch metrics
  sample                  create the bundled sample repository, follow it and trigger a pipeline
  project add <path>      follow a local git repository (--hook installs a post-commit trigger)
  project env|checkout-key|ssh-key ...
                          a project's secret variables and SSH keys (values read from stdin)
  context create|list|rm|env ...
                          an organization's contexts and their variables
  trigger <slug>          trigger a pipeline (--branch, --tag, --wait)
  status <id|slug/number> show a pipeline: workflows, jobs and their statuses
  config validate [file]  check a config file offline
  config process [file]   print the compiled plan of a config file
  agent                   run the build agent (inside a Nomad allocation)
  docker-metrics          send this host's Docker metrics to CloudWatch or StatsD (Nomad clients, VMs)
  admin nodes ...         Nomad clients: list with running allocations, drain, eligibility
  admin secrets rotate    add a new master key for project and context secrets (embedded shape)
  admin audit|queue|cancel-queued|delete-build|usage   the audit log CSV and the seed's REPL tasks

Commands that talk to Orbit use $ORBIT_URL (default http://127.0.0.1:8080).
`

func main() {
	// Inside a job the agent links this binary into PATH as `circleci`.
	if agentcmd.IsShim(os.Args[0]) {
		os.Exit(agentcmd.Shim(os.Args[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	var exit exitError
	switch {
	case errors.As(err, &exit):
		if exit.msg != "" {
			fmt.Fprintln(os.Stderr, exit.msg)
		}
		os.Exit(exit.code)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "orbit:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a specific code.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitError{code: 2}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "bridge":
		return cmdBridge(ctx, rest)
	case "up":
		return cmdUp(ctx, rest)
	case "sample":
		return cmdSample(ctx, rest)
	case "project":
		switch {
		case len(rest) > 0 && rest[0] == "add":
			return cmdProjectAdd(ctx, rest[1:])
		case len(rest) > 0 && rest[0] == "env":
			return cmdProjectEnv(ctx, rest[1:])
		case len(rest) > 0 && (rest[0] == "checkout-key" || rest[0] == "ssh-key"):
			return cmdProjectKeys(ctx, rest[0], rest[1:])
		}
		return exitError{code: 2, msg: "usage: orbit project add <path> [--hook]\n" + secretsUsage}
	case "context":
		return cmdContext(ctx, rest)
	case "trigger":
		return cmdTrigger(ctx, rest)
	case "status":
		return cmdStatus(ctx, rest)
	case "config":
		return cmdConfig(ctx, rest)
	case "orb":
		return cmdOrb(ctx, rest)
	case "agent":
		return cmdAgent(ctx, rest)
	case "docker-metrics":
		return cmdDockerMetrics(ctx, rest)
	case "admin":
		if len(rest) > 0 && adminOps[rest[0]] != nil {
			return cmdAdminOp(ctx, rest[0], rest[1:])
		}
		if len(rest) > 0 && rest[0] == "secrets" {
			return cmdAdminSecrets(rest[1:])
		}
		if len(rest) > 0 && rest[0] == "bootstrap" {
			return cmdAdminBootstrap(ctx, rest[1:])
		}
		return cmdAdmin(ctx, rest)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return exitError{code: 2, msg: fmt.Sprintf("unknown command %q", cmd)}
}

// envOr returns the environment variable or a default.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
