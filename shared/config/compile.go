package config

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
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
	// Revision is the commit SHA (pipeline.git.revision unless
	// PipelineValues says otherwise).
	Revision string
	// PipelineParameters are the parameters the pipeline was triggered with
	// (pipeline.parameters.*), checked against the config's top-level
	// `parameters`. Strings are converted to a declared boolean or integer.
	PipelineParameters map[string]any
	// PipelineValues are the other pipeline.* values; its git branch, tag
	// and revision default to Branch, Tag and Revision.
	PipelineValues PipelineValues
	// OrbDir is the local orb registry (DefaultOrbDir() if empty); Orbs,
	// if set, is used instead.
	OrbDir string
	Orbs   OrbRegistry
	// URLOrbs reads the orbs a config imports by URL (`orbs: x:
	// https://…`), checking the organization's allow-list; nil refuses
	// them, saying so.
	URLOrbs URLOrbFetcher
	// Continuation compiles the configuration a setup workflow continued
	// the pipeline with (give its parameters as PipelineParameters). A
	// pipeline continues once, so a setup config is refused.
	Continuation bool
	// ScheduledWorkflow compiles a run of that scheduled workflow (one
	// with `triggers`) alone, on Branch, instead of the push workflows.
	ScheduledWorkflow string
}

// implicitWorkflow is the name CircleCI gives the workflow of a config
// without `workflows`.
const implicitWorkflow = "workflow"

// compiler holds one compilation: the config's scopes, its workflows with
// their expanded jobs, and the errors found.
type compiler struct {
	opts Options
	// parser reads the config's own file; orbs from the registry have
	// their own (scope.p).
	parser   *parser
	rootNode *yaml.Node
	version  string
	v21      bool
	setup    bool
	pipe     *pipelineScope
	root     *scope
	// owner records the scope in which a steps or executor argument was
	// written, so names in it resolve there once spliced into a callee.
	owner map[*yaml.Node]*scope
	// workflows are in file order; unused are the jobs no workflow
	// invokes, expanded when they can be (to check them and for Process).
	workflows []*workflowDef
	unused    []*invocationDef
	registry  OrbRegistry
	orbCache  map[string]*scope
	orbStack  []string
	regexps   map[string]*regexp.Regexp
	// templated caches hasTemplate, commandCache expandCommand and
	// stepCache parseStep.
	templated    map[*yaml.Node]bool
	commandCache map[commandKey][]stepRef
	stepCache    map[*yaml.Node]Step
	// where is the key of the node subst is at; whereBuf its reused stack.
	where    substWhere
	whereBuf []keyPath
	// styles caches the output style of multi-line strings (Process).
	styles map[string]yaml.Style
	// budget counts down the nodes expansion may make; brokenRefs counts
	// references into orbs that failed to load.
	budget                   int
	overBudget, tooManySteps bool
	brokenRefs               int
}

func newCompiler(opts Options) *compiler {
	if opts.Filename == "" {
		opts.Filename = DefaultFilename
	}
	c := &compiler{
		opts:         opts,
		parser:       &parser{errs: &errs{file: opts.Filename}},
		owner:        map[*yaml.Node]*scope{},
		orbCache:     map[string]*scope{},
		regexps:      map[string]*regexp.Regexp{},
		templated:    map[*yaml.Node]bool{},
		commandCache: map[commandKey][]stepRef{},
		stepCache:    map[*yaml.Node]Step{},
		budget:       4 * maxExpandedNodes,
		registry:     opts.Orbs,
	}
	c.pipe = newPipelineScope(opts)
	if c.registry == nil {
		dir := opts.OrbDir
		if dir == "" {
			dir = DefaultOrbDir()
		}
		c.registry = DirRegistry(dir)
	}
	return c
}

// Compile parses, checks and compiles a config for the pipeline opts
// describe. On failure it returns a nil Plan and an ErrorList holding every
// problem found, sorted by position. A config is checked whole, whatever
// the filters and conditions keep: a job a branch filter drops still has
// to be valid.
func Compile(src []byte, opts Options) (*Plan, error) {
	c := newCompiler(opts)
	if !c.load(src) {
		return nil, c.errors()
	}
	p := c.plan()
	p.Warnings = c.warnings()
	return p, nil
}

func (c *compiler) errors() error {
	return c.parser.sink().list.sort(c.opts.Filename)
}

// warnings are the warnings found, sorted by position, one per place (nil
// when there are none).
func (c *compiler) warnings() ErrorList {
	w := c.parser.sink().warnings.sort(c.opts.Filename).oncePerPlace()
	if len(w) == 0 {
		return nil
	}
	return w
}

// sections are the top-level keys with a meaning. Other top-level keys are
// ignored, as CircleCI ignores them: configs keep YAML anchors under keys
// such as `references` or `defaults`.
type sections struct {
	version, jobs, workflows, orbs, commands, executors, parameters, setup *yaml.Node
}

