package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Expansion turns one job invocation into a 2.0-form job: the job's body
// with its parameters substituted, its executor's keys merged in, and its
// steps flattened (commands expanded with their arguments, when/unless
// steps decided, steps parameters spliced, pre- and post-steps added). Each
// piece keeps where it was written (file, line, key), so the typed parse
// that follows reports problems where the user can fix them.

// Limits that keep recursive or multiplying configs finite.
const (
	maxCommandDepth = 32
	maxJobSteps     = 10000
)

// expandedJob is a job ready for the typed parse and for the processed
// config.
type expandedJob struct {
	def *definition
	// fields are the job's keys other than steps, the executor's merged in.
	fields []field
	steps  []stepRef
	// hasSteps tells a job with no steps key from an empty list;
	// emptySource marks steps written as an empty list (an error, where a
	// list whose when steps all decide "no" is not), stepsNode locates it.
	hasSteps, emptySource bool
	stepsNode             *yaml.Node
	// execFailed marks an executor reference whose problem is reported.
	execFailed bool
}

// field is one key of an expanded job, with the parser of the file it was
// written in and its key path there.
type field struct {
	pair
	path string
	p    *parser
}

// stepRef is one step of an expanded job.
type stepRef struct {
	node *yaml.Node
	path string
	p    *parser
}

// builtinSteps are the steps CircleCI runs itself; any other name in 2.1 is
// a command.
var builtinSteps = map[string]bool{
	StepCheckout: true, StepRun: true, "deploy": true, StepSaveCache: true, StepRestoreCache: true,
	StepStoreArtifacts: true, StepStoreTestResults: true, StepPersistToWorkspace: true,
	StepAttachWorkspace: true, StepAddSSHKeys: true, StepSetupRemoteDocker: true,
}

// expandJob expands def for one call. args are the call's arguments, at and
// key locate the call in p's file, caller is the scope the arguments were
// written in. pre and post are the invocation's pre-steps and post-steps.
func (c *compiler) expandJob(def *definition, args []pair, at *yaml.Node, key string, p *parser, caller *scope, pre, post *yaml.Node) (*expandedJob, bool) {
	values, ok := c.bindArgs(p, def, args, at, key, caller)
	if !ok {
		return nil, false
	}
	brokenBefore := c.brokenRefs
	dp := def.scope.p
	v := &vars{errs: dp.errs, pipe: c.pipe, params: values, def: def}
	if !c.v21 {
		v = nil
	}
	x := &expandedJob{def: def}
	var execFields []field
	var steps *yaml.Node
	for _, kv := range def.body {
		fkey := joinKey(def.path, kv.key)
		val := kv.v
		if v != nil {
			val = c.subst(kv.v, v, &keyPath{name: fkey})
		}
		switch kv.key {
		case "executor":
			if !c.v21 {
				dp.at(kv.k, fkey, "reusable executors need version 2.1")
				continue
			}
			ef, ok := c.resolveExecutor(val, def.scope, dp, fkey)
			if !ok {
				x.execFailed = true // reported; its steps are still checked
				continue
			}
			execFields = ef
		case "steps":
			steps, x.hasSteps, x.stepsNode = val, true, kv.v
			if r := resolve(val); r.Kind == yaml.SequenceNode && len(r.Content) == 0 {
				x.emptySource = true
			}
		default:
			x.fields = append(x.fields, field{pair{kv.key, kv.k, val}, fkey, dp})
		}
	}
	x.fields = mergeExecutor(execFields, x.fields)
	var out []stepRef
	if pre != nil {
		out = c.expandSteps(pre, c.root, c.parser, joinKey(key, "pre-steps"), 0, nil, out)
	}
	if steps != nil {
		s := def.scope
		if o := c.owner[resolve(steps)]; o != nil {
			s = o
		}
		if r := resolve(steps); r.Kind == yaml.SequenceNode {
			out = c.expandSteps(r, s, s.p, joinKey(def.path, "steps"), 0, nil, out)
		} else {
			out = append(out, stepRef{steps, joinKey(def.path, "steps"), dp}) // the parse reports it
		}
	}
	if post != nil {
		out = c.expandSteps(post, c.root, c.parser, joinKey(key, "post-steps"), 0, nil, out)
	}
	x.steps = out
	// A reference into an orb that failed to load was reported at the
	// import; the job is not checked further, so nothing cascades.
	return x, c.brokenRefs == brokenBefore
}

// mergeExecutor puts an executor's keys before the job's own: the job's
// resource_class, shell and working_directory win, environments merge (the
// job's values win), and a second docker, machine or macos stays so the
// parse reports two executors.
func mergeExecutor(exec, job []field) []field {
	if len(exec) == 0 {
		return job
	}
	own := map[string]int{}
	for i, f := range job {
		own[f.key] = i
	}
	out := make([]field, 0, len(exec)+len(job))
	for _, f := range exec {
		i, dup := own[f.key]
		switch {
		case !dup:
			out = append(out, f)
		case f.key == "environment":
			merged := mergeEnv(f.v, job[i].v)
			job[i].v = merged
		case f.key == "docker" || f.key == "machine" || f.key == "macos":
			out = append(out, f)
		}
	}
	return append(out, job...)
}

