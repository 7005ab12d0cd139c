package config

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Keys of a workflow job invocation other than the job's arguments.
var (
	invocationKeys = []string{"requires", "name", "context", "type", "filters", "matrix", "pre-steps", "post-steps", "serial-group"}
	// invocationKeys20 are those version 2.0 knows.
	invocationKeys20 = []string{"requires", "name", "context", "type", "filters", "serial-group"}
	// requireStatuses are the statuses a `requires` entry may wait for.
	requireStatuses = []string{StatusSuccess, StatusFailed, StatusCanceled, StatusNotRun, StatusUnauthorized, StatusTerminal}
)

func (c *compiler) parseWorkflows(n *yaml.Node) {
	kvs, _ := c.parser.mapping(n, "workflows")
	for _, kv := range kvs {
		if kv.key == "version" {
			continue // `workflows: version: 2` of 2.0 configs; meaningless
		}
		w := &workflowDef{name: kv.key, node: kv.v, path: joinKey("workflows", kv.key), enabled: true}
		c.parseWorkflow(w)
		c.workflows = append(c.workflows, w)
	}
}

func (c *compiler) parseWorkflow(w *workflowDef) {
	p := c.parser
	kvs, ok := p.mapping(w.node, w.path)
	if !ok {
		return
	}
	p.checkKeys(kvs, w.path, "jobs", "triggers", "when", "unless", "max_auto_reruns")
	var jobs *yaml.Node
	for _, kv := range kvs {
		key := joinKey(w.path, kv.key)
		switch kv.key {
		case "jobs":
			jobs = kv.v
		case "triggers":
			w.triggers = c.parseTriggers(kv.v, key)
			w.hasTriggers = true
		case "when", "unless":
			if !c.v21 {
				p.at(kv.k, key, "workflow conditions (when/unless) need version 2.1")
				continue
			}
			if v, ok := c.condition(kv.v, key); ok && v != (kv.key == "when") {
				w.enabled = false
			}
		case "max_auto_reruns":
			if n, ok := p.integer(kv.v, key); ok {
				if n < 1 || n > 5 {
					p.at(kv.v, key, "must be between 1 and 5, not %d", n)
				} else {
					p.warn(kv.k, key, "is not applied: Orbit does not rerun a failed workflow by itself (rerun it from failed, or use max_auto_reruns on run steps)")
				}
			}
		}
	}
	if jobs == nil {
		p.at(w.node, joinKey(w.path, "jobs"), "is required")
		return
	}
	key := joinKey(w.path, "jobs")
	items, ok := p.sequence(jobs, key)
	if !ok {
		return
	}
	if len(items) == 0 {
		p.at(jobs, key, "must not be empty")
	}
	for i, item := range items {
		c.parseEntry(w, item, indexKey(key, i), i)
	}
	c.resolveAliases(w)
}

// condition judges a workflow's when or unless: a logic statement, or a
// string holding an expression (`pipeline.git.branch == "main"`).
func (c *compiler) condition(n *yaml.Node, key string) (bool, bool) {
	v := c.pipeVars(c.parser)
	if r := resolve(n); r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" && !isSingleTemplate(r.Value) {
		text := scalarString(resolve(c.subst(n, v, &keyPath{name: key})))
		return c.exprCondition(text, v, n, key)
	}
	return c.evalLogic(c.parser, c.subst(n, v, &keyPath{name: key}), key)
}

// isSingleTemplate reports whether s is one `<< name >>` and nothing else.
func isSingleTemplate(s string) bool {
	if !strings.HasPrefix(s, "<<") {
		return false
	}
	_, end := matchTemplate(s, 0)
	return end == len(s)
}

// pipeVars are the templates allowed outside jobs, commands and executors.
func (c *compiler) pipeVars(p *parser) *vars { return &vars{errs: p.errs, pipe: c.pipe} }

