package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	nomad "github.com/hashicorp/nomad/api"

	"github.com/orbit-ci/orbit/nomadbridge"
)

const adminUsage = `usage: orbit admin nodes [flags] [list]
       orbit admin nodes [flags] drain <node> [--deadline 5h | --force] [--wait] [--disable]
       orbit admin nodes [flags] eligibility <node> on|off

  list          Nomad clients with their drain state, running allocations (the Orbit task
                of each, and the warm agents: idle, or the task each took) and what each can
                run: healthy drivers, resources for builds, the resource classes that fit
                (sized by $ORBIT_RESOURCE_SCALE, default 1)
  drain         stop placing builds on the node; running ones finish (within --deadline,
                default 5h, the job timeout; --force stops them now and Orbit retries them
                elsewhere); --wait returns once no allocation runs there; --disable ends a drain
  eligibility   allow (on) or refuse (off) new builds on the node; running ones go on

<node> is a node ID, a unique ID prefix or a name.
Flags: --nomad-addr (default $NOMAD_ADDR, else the Nomad that ` + "`orbit up`" + ` on --data uses, else
       http://127.0.0.1:4646); --data (default $ORBIT_DATA, else .orbit)
`

// cmdAdmin runs `orbit admin …`.
func cmdAdmin(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "nodes" {
		return exitError{code: 2, msg: adminUsage + "\n" + adminOpsUsage + "\n" + adminUsersUsage}
	}
	fs := flag.NewFlagSet("admin nodes", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("nomad-addr", "", "")
	dataDir := fs.String("data", envOr("ORBIT_DATA", ".orbit"), "")
	deadline := fs.Duration("deadline", nomadbridge.DefaultDrainDeadline, "")
	force := fs.Bool("force", false, "")
	wait := fs.Bool("wait", false, "")
	disable := fs.Bool("disable", false, "")
	if err := fs.Parse(flagsFirst(fs, args[1:])); err != nil {
		return exitError{code: 2, msg: err.Error() + "\n" + adminUsage}
	}
	client, err := nomad.NewClient(&nomad.Config{Address: nomadAddrFor(*addr, *dataDir)})
	if err != nil {
		return fmt.Errorf("nomad client: %w", err)
	}
	// The classes each node fits are sized as the bridge sizes them.
	scale, _ := strconv.ParseFloat(os.Getenv("ORBIT_RESOURCE_SCALE"), 64)
	nodes := nomadbridge.Nodes{API: client.Nodes(), Variables: client.Variables(), ResourceScale: scale}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "list" {
		list, err := nodes.List(ctx)
		if err != nil {
			return err
		}
		return nomadbridge.WriteNodes(os.Stdout, list)
	}
	if len(rest) < 2 {
		return exitError{code: 2, msg: adminUsage}
	}
	node, err := nodes.Find(ctx, rest[1])
	if err != nil {
		return err
	}
	switch {
	case rest[0] == "drain" && *disable:
		if err := nodes.Undrain(ctx, node.ID); err != nil {
			return err
		}
		fmt.Printf("Node %s (%s) is no longer draining and takes builds again.\n", node.Name, short(node.ID))
		return nil
	case rest[0] == "drain":
		d := *deadline
		if *force {
			d = -1
		}
		if err := nodes.Drain(ctx, node.ID, d); err != nil {
			return err
		}
		fmt.Printf("Node %s (%s) is draining: no new builds; running ones have %s to finish.\n", node.Name, short(node.ID), drainWindow(d))
		if *wait {
			return waitDrained(ctx, nodes, node.ID)
		}
		return nil
	case rest[0] == "eligibility" && len(rest) == 3 && (rest[2] == "on" || rest[2] == "off"):
		if err := nodes.SetEligibility(ctx, node.ID, rest[2] == "on"); err != nil {
			return err
		}
		fmt.Printf("Node %s (%s) is now %s for new builds.\n", node.Name, short(node.ID),
			map[bool]string{true: "eligible", false: "ineligible"}[rest[2] == "on"])
		return nil
	}
	return exitError{code: 2, msg: adminUsage}
}

func drainWindow(d time.Duration) string {
	if d < 0 {
		return "no time (forced)"
	}
	return d.String()
}

func short(id string) string { return id[:min(8, len(id))] }

// waitDrained polls until no build runs on the node (Nodes.Busy): then it
// is safe to terminate the machine.
func waitDrained(ctx context.Context, nodes nomadbridge.Nodes, id string) error {
	for {
		busy, err := nodes.Busy(ctx, id)
		if err != nil {
			return err
		}
		if len(busy) == 0 {
			fmt.Println("No allocation runs on the node: it is safe to terminate.")
			return nil
		}
		fmt.Printf("%d allocation(s) still running…\n", len(busy))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// nomadAddrFile is where `orbit up` records the Nomad address it uses (its
// own dev agent's or --nomad-addr), in its data directory, while it runs.
const nomadAddrFile = "nomad_addr"

// nomadAddrFor picks the Nomad address: the flag, $NOMAD_ADDR, the one
// `orbit up` on dataDir recorded, the dev agent it left there, or Nomad's
// default.
func nomadAddrFor(flagAddr, dataDir string) string {
	if flagAddr != "" {
		return flagAddr
	}
	if a := os.Getenv("NOMAD_ADDR"); a != "" {
		return a
	}
	for _, f := range []string{filepath.Join(dataDir, nomadAddrFile), filepath.Join(dataDir, "nomad", "addr")} {
		if b, err := os.ReadFile(f); err == nil {
			if a := strings.TrimSpace(string(b)); a != "" {
				return a
			}
		}
	}
	return "http://127.0.0.1:4646"
}
