package main

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"strings"
)

type workflowView struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

type jobView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	JobNumber int64  `json:"job_number"`
}

type stepView struct {
	Index   int    `json:"index"`
	Name    string `json:"name"`
	Actions []struct {
		Index    int    `json:"index"`
		Status   string `json:"status"`
		ExitCode *int   `json:"exit_code"`
	} `json:"actions"`
}

var slugNumber = regexp.MustCompile(`^(.+)/(\d+)$`)

func cmdStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return exitError{code: 2, msg: "usage: orbit status <pipeline-id | project-slug/number>"}
	}
	c := newAPIClient()
	id := fs.Arg(0)
	if m := slugNumber.FindStringSubmatch(id); m != nil && strings.Count(id, "/") >= 3 {
		var p pipelineView
		if err := c.do(ctx, "GET", "/api/v2/project/"+m[1]+"/pipeline/"+m[2], nil, &p); err != nil {
			return err
		}
		id = p.ID
	}
	return printStatus(ctx, c, id)
}

func workflows(ctx context.Context, c *apiClient, pipelineID string) ([]workflowView, error) {
	var page struct {
		Items []workflowView `json:"items"`
	}
	err := c.do(ctx, "GET", "/api/v2/pipeline/"+pipelineID+"/workflow", nil, &page)
	return page.Items, err
}

// printStatus prints a pipeline as a tree: workflows, jobs, steps.
func printStatus(ctx context.Context, c *apiClient, id string) error {
	var p pipelineView
	if err := c.do(ctx, "GET", "/api/v2/pipeline/"+id, nil, &p); err != nil {
		return err
	}
	ref := p.VCS.Branch
	if p.VCS.Tag != "" {
		ref = "tag " + p.VCS.Tag
	}
	wfs, err := workflows(ctx, c, id)
	if err != nil {
		return err
	}
	fmt.Printf("pipeline %s/%d  %s  (%s @ %.12s)\n", p.ProjectSlug, p.Number, pipelineOutcome(p.State, wfs), ref, p.VCS.Revision)
	for _, e := range p.Errors {
		fmt.Printf("  error (%s): %s\n", e.Type, e.Message)
	}
	for _, w := range wfs {
		fmt.Printf("  workflow %-20s %s\n", w.Name, w.Status)
		var jobs struct {
			Items []jobView `json:"items"`
		}
		if err := c.do(ctx, "GET", "/api/v2/workflow/"+w.ID+"/job", nil, &jobs); err != nil {
			return err
		}
		for _, j := range jobs.Items {
			num := ""
			if j.JobNumber > 0 {
				num = fmt.Sprintf("#%d", j.JobNumber)
			}
			fmt.Printf("    job %-22s %-20s %s\n", j.Name, j.Status, num)
			if j.JobNumber == 0 {
				continue
			}
			var steps struct {
				Items []stepView `json:"items"`
			}
			if err := c.do(ctx, "GET", fmt.Sprintf("/api/v2/project/%s/job/%d/steps", p.ProjectSlug, j.JobNumber), nil, &steps); err != nil {
				return err
			}
			for _, s := range steps.Items {
				for _, a := range s.Actions {
					code := ""
					if a.ExitCode != nil {
						code = fmt.Sprintf("exit %d", *a.ExitCode)
					}
					fmt.Printf("      step %-30s %-10s %s\n", stepLabel(s.Name, a.Index, len(s.Actions)), a.Status, code)
				}
			}
		}
	}
	return nil
}

// pipelineOutcome is what `orbit status` shows for a pipeline: the outcome
// of its workflows once it has any (a pipeline's own state stays "created"
// after its workflows are made, which says nothing about how they went),
// else its state (pending, errored). Several workflows show the worst
// outcome, or running while one has not finished.
func pipelineOutcome(state string, wfs []workflowView) string {
	if len(wfs) == 0 {
		return state
	}
	rank := map[string]int{"success": 0, "not_run": 1, "unauthorized": 2, "canceled": 3, "error": 4, "failed": 5}
	worst, worstRank := "", -1
	for _, w := range wfs {
		if !terminalWorkflow(w.Status) {
			return w.Status // running, on_hold or failing
		}
		if r := rank[w.Status]; r > worstRank {
			worst, worstRank = w.Status, r
		}
	}
	return worst
}

// stepLabel names a step's action: with the task index when the job runs
// in parallel, so that each task's line says which task it is.
func stepLabel(name string, task, tasks int) string {
	if tasks <= 1 {
		return truncate(name, 30)
	}
	suffix := fmt.Sprintf(" [task %d]", task)
	return truncate(name, 30-len(suffix)) + suffix
}

func truncate(s string, n int) string {
	s = strings.SplitN(s, "\n", 2)[0]
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