// parseEntry parses one entry of a workflow's jobs, `- job` or
// `- job: {options and arguments}`, into one invocation, or one per
// combination of its matrix.
func (c *compiler) parseEntry(w *workflowDef, n *yaml.Node, key string, index int) {
	p := c.parser
	r := resolve(n)
	switch {
	case r.Kind == yaml.ScalarNode && r.ShortTag() != "!!null":
		w.jobs = append(w.jobs, &invocationDef{node: n, path: key, jobName: r.Value, name: r.Value, source: index})
		return
	case r.Kind != yaml.MappingNode:
		p.at(n, key, "a workflow job is a job name or a mapping of a job name to its options, not %s", describe(r))
		return
	}
	kvs := pairs(r)
	if len(kvs) != 1 {
		p.at(n, key, "a workflow job is a mapping with exactly one key (the job name), not %d keys", len(kvs))
		return
	}
	jobName := kvs[0].key
	okey := joinKey(key, jobName)
	base := &invocationDef{node: n, path: key, optKey: okey, jobName: jobName, name: jobName, source: index}
	if isNull(kvs[0].v) {
		w.jobs = append(w.jobs, base)
		return
	}
	opts, ok := p.mapping(kvs[0].v, okey)
	if !ok {
		return
	}
	var matrix *yaml.Node
	rest := make([]pair, 0, len(opts))
	for _, kv := range opts {
		if kv.key == "matrix" && c.v21 {
			matrix = kv.v
			continue
		}
		rest = append(rest, kv)
	}
	if matrix == nil {
		v := c.pipeVars(p)
		if !c.v21 {
			v = nil
		}
		c.parseInvocation(base, c.substPairs(rest, v, okey), nil)
		w.jobs = append(w.jobs, base)
		return
	}
	m := c.parseMatrix(matrix, joinKey(okey, "matrix"))
	if m == nil {
		return
	}
	alias := m.alias
	if alias == "" {
		alias = jobName
	}
	for _, combo := range m.combos {
		inv := &invocationDef{node: n, path: key, optKey: okey, jobName: jobName, source: index, alias: alias, matrix: combo}
		v := &vars{errs: p.errs, pipe: c.pipe, matrix: combo.values}
		c.parseInvocation(inv, c.substPairs(rest, v, okey), combo)
		if inv.name == "" {
			inv.name = jobName + "-" + strings.Join(combo.texts, "-")
		}
		w.jobs = append(w.jobs, inv)
	}
}

// substPairs substitutes the values of an invocation's entries (v nil:
// version 2.0, no templates).
func (c *compiler) substPairs(kvs []pair, v *vars, key string) []pair {
	if v == nil {
		return kvs
	}
	out := make([]pair, len(kvs))
	for i, kv := range kvs {
		out[i] = pair{kv.key, kv.k, c.subst(kv.v, v, &keyPath{name: joinKey(key, kv.key)})}
	}
	return out
}

// parseInvocation reads an invocation's options; the other keys are the
// job's arguments (2.1). A matrix instance gets its combination's values as
// arguments too, and is named by its `name` only if it has one.
func (c *compiler) parseInvocation(inv *invocationDef, opts []pair, combo *matrixCombo) {
	p := c.parser
	if combo != nil {
		inv.name = ""
	}
	for _, kv := range opts {
		fkey := joinKey(inv.optKey, kv.key)
		switch kv.key {
		case "requires":
			inv.requires = p.parseRequires(kv.v, fkey)
		case "name":
			if s, ok := p.str(kv.v, fkey); ok {
				inv.name = s
			}
		case "context":
			inv.contexts, _ = p.strings(kv.v, fkey)
			inv.contextNode = kv.v
		case "type":
			if s, ok := p.str(kv.v, fkey); ok {
				if s != JobTypeApproval {
					p.at(kv.v, fkey, "unsupported job type %q (only approval)", s)
				}
				inv.typ = s
			}
		case "filters":
			inv.filtersNode = kv.v
			if r := resolve(kv.v); c.v21 && r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" {
				if ok, good := c.exprCondition(r.Value, c.pipeVars(p), kv.v, fkey); good {
					inv.filters.expr = &ok
				}
				continue
			}
			inv.filters = p.parseFilters(kv.v, fkey)
		case "pre-steps", "post-steps", "serial-group":
			if !c.v21 && kv.key != "serial-group" {
				p.at(kv.k, fkey, "unknown key %q (allowed: %s)", kv.key, joinAllowed(invocationKeys20))
				continue
			}
			switch kv.key {
			case "pre-steps":
				if _, ok := p.sequence(kv.v, fkey); ok {
					inv.preSteps = kv.v
				}
			case "post-steps":
				if _, ok := p.sequence(kv.v, fkey); ok {
					inv.postSteps = kv.v
				}
			case "serial-group":
				inv.serialGroup, _ = p.str(kv.v, fkey)
			}
		case "override-with":
			if _, ok := p.str(kv.v, fkey); ok {
				p.warn(kv.k, fkey, "is not applied: Orbit runs the job this entry names")
			}
		default:
			if !c.v21 {
				p.at(kv.k, fkey, "unknown key %q (allowed: %s)", kv.key, joinAllowed(invocationKeys20))
				continue
			}
			if combo != nil && combo.values[kv.key] != nil {
				p.at(kv.k, fkey, "argument %q is also a matrix parameter; give it in one place", kv.key)
				continue
			}
			inv.args = append(inv.args, kv)
		}
	}
	if combo != nil {
		inv.args = append(inv.args, combo.args...)
	}
	if inv.name == "" && combo == nil {
		inv.name = inv.jobName
	}
}

