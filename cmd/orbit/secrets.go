package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

const secretsUsage = `usage:
  orbit project env set <slug> <NAME>         the value is read from standard input
  orbit project env list <slug>
  orbit project env rm <slug> <NAME>
  orbit project checkout-key <slug>           create a deploy key; prints its public key
  orbit project ssh-key add <slug> <keyfile> [--hostname H]
  orbit context create <owner> <name>         owner is an organization slug, e.g. local/acme
  orbit context list <owner>
  orbit context rm <owner> <name>
  orbit context env set <owner> <name> <NAME> the value is read from standard input`

func usageErr() error { return exitError{code: 2, msg: secretsUsage} }

// projectPath is the API path of a project slug.
func projectPath(slug string) string { return "/api/v2/project/" + slug }

// readValue reads a secret value from standard input (never from the
// command line, where other users' `ps` would see it); one trailing
// newline is dropped, as `echo` adds it.
func readValue() (string, error) {
	b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

func cmdProjectEnv(ctx context.Context, args []string) error {
	c := newAPIClient()
	switch {
	case len(args) == 3 && args[0] == "set":
		v, err := readValue()
		if err != nil {
			return err
		}
		var out struct{ Name, Value string }
		if err := c.do(ctx, "POST", projectPath(args[1])+"/envvar", map[string]string{"name": args[2], "value": v}, &out); err != nil {
			return err
		}
		fmt.Printf("%s=%s\n", out.Name, out.Value)
	case len(args) == 2 && args[0] == "list":
		var out struct {
			Items []struct{ Name, Value string }
		}
		if err := c.do(ctx, "GET", projectPath(args[1])+"/envvar", nil, &out); err != nil {
			return err
		}
		for _, v := range out.Items {
			fmt.Printf("%s=%s\n", v.Name, v.Value)
		}
	case len(args) == 3 && args[0] == "rm":
		return c.do(ctx, "DELETE", projectPath(args[1])+"/envvar/"+url.PathEscape(args[2]), nil, nil)
	default:
		return usageErr()
	}
	return nil
}

func cmdProjectKeys(ctx context.Context, kind string, args []string) error {
	c := newAPIClient()
	var out struct {
		PublicKey   string `json:"public-key"`
		Fingerprint string `json:"fingerprint"`
	}
	switch {
	case kind == "checkout-key" && len(args) == 1:
		if err := c.do(ctx, "POST", projectPath(args[0])+"/checkout-key", map[string]string{"type": "deploy-key"}, &out); err != nil {
			return err
		}
		fmt.Printf("checkout key %s; add this public key to the repository as a deploy key:\n%s\n", out.Fingerprint, out.PublicKey)
	case kind == "ssh-key" && len(args) >= 1 && args[0] == "add":
		fs := flag.NewFlagSet("ssh-key add", flag.ContinueOnError)
		host := fs.String("hostname", "", "the host the key is for (default: every host)")
		if err := fs.Parse(reorder(args[1:])); err != nil {
			return err
		}
		if fs.NArg() != 2 {
			return usageErr()
		}
		key, err := os.ReadFile(fs.Arg(1))
		if err != nil {
			return err
		}
		body := map[string]string{"hostname": *host, "private_key": string(key)}
		if err := c.do(ctx, "POST", projectPath(fs.Arg(0))+"/ssh-key", body, &out); err != nil {
			return err
		}
		fmt.Printf("added SSH key %s; use it with add_ssh_keys\n", out.Fingerprint)
	default:
		return usageErr()
	}
	return nil
}

type contextView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// findContext resolves an owner's context by name.
func findContext(ctx context.Context, c *apiClient, owner, name string) (contextView, error) {
	var out struct{ Items []contextView }
	if err := c.do(ctx, "GET", "/api/v2/context?owner-slug="+url.QueryEscape(owner), nil, &out); err != nil {
		return contextView{}, err
	}
	for _, cv := range out.Items {
		if cv.Name == name {
			return cv, nil
		}
	}
	return contextView{}, fmt.Errorf("%s has no context named %q", owner, name)
}

func cmdContext(ctx context.Context, args []string) error {
	c := newAPIClient()
	switch {
	case len(args) == 3 && args[0] == "create":
		var out contextView
		body := map[string]any{"name": args[2], "owner": map[string]string{"slug": args[1]}}
		if err := c.do(ctx, "POST", "/api/v2/context", body, &out); err != nil {
			return err
		}
		fmt.Printf("created context %s (%s)\n", out.Name, out.ID)
	case len(args) == 2 && args[0] == "list":
		var out struct{ Items []contextView }
		if err := c.do(ctx, "GET", "/api/v2/context?owner-slug="+url.QueryEscape(args[1]), nil, &out); err != nil {
			return err
		}
		for _, cv := range out.Items {
			fmt.Printf("%s\t%s\n", cv.Name, cv.ID)
		}
	case len(args) == 3 && args[0] == "rm":
		cv, err := findContext(ctx, c, args[1], args[2])
		if err != nil {
			return err
		}
		return c.do(ctx, "DELETE", "/api/v2/context/"+cv.ID, nil, nil)
	case len(args) == 5 && args[0] == "env" && args[1] == "set":
		cv, err := findContext(ctx, c, args[2], args[3])
		if err != nil {
			return err
		}
		v, err := readValue()
		if err != nil {
			return err
		}
		path := "/api/v2/context/" + cv.ID + "/environment-variable/" + url.PathEscape(args[4])
		if err := c.do(ctx, "PUT", path, map[string]string{"value": v}, nil); err != nil {
			return err
		}
		fmt.Printf("set %s in context %s\n", args[4], cv.Name)
	default:
		return usageErr()
	}
	return nil
}
