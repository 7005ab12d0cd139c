package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// projectView is the API's project (CircleCI's shape: the repository and
// its default branch are under vcs_info).
type projectView struct {
	Slug    string `json:"slug"`
	Name    string `json:"name"`
	VCSInfo struct {
		URL           string `json:"vcs_url"`
		DefaultBranch string `json:"default_branch"`
	} `json:"vcs_info"`
}

func cmdProjectAdd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("project add", flag.ContinueOnError)
	hook := fs.Bool("hook", false, "install a git post-commit hook that triggers a pipeline on each commit")
	name := fs.String("name", "", "project name (default: the directory's name)")
	org := fs.String("org", "", "organization (default: the parent directory's name)")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return exitError{code: 2, msg: "usage: orbit project add <path> [--hook] [--name N] [--org O]"}
	}
	path, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	var p projectView
	body := map[string]string{"path": path, "name": *name, "org": *org}
	if err := newAPIClient().do(ctx, "POST", "/api/v2/project", body, &p); err != nil {
		return err
	}
	fmt.Printf("following %s as %s (default branch %s)\n", p.VCSInfo.URL, p.Slug, p.VCSInfo.DefaultBranch)
	if *hook {
		if err := installHook(path, p.Slug); err != nil {
			return err
		}
		fmt.Println("installed .git/hooks/post-commit: each commit triggers a pipeline on its branch")
	}
	fmt.Printf("trigger a pipeline: orbit trigger %s --branch %s\n", p.Slug, p.VCSInfo.DefaultBranch)
	return nil
}

// installHook writes a post-commit hook that triggers a pipeline for the
// committed branch through the API, without blocking the commit.
func installHook(repo, slug string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	hook := fmt.Sprintf(`#!/bin/sh
# Installed by "orbit project add --hook": trigger an Orbit pipeline for each commit.
branch=$(git symbolic-ref --short HEAD 2>/dev/null) || exit 0
ORBIT_URL=%q ORBIT_DATA=%q %q trigger %q --branch "$branch" --source git-hook >/dev/null 2>&1 &
exit 0
`, envOr("ORBIT_URL", "http://127.0.0.1:8080"), dataDirAbs(), self, slug)
	dir := filepath.Join(repo, ".git", "hooks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "post-commit"), []byte(hook), 0o755)
}

// reorder moves flags before positional arguments, so that
// `orbit trigger slug --branch main` parses like `orbit trigger --branch main slug`.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		if !strings.Contains(a, "=") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && !isBoolFlag(a) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}

func isBoolFlag(a string) bool {
	switch strings.TrimLeft(a, "-") {
	case "hook", "wait", "json":
		return true
	}
	return false
}
