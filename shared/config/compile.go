package config

import (
	"slices"
	"strings"
)

// Options describe the pipeline a config is compiled for.
type Options struct {
	// Filename names the config in errors (DefaultFilename if empty).
	Filename string
	// Branch is the pipeline's branch; branch filters test it.
	Branch string
	// Tag is the pipeline's tag, "" for a branch pipeline. When set, tag
	// filters decide and a job without a tag filter does not run.
	Tag string
	// Revision is the commit SHA (for pipeline values; not used yet).
	Revision string
	// PipelineParameters are the parameters the pipeline was triggered with
	// (for pipeline.parameters; not used yet).
	PipelineParameters map[string]any
}

// implicitWorkflow is the name CircleCI gives the workflow of a config
// without `workflows`.
const implicitWorkflow = "workflow"

// Compile parses, checks and compiles a config for the pipeline opts
// describe. On failure it returns a nil Plan and an ErrorList holding every
// problem found, sorted by position. A config is checked whole, whatever
// the filters keep: a job a branch filter drops still has to be valid.
func Compile(src []byte, opts Options) (*Plan, error) {
	file := opts.Filename
	if file == "" {
		file = DefaultFilename
	}
	e := &errs{file: file}
	root := parseDocument(src, e)
	if root == nil {
		return nil, e.list.sort()
	}
	p := &parser{errs: e}
	c := p.parseConfig(root)
	workflows := c.workflows
	switch {
	case !c.hasWorkflows:
		workflows = implicitWorkflows(c, e)
	case len(workflows) == 0 && e.count() == 0:
		e.at(root, "workflows", "defines no workflow")
	}
	for _, w := range workflows {
		checkWorkflow(c, w, e)
	}
	if e.count() > 0 {
		return nil, e.list.sort()
	}
	plan := &Plan{Version: c.version, Workflows: []Workflow{}}
	for _, w := range workflows {
		if wf, ok := compileWorkflow(c, w, opts); ok {
			plan.Workflows = append(plan.Workflows, wf)
		}
	}
	return plan, nil
}

// implicitWorkflows is the single workflow of a config without
// `workflows`: its job `build`, with the job's own branch filter.
func implicitWorkflows(c *config, e *errs) []*workflowDef {
	build, ok := c.jobIndex["build"]
	if !ok {
		e.at(c.root, "jobs", "a config without workflows needs a job named build")
		return nil
	}
	inv := &invocationDef{node: build.node, path: build.path, jobName: "build", name: "build"}
	inv.filters.branches = build.branches
	return []*workflowDef{{name: implicitWorkflow, node: build.node, path: build.path, jobs: []*invocationDef{inv}}}
}

// checkWorkflow checks what spans a workflow's invocations: jobs are
// defined, names are unique, requires name invocations of the workflow and
// do not form a cycle.
func checkWorkflow(c *config, w *workflowDef, e *errs) {
	byName := map[string]*invocationDef{}
	for _, inv := range w.jobs {
		if prev, dup := byName[inv.name]; dup {
			e.at(inv.node, inv.path, "job name %q is used more than once in workflow %q (first at line %d); give one a different name", inv.name, w.name, prev.node.Line)
			continue
		}
		byName[inv.name] = inv
	}
	for _, inv := range w.jobs {
		if inv.typ != JobTypeApproval {
			if _, ok := c.jobIndex[inv.jobName]; !ok {
				msg := "job %q is not defined in jobs"
				if strings.Contains(inv.jobName, "/") {
					msg += " (orb jobs are not supported yet)"
				}
				e.at(inv.node, inv.path, msg, inv.jobName)
			}
		}
		seen := map[string]bool{}
		for _, r := range inv.requires {
			switch {
			case seen[r.Name]:
				e.at(r.node, inv.path, "job %q requires %q more than once", inv.name, r.Name)
			case byName[r.Name] == nil:
				e.at(r.node, inv.path, "job %q requires %q, which is not in workflow %q", inv.name, r.Name, w.name)
			}
			seen[r.Name] = true
		}
	}
	checkCycles(w, byName, e)
}

// checkCycles reports each requires cycle once, at the invocation where the
// depth-first walk closes it.
func checkCycles(w *workflowDef, byName map[string]*invocationDef, e *errs) {
	const (
		unvisited = iota
		active
		done
	)
	state := map[*invocationDef]int{}
	var stack []string
	var visit func(inv *invocationDef)
	visit = func(inv *invocationDef) {
		state[inv] = active
		stack = append(stack, inv.name)
		for _, r := range inv.requires {
			next := byName[r.Name]
			if next == nil {
				continue
			}
			switch state[next] {
			case unvisited:
				visit(next)
			case active:
				i := slices.Index(stack, next.name)
				cycle := append(slices.Clone(stack[i:]), next.name)
				e.at(r.node, inv.path, "requires cycle in workflow %q: %s", w.name, strings.Join(cycle, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		state[inv] = done
	}
	for _, inv := range w.jobs {
		if byName[inv.name] == inv && state[inv] == unvisited {
			visit(inv)
		}
	}
}

// compileWorkflow keeps the invocations the filters let run, and drops the
// ones that require (directly or not) a dropped one, as CircleCI does. It
// reports false when nothing is left to run. The model must be checked
// (acyclic, requires resolvable).
func compileWorkflow(c *config, w *workflowDef, opts Options) (Workflow, bool) {
	if w.triggers != nil {
		return Workflow{}, false // scheduled: runs from its schedule only
	}
	byName := map[string]*invocationDef{}
	for _, inv := range w.jobs {
		byName[inv.name] = inv
	}
	runs := map[*invocationDef]bool{}
	var decide func(inv *invocationDef) bool
	decide = func(inv *invocationDef) bool {
		if v, ok := runs[inv]; ok {
			return v
		}
		ok := inv.filters.allow(opts)
		for _, r := range inv.requires {
			ok = ok && decide(byName[r.Name])
		}
		runs[inv] = ok
		return ok
	}
	wf := Workflow{Name: w.name}
	for _, inv := range w.jobs {
		if !decide(inv) {
			continue
		}
		ji := JobInvocation{Name: inv.name, JobName: inv.jobName, Type: inv.typ, Contexts: inv.contexts}
		for _, r := range inv.requires {
			ji.Requires = append(ji.Requires, Requirement{Name: r.Name, Statuses: slices.Clone(r.Statuses)})
		}
		if inv.typ != JobTypeApproval {
			job := c.jobIndex[inv.jobName].job
			ji.Job = &job
		}
		wf.Jobs = append(wf.Jobs, ji)
	}
	return wf, len(wf.Jobs) > 0
}

// allow applies the filters to the pipeline: for a tag, only a tag filter
// that matches lets the job run; for a branch, the branch filter decides
// (no filter: run).
func (f filters) allow(opts Options) bool {
	if opts.Tag != "" {
		return f.tags != nil && f.tags.allows(opts.Tag)
	}
	if f.branches != nil {
		return f.branches.allows(opts.Branch)
	}
	return true
}