// mergeEnv merges two environments, the second's values winning: into one
// mapping when both are mappings, else into a list of both.
func mergeEnv(base, over *yaml.Node) *yaml.Node {
	b, o := resolve(base), resolve(over)
	if b.Kind == yaml.MappingNode && o.Kind == yaml.MappingNode {
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: o.Line, Column: o.Column}
		seen := map[string]bool{}
		for _, kv := range pairs(o) {
			seen[kv.key] = true
		}
		for _, kv := range pairs(b) {
			if !seen[kv.key] {
				n.Content = append(n.Content, kv.k, kv.v)
			}
		}
		for _, kv := range pairs(o) {
			n.Content = append(n.Content, kv.k, kv.v)
		}
		return n
	}
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: o.Line, Column: o.Column, Content: []*yaml.Node{b, o}}
}

// resolveExecutor expands an `executor:` value (a name, or a mapping of
// name and arguments) into the executor's keys.
func (c *compiler) resolveExecutor(ref *yaml.Node, s *scope, p *parser, key string) ([]field, bool) {
	r := resolve(ref)
	if o := c.owner[r]; o != nil {
		s = o
	}
	var name string
	var args []pair
	switch {
	case r.Kind == yaml.ScalarNode && !isNull(r):
		name = r.Value
	case r.Kind == yaml.MappingNode:
		for _, kv := range pairs(r) {
			if kv.key == "name" {
				name, _ = p.str(kv.v, joinKey(key, "name"))
				continue
			}
			args = append(args, kv)
		}
		if name == "" {
			p.at(ref, joinKey(key, "name"), "is required: the executor to use")
			return nil, false
		}
	default:
		p.at(ref, key, "must be an executor name or a mapping with its name and arguments, not %s", describe(r))
		return nil, false
	}
	d, broken, why := s.lookup(kindExecutor, name)
	if broken {
		c.brokenRefs++
		return nil, false
	}
	if d == nil {
		if why == "" {
			why = "executor " + quote(name) + " is not defined in executors"
		}
		p.at(ref, key, "%s", why)
		return nil, false
	}
	values, ok := c.bindArgs(p, d, args, ref, key, s)
	if !ok {
		return nil, false
	}
	dp := d.scope.p
	v := &vars{errs: dp.errs, pipe: c.pipe, params: values, def: d}
	fields := make([]field, 0, len(d.body))
	for _, kv := range d.body {
		fkey := joinKey(d.path, kv.key)
		fields = append(fields, field{pair{kv.key, kv.k, c.subst(kv.v, v, &keyPath{name: fkey})}, fkey, dp})
	}
	return fields, true
}

// expandSteps flattens a step list into out. Names resolve in s; p and key
// locate the list. stack holds the commands being expanded (recursion).
func (c *compiler) expandSteps(list *yaml.Node, s *scope, p *parser, key string, depth int, stack []*definition, out []stepRef) []stepRef {
	r := resolve(list)
	if r == nil || r.Kind != yaml.SequenceNode {
		return append(out, stepRef{list, key, p})
	}
	for i, item := range r.Content {
		if len(out) > maxJobSteps {
			if !c.tooManySteps {
				c.tooManySteps = true
				p.at(item, key, "job expands to more than %d steps; refusing it", maxJobSteps)
			}
			return out
		}
		ikey := indexKey(key, i)
		ri := resolve(item)
		switch {
		case ri.Kind == yaml.SequenceNode:
			o := s
			if own := c.owner[ri]; own != nil {
				o = own
			}
			out = c.expandSteps(ri, o, o.p, ikey, depth, stack, out)
		case ri.Kind == yaml.ScalarNode && ri.ShortTag() == "!!str":
			if builtinSteps[ri.Value] || !c.v21 {
				out = append(out, stepRef{item, ikey, p})
				continue
			}
			out = c.expandCommand(ri.Value, item, nil, s, p, ikey, depth, stack, out)
		case ri.Kind == yaml.MappingNode:
			kvs := pairs(ri)
			if len(kvs) != 1 || builtinSteps[kvs[0].key] || !c.v21 {
				out = append(out, stepRef{item, ikey, p})
				continue
			}
			name, args := kvs[0].key, kvs[0].v
			nkey := joinKey(ikey, name)
			switch name {
			case "when", "unless":
				out = c.expandCondition(name, args, s, p, nkey, depth, stack, out)
			case "steps":
				o := s
				if own := c.owner[resolve(args)]; own != nil {
					o = own
				}
				if isNull(args) {
					continue
				}
				if ra := resolve(args); ra.Kind != yaml.SequenceNode {
					p.at(args, nkey, "must be a list of steps, not %s", describe(ra))
					continue
				}
				out = c.expandSteps(args, o, o.p, nkey, depth, stack, out)
			default:
				out = c.expandCommand(name, kvs[0].k, args, s, p, nkey, depth, stack, out)
			}
		default:
			out = append(out, stepRef{item, ikey, p})
		}
	}
	return out
}

