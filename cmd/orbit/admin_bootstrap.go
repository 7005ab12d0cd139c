package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/orbit-ci/orbit/internal/compose"
)

const adminBootstrapUsage = `usage: orbit admin bootstrap [--label TEXT]

Prints a new API token of the local admin ("admin", an instance admin), creating the admin if
needed, straight from the store of the configured shape: the AWS shape's DynamoDB table (with the
same ORBIT_* settings as the functions), or the embedded shape's data directory while orbit up is
stopped. It is how an installation without GitHub sign-in gets its first administrator, and how
automation gets a token without a browser.
`

func cmdAdminBootstrap(ctx context.Context, args []string) error {
	var label string
	if _, err := adminFlags("bootstrap", args, func(fs *flag.FlagSet) {
		fs.StringVar(&label, "label", "orbit admin bootstrap", "")
	}); err != nil {
		return exitError{code: 2, msg: adminBootstrapUsage}
	}
	cfg, err := compose.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	a, err := compose.New(ctx, cfg, version, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	acc, err := a.Accounts()
	if err != nil {
		return err
	}
	rec, err := a.Audit()
	if err != nil {
		return err
	}
	u, err := localAdmin(ctx, acc, rec)
	if err != nil {
		return err
	}
	tok, _, err := acc.CreateToken(ctx, u.ID, label)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