// resolveAliases rewrites requirements that name a matrix's alias (by
// default its job's name) into one requirement per job of the matrix. A
// name written twice is an error; repeats the rewriting makes are dropped.
func (c *compiler) resolveAliases(w *workflowDef) {
	names := map[string]bool{}
	aliases := map[string][]string{}
	for _, inv := range w.jobs {
		names[inv.name] = true
		if inv.alias != "" {
			aliases[inv.alias] = append(aliases[inv.alias], inv.name)
		}
	}
	for _, inv := range w.jobs {
		if len(inv.requires) == 0 {
			continue
		}
		out := make([]requirementDef, 0, len(inv.requires))
		written, seen := map[string]bool{}, map[string]bool{}
		for _, r := range inv.requires {
			if written[r.Name] {
				c.parser.at(r.node, inv.path, "job %q requires %q more than once", inv.name, r.Name)
				continue
			}
			written[r.Name] = true
			targets := []string{r.Name}
			if !names[r.Name] && len(aliases[r.Name]) > 0 {
				targets = aliases[r.Name]
			}
			for _, t := range targets {
				if seen[t] {
					continue
				}
				seen[t] = true
				out = append(out, requirementDef{Requirement{Name: t, Statuses: slices.Clone(r.Statuses)}, r.node})
			}
		}
		inv.requires = out
	}
}

// parseTriggers parses a workflow's `triggers` (schedules).
func (c *compiler) parseTriggers(n *yaml.Node, key string) []trigger {
	p := c.parser
	items, ok := p.sequence(n, key)
	if !ok {
		return nil
	}
	var out []trigger
	for i, item := range items {
		ikey := indexKey(key, i)
		kvs, ok := p.mapping(item, ikey)
		if !ok {
			continue
		}
		p.checkKeys(kvs, ikey, "schedule")
		for _, kv := range kvs {
			skey := joinKey(ikey, kv.key)
			fields, ok := p.mapping(kv.v, skey)
			if !ok {
				continue
			}
			p.checkKeys(fields, skey, "cron", "filters")
			t := trigger{node: kv.v}
			for _, f := range fields {
				fkey := joinKey(skey, f.key)
				switch f.key {
				case "cron":
					if s, ok := p.str(f.v, fkey); ok && checkCron(s) {
						t.cron = s
					} else if ok {
						p.at(f.v, fkey, "invalid cron schedule %q: give five fields (minute hour day-of-month month day-of-week)", s)
					}
				case "filters":
					t.filters = p.parseFilters(f.v, fkey)
				}
			}
			if !hasKey(fields, "cron") {
				p.at(kv.v, joinKey(skey, "cron"), "is required")
			}
			if !hasKey(fields, "filters") {
				p.at(kv.v, joinKey(skey, "filters"), "is required (a schedule runs on the branches its filter names)")
			}
			out = append(out, t)
		}
	}
	return out
}

var cronFieldRE = regexp.MustCompile(`^[0-9A-Za-z*,/-]+$`)

