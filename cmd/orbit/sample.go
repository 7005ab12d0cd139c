package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// sampleRepo is the bundled sample project (sample/ in this directory).
//
//go:embed all:sample
var sampleRepo embed.FS

func cmdSample(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("sample", flag.ContinueOnError)
	dir := flags.String("dir", filepath.Join(envOr("ORBIT_DATA", ".orbit"), "sample"), "where to create the sample repository")
	wait := flags.Bool("wait", true, "wait for the pipeline and print its status")
	if err := flags.Parse(args); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(abs, ".git")); os.IsNotExist(err) {
		if err := writeSample(ctx, abs); err != nil {
			return fmt.Errorf("create sample repository in %s: %w", abs, err)
		}
		fmt.Printf("created sample repository %s\n", abs)
	}
	c := newAPIClient()
	var p projectView
	err = c.do(ctx, "POST", "/api/v2/project", map[string]string{"path": abs, "org": "orbit", "name": "sample"}, &p)
	if err != nil && !strings.Contains(err.Error(), "(409)") {
		return err
	}
	targs := []string{"local/orbit/sample", "--branch", "main"}
	if *wait {
		targs = append(targs, "--wait")
	}
	return cmdTrigger(ctx, targs)
}

func writeSample(ctx context.Context, dir string) error {
	err := fs.WalkDir(sampleRepo, "sample", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("sample", path)
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := sampleRepo.ReadFile(path)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(path, ".sh") {
			mode = 0o755
		}
		return os.WriteFile(dst, b, mode)
	})
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=Orbit", "-c", "user.email=orbit@localhost", "commit", "-q", "-m", "Sample project"},
	} {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %w: %s", args[0], err, out)
		}
	}
	return nil
}