// load parses and expands the whole config; false if it found problems.
func (c *compiler) load(src []byte) bool {
	p := c.parser
	root := parseDocument(src, p.errs)
	if root == nil {
		return false
	}
	c.rootNode = root
	var s sections
	for _, kv := range pairs(root) {
		switch kv.key {
		case "version":
			s.version = kv.v
		case "jobs":
			s.jobs = kv.v
		case "workflows":
			s.workflows = kv.v
		case "orbs":
			s.orbs = kv.v
		case "commands":
			s.commands = kv.v
		case "executors":
			s.executors = kv.v
		case "parameters":
			s.parameters = kv.v
		case "setup":
			s.setup = kv.v
		}
	}
	c.version = p.parseVersion(root, s.version)
	c.v21 = c.version == "2.1"
	p.v21 = c.v21
	if c.v21 {
		c.bindPipelineParameters(s.parameters, c.opts.PipelineParameters)
	} else {
		c.refuse21(root, s)
	}
	c.parseSetup(s.setup)
	c.root = newScope("", p)
	if c.v21 {
		if s.orbs != nil {
			c.loadOrbs(c.root, s.orbs, "orbs", 1)
		}
		if s.commands != nil {
			c.parseDefs(c.root, kindCommand, s.commands, "commands")
		}
		if s.executors != nil {
			c.parseDefs(c.root, kindExecutor, s.executors, "executors")
		}
	}
	if s.jobs != nil {
		c.parseDefs(c.root, kindJob, s.jobs, "jobs")
	}
	switch {
	case s.workflows != nil:
		c.parseWorkflows(s.workflows)
		if len(c.workflows) == 0 && p.count() == 0 {
			p.at(root, "workflows", "defines no workflow")
		}
	default:
		c.implicitWorkflow()
	}
	c.checkScheduled()
	for _, w := range c.workflows {
		c.checkWorkflow(w)
		c.expandWorkflow(w)
	}
	c.expandUnused()
	return p.count() == 0
}

// refuse21 reports the 2.1 sections of a 2.0 config.
func (c *compiler) refuse21(root *yaml.Node, s sections) {
	for name, n := range map[string]*yaml.Node{"orbs": s.orbs, "commands": s.commands, "executors": s.executors, "parameters": s.parameters} {
		if n != nil {
			c.parser.at(n, name, "%s need version 2.1", name)
		}
	}
	if len(c.opts.PipelineParameters) > 0 && c.version != "" {
		c.parser.at(root, "parameters", "pipeline parameters need version 2.1 (the pipeline was given %s)", strings.Join(sortedKeys(c.opts.PipelineParameters), ", "))
	}
}

// parseSetup reads `setup`: true, false, or (2.1) a template that gives
// one. A processed setup config keeps `setup: true` under version 2.
func (c *compiler) parseSetup(n *yaml.Node) {
	if n == nil {
		return
	}
	p := c.parser
	v := n
	if c.v21 {
		v = c.subst(n, c.pipeVars(p), &keyPath{name: "setup"})
	}
	b, ok := p.boolean(v, "setup")
	if !ok {
		return
	}
	c.setup = b
	if b && c.opts.Continuation {
		p.at(n, "setup", "a continuation config cannot be a setup config: a pipeline continues once")
	}
}

// implicitWorkflow is the single workflow of a config without
// `workflows`: its job `build`, with the job's own branch filter.
func (c *compiler) implicitWorkflow() {
	d := c.root.defs[kindJob]["build"]
	if d == nil {
		c.parser.at(c.rootNode, "jobs", "a config without workflows needs a job named build")
		return
	}
	inv := &invocationDef{node: d.node, path: d.path, jobName: "build", name: "build"}
	c.workflows = []*workflowDef{{name: implicitWorkflow, node: d.node, path: d.path, jobs: []*invocationDef{inv}, enabled: true, implicit: true}}
}

// checkScheduled checks Options.ScheduledWorkflow names a scheduled workflow.
func (c *compiler) checkScheduled() {
	name := c.opts.ScheduledWorkflow
	if name == "" {
		return
	}
	for _, w := range c.workflows {
		if w.name == name {
			if !w.hasTriggers {
				c.parser.at(w.node, w.path, "workflow %q has no triggers; it is not a scheduled workflow", name)
			}
			return
		}
	}
	c.parser.at(c.rootNode, "workflows", "no workflow %q to run on its schedule", name)
}