var conditionKeys = []string{"condition", "steps"}

// expandCondition expands a when or unless step: its steps if the
// condition says so, else nothing.
func (c *compiler) expandCondition(name string, args *yaml.Node, s *scope, p *parser, key string, depth int, stack []*definition, out []stepRef) []stepRef {
	kvs, ok := p.mapping(args, key)
	if !ok {
		return out
	}
	// CircleCI's schema lets a when or unless step carry other keys; they
	// mean nothing.
	for _, kv := range kvs {
		if !slices.Contains(conditionKeys, kv.key) {
			p.warn(kv.k, joinKey(key, kv.key), "unknown key %q is ignored: CircleCI accepts keys a %s step does not use (it uses: %s)", kv.key, name, joinAllowed(conditionKeys))
		}
	}
	var cond, steps *yaml.Node
	for _, kv := range kvs {
		switch kv.key {
		case "condition":
			cond = kv.v
		case "steps":
			steps = kv.v
		}
	}
	if cond == nil {
		p.at(args, joinKey(key, "condition"), "is required")
		return out
	}
	if steps == nil {
		p.at(args, joinKey(key, "steps"), "is required")
		return out
	}
	if _, ok := p.sequence(steps, joinKey(key, "steps")); !ok {
		return out
	}
	run, ok := c.evalLogic(p, cond, joinKey(key, "condition"))
	if !ok || run != (name == "when") {
		return out
	}
	return c.expandSteps(steps, s, p, joinKey(key, "steps"), depth, stack, out)
}

// expandCommand expands one command invocation.
func (c *compiler) expandCommand(name string, at, args *yaml.Node, s *scope, p *parser, key string, depth int, stack []*definition, out []stepRef) []stepRef {
	d, broken, why := s.lookup(kindCommand, name)
	if broken {
		c.brokenRefs++
		return out
	}
	if d == nil {
		if why == "" {
			why = "unknown step or command " + quote(name)
		}
		p.at(at, key, "%s", why)
		return out
	}
	for i, on := range stack {
		if on == d {
			chain := make([]string, 0, len(stack)-i+1)
			for _, x := range stack[i:] {
				chain = append(chain, x.name)
			}
			p.at(at, key, "command %q invokes itself: %s -> %s", name, strings.Join(chain, " -> "), d.name)
			return out
		}
	}
	if depth >= maxCommandDepth {
		p.at(at, key, "commands invoke commands more than %d levels deep", maxCommandDepth)
		return out
	}
	// The same command with the same arguments (the same nodes: a job
	// invoked by each combination of a matrix) expands the same way.
	ck := commandKey{d, resolve(args), s}
	if steps, ok := c.commandCache[ck]; ok {
		return append(out, steps...)
	}
	errsBefore, brokenBefore := c.parser.count(), c.brokenRefs
	start := len(out)
	out = c.callCommand(d, at, args, s, p, key, depth, stack, out)
	if c.parser.count() == errsBefore && c.brokenRefs == brokenBefore {
		c.commandCache[ck] = slices.Clone(out[start:])
	}
	return out
}

// callCommand binds a command's arguments and expands its steps.
func (c *compiler) callCommand(d *definition, at, args *yaml.Node, s *scope, p *parser, key string, depth int, stack []*definition, out []stepRef) []stepRef {
	var argPairs []pair
	if !isNull(args) {
		kvs, ok := p.mapping(args, key)
		if !ok {
			return out
		}
		argPairs = kvs
	}
	values, ok := c.bindArgs(p, d, argPairs, at, key, s)
	if !ok {
		return out
	}
	var steps *yaml.Node
	for _, kv := range d.body {
		if kv.key == "steps" {
			steps = kv.v
		}
	}
	if steps == nil {
		return out // reported with the definition
	}
	dp := d.scope.p
	skey := joinKey(d.path, "steps")
	v := &vars{errs: dp.errs, pipe: c.pipe, params: values, def: d}
	steps = c.subst(steps, v, &keyPath{name: skey})
	rs := resolve(steps)
	o := d.scope
	if own := c.owner[rs]; own != nil {
		o = own
	}
	if rs.Kind != yaml.SequenceNode {
		dp.at(steps, skey, "must be a list of steps, not %s", describe(rs))
		return out
	}
	return c.expandSteps(rs, o, o.p, skey, depth+1, append(stack, d), out)
}

func quote(s string) string { return `"` + s + `"` }

// commandKey identifies a command expansion: the command, its arguments
// node and the scope the call was written in.
type commandKey struct {
	def   *definition
	args  *yaml.Node
	scope *scope
}
