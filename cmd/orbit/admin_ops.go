package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

const adminOpsUsage = `usage: orbit admin audit [--from RFC3339] [--to RFC3339] [-o FILE]
       orbit admin queue [--limit N]
       orbit admin cancel-queued [--count N]
       orbit admin delete-build <build URL>
       orbit admin usage

  audit          download the audit log as CSV (nested fields as JSON) to FILE or stdout
  queue          queued, blocked and running job counts and the N (default 3) oldest queued jobs
  cancel-queued  cancel the N oldest queued jobs (default and at most 100, the seed's batch)
  delete-build   delete a job record left inconsistent by a restore, by its URL
                 (https://host/<vcs>/<org>/<repo>/<number>), the seed's admin/delete-build
  usage          the seed's weekly account usage and weekly job activity tables (its extract);
                 nothing is sent anywhere

They call the running Orbit at $ORBIT_URL (default ` + defaultURL + `); each is in the audit log.
`

// adminOps are the `orbit admin` commands served by the API's admin routes.
var adminOps = map[string]func(ctx context.Context, c *apiClient, args []string) error{
	"audit":         adminAudit,
	"queue":         adminQueue,
	"cancel-queued": adminCancelQueued,
	"delete-build":  adminDeleteBuild,
	"usage":         adminUsageCmd,
}

func cmdAdminOp(ctx context.Context, op string, args []string) error {
	if err := adminOps[op](ctx, newAPIClient(), args); err != nil {
		if e, ok := err.(exitError); ok {
			return e
		}
		return err
	}
	return nil
}

func adminFlags(name string, args []string, define func(fs *flag.FlagSet)) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet("admin "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	define(fs)
	if err := fs.Parse(args); err != nil {
		return nil, exitError{code: 2, msg: err.Error() + "\n" + adminOpsUsage}
	}
	return fs, nil
}

func adminAudit(ctx context.Context, c *apiClient, args []string) error {
	var from, to, out string
	if _, err := adminFlags("audit", args, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "")
		fs.StringVar(&to, "to", "", "")
		fs.StringVar(&out, "o", "", "")
	}); err != nil {
		return err
	}
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	path := "/api/v2/admin/audit-log"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	body, err := c.text(ctx, path)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = io.WriteString(os.Stdout, body)
		return err
	}
	return os.WriteFile(out, []byte(body), 0o600)
}

func adminQueue(ctx context.Context, c *apiClient, args []string) error {
	var limit int
	if _, err := adminFlags("queue", args, func(fs *flag.FlagSet) { fs.IntVar(&limit, "limit", 3, "") }); err != nil {
		return err
	}
	var ans struct {
		Queued, Blocked, Running int
		Oldest                   []struct {
			URL      string `json:"url"`
			Name     string `json:"name"`
			QueuedAt string `json:"queued_at"`
		}
	}
	if err := c.do(ctx, "GET", fmt.Sprintf("/api/v2/admin/queue?limit=%d", limit), nil, &ans); err != nil {
		return err
	}
	fmt.Printf("queued %d, blocked %d, running %d\n", ans.Queued, ans.Blocked, ans.Running)
	for _, j := range ans.Oldest {
		fmt.Printf("  %s  %s  queued at %s\n", j.URL, j.Name, j.QueuedAt)
	}
	return nil
}

func adminCancelQueued(ctx context.Context, c *apiClient, args []string) error {
	var count int
	if _, err := adminFlags("cancel-queued", args, func(fs *flag.FlagSet) { fs.IntVar(&count, "count", 100, "") }); err != nil {
		return err
	}
	var ans struct {
		Canceled []string `json:"canceled"`
	}
	if err := c.do(ctx, "POST", "/api/v2/admin/queue/cancel", map[string]int{"count": count}, &ans); err != nil {
		return err
	}
	fmt.Printf("canceled %d queued job(s)\n", len(ans.Canceled))
	for _, u := range ans.Canceled {
		fmt.Println("  " + u)
	}
	return nil
}

func adminDeleteBuild(ctx context.Context, c *apiClient, args []string) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return exitError{code: 2, msg: adminOpsUsage}
	}
	var ans json.RawMessage
	if err := c.do(ctx, "POST", "/api/v2/admin/delete-build", map[string]string{"url": args[0]}, &ans); err != nil {
		return err
	}
	fmt.Printf("deleted %s\n", args[0])
	return nil
}

func adminUsageCmd(ctx context.Context, c *apiClient, args []string) error {
	if len(args) != 0 {
		return exitError{code: 2, msg: adminOpsUsage}
	}
	var ans json.RawMessage
	if err := c.do(ctx, "GET", "/api/v2/admin/usage", nil, &ans); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	var v any
	_ = json.Unmarshal(ans, &v)
	return enc.Encode(v)
}
