package config

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Keys of a workflow job invocation.
var (
	invocationKeys = []string{"requires", "name", "context", "type", "filters"}
	// invocationLater are 2.1 keys the next change compiles.
	invocationLater = []string{"matrix", "pre-steps", "post-steps", "serial-group", "override-with"}
	// requireStatuses are the statuses a `requires` entry may wait for.
	requireStatuses = []string{StatusSuccess, StatusFailed, StatusCanceled, StatusNotRun, StatusUnauthorized, StatusTerminal}
)

func (p *parser) parseWorkflows(c *config, n *yaml.Node) {
	kvs, _ := p.mapping(n, "workflows")
	for _, kv := range kvs {
		if kv.key == "version" {
			continue // `workflows: version: 2` of 2.0 configs; meaningless
		}
		w := &workflowDef{name: kv.key, node: kv.v, path: joinKey("workflows", kv.key)}
		p.parseWorkflow(w)
		c.workflows = append(c.workflows, w)
	}
}

func (p *parser) parseWorkflow(w *workflowDef) {
	kvs, ok := p.mapping(w.node, w.path)
	if !ok {
		return
	}
	p.checkKeys(kvs, w.path, "jobs", "triggers", "when", "unless")
	var jobs *yaml.Node
	for _, kv := range kvs {
		key := joinKey(w.path, kv.key)
		switch kv.key {
		case "jobs":
			jobs = kv.v
		case "triggers":
			if _, ok := p.sequence(kv.v, key); ok {
				w.triggers = kv.v
			}
		case "when", "unless":
			p.at(kv.v, key, "workflow conditions (when/unless) are not supported yet")
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
		if inv := p.parseInvocation(item, indexKey(key, i)); inv != nil {
			w.jobs = append(w.jobs, inv)
		}
	}
}

// parseInvocation parses `- job` or `- job: {requires: …, …}`.
func (p *parser) parseInvocation(n *yaml.Node, key string) *invocationDef {
	r := resolve(n)
	inv := &invocationDef{node: n, path: key}
	switch {
	case r.Kind == yaml.ScalarNode && r.ShortTag() != "!!null":
		inv.jobName = r.Value
		inv.name = r.Value
		return inv
	case r.Kind != yaml.MappingNode:
		p.at(n, key, "a workflow job is a job name or a mapping of a job name to its options, not %s", describe(r))
		return nil
	}
	kvs := pairs(r)
	if len(kvs) != 1 {
		p.at(n, key, "a workflow job is a mapping with exactly one key (the job name), not %d keys", len(kvs))
		return nil
	}
	inv.jobName, inv.name = kvs[0].key, kvs[0].key
	if isNull(kvs[0].v) {
		return inv
	}
	okey := joinKey(key, inv.jobName)
	opts, ok := p.mapping(kvs[0].v, okey)
	if !ok {
		return inv
	}
	for _, kv := range opts {
		fkey := joinKey(okey, kv.key)
		switch kv.key {
		case "requires":
			inv.requires = p.parseRequires(kv.v, fkey)
		case "name":
			if s, ok := p.str(kv.v, fkey); ok {
				inv.name = s
			}
		case "context":
			inv.contexts, _ = p.strings(kv.v, fkey)
		case "type":
			if s, ok := p.str(kv.v, fkey); ok {
				if s != JobTypeApproval {
					p.at(kv.v, fkey, "unsupported job type %q (only approval)", s)
				}
				inv.typ = s
			}
		case "filters":
			inv.filters = p.parseFilters(kv.v, fkey)
		default:
			switch {
			case slices.Contains(invocationLater, kv.key):
				p.at(kv.k, fkey, "%s is not supported yet", kv.key)
			case p.v21:
				p.at(kv.k, fkey, "argument %q: job parameters are not supported yet", kv.key)
			default:
				p.at(kv.k, fkey, "unknown key %q (allowed: %s)", kv.key, joinAllowed(invocationKeys))
			}
		}
	}
	return inv
}

// parseRequires parses a list of names or, in the 2.1 form, of mappings from
// names to a status or a list of statuses.
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
	p.checkKeys(kvs, key, "branches", "tags")
	for _, kv := range kvs {
		switch kv.key {
		case "branches":
			f.branches = p.parsePatternFilter(kv.v, joinKey(key, kv.key))
		case "tags":
			f.tags = p.parsePatternFilter(kv.v, joinKey(key, kv.key))
		}
	}
	return f
}

// patternFilter is a branch or tag filter. A name passes if only is empty
// or matches it, and ignore does not match it.
type patternFilter struct {
	only, ignore []pattern
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
			f.only = pats
		} else {
			f.ignore = pats
		}
	}
	return f
}