func checkCron(s string) bool {
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return false
	}
	for _, f := range fields {
		if !cronFieldRE.MatchString(f) {
			return false
		}
	}
	return true
}

func (p *parser) parseRequires(n *yaml.Node, key string) []requirementDef {
	items, ok := p.sequence(n, key)
	if !ok {
		return nil
	}
	var out []requirementDef
	for i, item := range items {
		ikey := indexKey(key, i)
		r := resolve(item)
		if r.Kind == yaml.ScalarNode && r.ShortTag() != "!!null" {
			out = append(out, requirementDef{Requirement{Name: r.Value, Statuses: []string{StatusSuccess}}, item})
			continue
		}
		if r.Kind != yaml.MappingNode {
			p.at(item, ikey, "must be a job name or a mapping of a job name to statuses, not %s", describe(r))
			continue
		}
		for _, kv := range pairs(r) {
			skey := joinKey(ikey, kv.key)
			statuses, ok := p.strings(kv.v, skey)
			if !ok {
				continue
			}
			for _, s := range statuses {
				if !slices.Contains(requireStatuses, s) {
					p.at(kv.v, skey, "unknown status %q (allowed: %s)", s, joinAllowed(requireStatuses))
				}
			}
			out = append(out, requirementDef{Requirement{Name: kv.key, Statuses: statuses}, kv.k})
		}
	}
	return out
}

func (p *parser) parseFilters(n *yaml.Node, key string) filters {
	var f filters
	kvs, ok := p.mapping(n, key)
	if !ok {
		return f
	}
	p.checkKeys(kvs, key, "branches", "tags", "pull_requests")
	for _, kv := range kvs {
		switch kv.key {
		case "branches":
			f.branches = p.parsePatternFilter(kv.v, joinKey(key, kv.key))
		case "tags":
			f.tags = p.parsePatternFilter(kv.v, joinKey(key, kv.key))
		case "pull_requests":
			// Filters pipelines of pull requests (GitHub App triggers);
			// Orbit's pipelines are for pushes, so it is checked only.
			p.parsePatternFilter(kv.v, joinKey(key, kv.key))
		}
	}
	return f
}

// patternFilter is a branch or tag filter. A name passes if only is empty
// or matches it, and ignore does not match it.
type patternFilter struct {
	only, ignore []pattern
	// text holds the patterns as written.
	text PatternFilter
}

// pattern matches a name exactly, or, written /re/, by a regular
// expression that must match the whole name.
type pattern struct {
	literal string
	re      *regexp.Regexp
}

func (p pattern) match(s string) bool {
	if p.re != nil {
		return p.re.MatchString(s)
	}
	return p.literal == s
}

func (f *patternFilter) allows(name string) bool {
	matches := func(ps []pattern) bool {
		return slices.ContainsFunc(ps, func(p pattern) bool { return p.match(name) })
	}
	if len(f.only) > 0 && !matches(f.only) {
		return false
	}
	return !matches(f.ignore)
}

func (p *parser) parsePatternFilter(n *yaml.Node, key string) *patternFilter {
	f := &patternFilter{}
	kvs, ok := p.mapping(n, key)
	if !ok {
		return f
	}
	p.checkKeys(kvs, key, "only", "ignore")
	for _, kv := range kvs {
		fkey := joinKey(key, kv.key)
		list, ok := p.strings(kv.v, fkey)
		if !ok {
			continue
		}
		var pats []pattern
		for _, s := range list {
			pat := pattern{literal: s}
			if len(s) >= 2 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/") {
				inner := s[1 : len(s)-1]
				if _, err := regexp.Compile(inner); err != nil {
					p.at(kv.v, fkey, "invalid regular expression %s: %v", s, err)
					continue
				}
				re, err := regexp.Compile(`^(?:` + inner + `)$`)
				if err != nil {
					p.at(kv.v, fkey, "invalid regular expression %s: %v", s, err)
					continue
				}
				pat = pattern{re: re}
			}
			pats = append(pats, pat)
		}
		if kv.key == "only" {
			f.only, f.text.Only = pats, list
		} else {
			f.ignore, f.text.Ignore = pats, list
		}
	}
	return f
}