// checkWorkflow checks what spans a workflow's invocations: names are
// unique, requires name invocations of the workflow and do not form a
// cycle.
func (c *compiler) checkWorkflow(w *workflowDef) {
	e := c.parser
	byName := map[string]*invocationDef{}
	for _, inv := range w.jobs {
		if prev, dup := byName[inv.name]; dup {
			e.at(inv.node, inv.path, "job name %q is used more than once in workflow %q (first at line %d); give one a different name", inv.name, w.name, prev.node.Line)
			continue
		}
		byName[inv.name] = inv
	}
	for _, inv := range w.jobs {
		for _, r := range inv.requires {
			if byName[r.Name] == nil {
				e.at(r.node, inv.path, "job %q requires %q, which is not in workflow %q", inv.name, r.Name, w.name)
			}
		}
	}
	checkCycles(w, byName, c.parser.errs)
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

// expandWorkflow expands and parses the job of every invocation.
func (c *compiler) expandWorkflow(w *workflowDef) {
	for _, inv := range w.jobs {
		if inv.typ == JobTypeApproval {
			inv.ok = true
			continue
		}
		d, broken, why := c.root.lookup(kindJob, inv.jobName)
		if broken {
			continue // the orb's import reported why
		}
		if d == nil {
			if why == "" {
				why = "job " + quote(inv.jobName) + " is not defined in jobs"
			}
			c.parser.at(inv.node, inv.path, "%s", why)
			continue
		}
		c.compileInvocation(inv, d)
		if w.implicit {
			inv.filters.branches = inv.branches
		}
	}
}

// compileInvocation expands one invocation's job and parses it.
func (c *compiler) compileInvocation(inv *invocationDef, d *definition) {
	key := inv.optKey
	if key == "" {
		key = inv.path
	}
	x, ok := c.expandJob(d, inv.args, inv.node, key, c.parser, c.root, inv.preSteps, inv.postSteps)
	if !ok {
		return
	}
	inv.job = x
	parsed, ok := c.parseJob(x)
	inv.compiled, inv.branches, inv.ok = parsed.job, parsed.branches, ok
	if parsed.typ != jobTypeBuild {
		inv.typ = parsed.typ
	}
}

// expandUnused expands the config's jobs that no workflow invokes and
// that need no arguments, so they are checked too (and listed by Process).
func (c *compiler) expandUnused() {
	used := map[string]bool{}
	for _, w := range c.workflows {
		for _, inv := range w.jobs {
			used[inv.jobName] = true
		}
	}
	for _, d := range c.root.jobOrder {
		if used[d.name] || slices.ContainsFunc(d.params.list, func(p *paramDecl) bool { return p.def == nil }) {
			continue
		}
		inv := &invocationDef{node: d.node, path: d.path, jobName: d.name, name: d.name}
		c.compileInvocation(inv, d)
		c.unused = append(c.unused, inv)
	}
}

// plan builds the Plan for the pipeline: the enabled workflows, filters
// applied.
func (c *compiler) plan() *Plan {
	plan := &Plan{Version: c.version, Workflows: []Workflow{}, Setup: c.setup}
	for _, w := range c.workflows {
		if !w.enabled {
			continue
		}
		if w.hasTriggers {
			for _, t := range w.triggers {
				sch := Schedule{Workflow: w.name, Cron: t.cron}
				if t.filters.branches != nil {
					sch.Branches = t.filters.branches.text
				}
				plan.Schedules = append(plan.Schedules, sch)
			}
		}
		if c.opts.ScheduledWorkflow != "" && c.opts.ScheduledWorkflow != w.name ||
			c.opts.ScheduledWorkflow == "" && w.hasTriggers {
			continue // scheduled workflows run from their schedule only
		}
		if wf, ok := c.compileWorkflow(w); ok {
			plan.Workflows = append(plan.Workflows, wf)
		}
	}
	return plan
}

// compileWorkflow keeps the invocations the filters let run, and drops the
// ones that require (directly or not) a dropped one, as CircleCI does. It
// reports false when nothing is left to run. The workflow must be checked
// (acyclic, requires resolvable).
func (c *compiler) compileWorkflow(w *workflowDef) (Workflow, bool) {
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
		runs[inv] = false // a cycle cannot get here; be safe anyway
		ok := inv.filters.allow(c.opts)
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
		ji := JobInvocation{Name: inv.name, JobName: inv.jobName, Type: inv.typ, Contexts: inv.contexts, SerialGroup: inv.serialGroup}
		for _, r := range inv.requires {
			ji.Requires = append(ji.Requires, Requirement{Name: r.Name, Statuses: slices.Clone(r.Statuses)})
		}
		if inv.typ == JobTypeBuild {
			job := inv.compiled
			ji.Job = &job
		}
		wf.Jobs = append(wf.Jobs, ji)
	}
	return wf, len(wf.Jobs) > 0
}

// allow applies the filters to the pipeline: an expression decides alone;
// for a tag, only a tag filter that matches lets the job run; for a branch,
// the branch filter decides (no filter: run).
func (f filters) allow(opts Options) bool {
	if f.expr != nil {
		return *f.expr
	}
	if opts.Tag != "" {
		return f.tags != nil && f.tags.allows(opts.Tag)
	}
	if f.branches != nil {
		return f.branches.allows(opts.Branch)
	}
	return true
}
