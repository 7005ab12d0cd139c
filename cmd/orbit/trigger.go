package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"time"
)

type pipelineView struct {
	ID          string `json:"id"`
	Number      int64  `json:"number"`
	State       string `json:"state"`
	ProjectSlug string `json:"project_slug"`
	CreatedAt   string `json:"created_at"`
	Errors      []struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"errors"`
	VCS struct {
		Branch   string `json:"branch"`
		Tag      string `json:"tag"`
		Revision string `json:"revision"`
	} `json:"vcs"`
}

func cmdTrigger(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("trigger", flag.ContinueOnError)
	branch := fs.String("branch", "", "branch to build (default: the project's default branch)")
	tag := fs.String("tag", "", "tag to build")
	wait := fs.Bool("wait", false, "wait until the pipeline finishes; exit 1 unless every workflow succeeded")
	source := fs.String("source", "", "trigger type to record (api, git-hook)")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return exitError{code: 2, msg: "usage: orbit trigger <project-slug> [--branch B | --tag T] [--wait]"}
	}
	slug := fs.Arg(0)
	body := map[string]any{}
	if *branch != "" {
		body["branch"] = *branch
	}
	if *tag != "" {
		body["tag"] = *tag
	}
	path := "/api/v2/project/" + slug + "/pipeline"
	if *source != "" {
		path += "?source=" + url.QueryEscape(*source)
	}
	c := newAPIClient()
	var p pipelineView
	if err := c.do(ctx, "POST", path, body, &p); err != nil {
		return err
	}
	fmt.Printf("pipeline %s/%d created: %s\n", slug, p.Number, p.ID)
	fmt.Printf("  watch: orbit status %s   ui: %s/ui/pipeline/%s\n", p.ID, c.base, p.ID)
	if !*wait {
		return nil
	}
	ok, err := waitPipeline(ctx, c, p.ID, 2*time.Hour)
	if err != nil {
		return err
	}
	if err := printStatus(ctx, c, p.ID); err != nil {
		return err
	}
	if !ok {
		return exitError{code: 1}
	}
	return nil
}

// waitPipeline polls until the pipeline errored or all its workflows are
// terminal; it reports whether everything succeeded.
func waitPipeline(ctx context.Context, c *apiClient, id string, limit time.Duration) (bool, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var p pipelineView
		if err := c.do(ctx, "GET", "/api/v2/pipeline/"+id, nil, &p); err != nil {
			return false, err
		}
		if p.State == "errored" {
			return false, nil
		}
		if p.State == "created" {
			wfs, err := workflows(ctx, c, id)
			if err != nil {
				return false, err
			}
			done, ok := true, true
			for _, w := range wfs {
				if !terminalWorkflow(w.Status) {
					done = false
				}
				if w.Status != "success" {
					ok = false
				}
			}
			if done {
				return ok, nil
			}
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return false, fmt.Errorf("pipeline %s did not finish within %s", id, limit)
}

func terminalWorkflow(s string) bool {
	switch s {
	case "success", "failed", "error", "canceled", "not_run", "unauthorized":
		return true
	}
	return false
}
