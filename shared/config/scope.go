package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Reusable config lives in scopes: the config itself is one, and each orb
// it imports (inline or from the registry) is another, with its own
// commands, executors, jobs and imported orbs. A body resolves a plain name
// ("greet") in its own scope and "orb/name" in an orb its scope imports, so
// an orb's job calls the orb's own commands by their short names, as on
// CircleCI.
//
//	config scope ──orbs──▶ node (registry: circleci/node@5.0.2, its own file)
//	   │                     └─orbs──▶ ...
//	   └─orbs──▶ tools (inline, same file, keys under orbs.tools)

// Definition kinds.
const (
	kindCommand  = "command"
	kindExecutor = "executor"
	kindJob      = "job"
)

// maxOrbDepth bounds orbs importing orbs.
const maxOrbDepth = 8

// scope is the config or one orb.
type scope struct {
	// name is the orb's name in its importer ("" for the config); ref its
	// registry reference ("" for the config and inline orbs).
	name, ref string
	// p reports into the scope's file.
	p *parser
	// defs are the commands, executors and jobs by kind and name.
	defs map[string]map[string]*definition
	// jobOrder lists the jobs in file order.
	jobOrder []*definition
	// orbs are the orbs this scope imports.
	orbs map[string]*scope
	// broken marks an orb that could not be loaded; its import reported
	// why, so references into it are dropped silently.
	broken bool
}

// definition is one command, executor or job.
type definition struct {
	kind, name string
	// node is the body mapping and path its key ("jobs.build",
	// "orbs.tools.commands.greet").
	node *yaml.Node
	path string
	// scope is where the body's names resolve.
	scope  *scope
	params *paramSet
	// body is the definition's entries other than parameters and
	// description, in order.
	body []pair
}

// title names the definition in messages: `job "build"`, `command "node/install"`.
func (d *definition) title() string {
	name := d.name
	if d.scope.name != "" {
		name = d.scope.name + "/" + name
	}
	return fmt.Sprintf("%s %q", d.kind, name)
}

// lookup finds the definition a body in s means by ref. broken is true when
// ref points into an orb that failed to load (already reported); otherwise
// a nil definition comes with the reason.
func (s *scope) lookup(kind, ref string) (d *definition, broken bool, why string) {
	if d := s.defs[kind][ref]; d != nil {
		return d, false, "" // (a 2.0 name may contain /: processed configs name orb jobs so)
	}
	if orb, name, ok := strings.Cut(ref, "/"); ok {
		o := s.orbs[orb]
		switch {
		case o == nil:
			return nil, false, fmt.Sprintf("%s %q: no orb %q is imported under orbs", kind, ref, orb)
		case o.broken:
			return nil, true, ""
		}
		if d := o.defs[kind][name]; d != nil {
			return d, false, ""
		}
		what := o.ref
		if what == "" {
			what = "inline orb"
		}
		return nil, false, fmt.Sprintf("orb %q (%s) has no %s %q", orb, what, kind, name)
	}
	return nil, false, ""
}

func newScope(name string, p *parser) *scope {
	return &scope{name: name, p: p, orbs: map[string]*scope{},
		defs: map[string]map[string]*definition{kindCommand: {}, kindExecutor: {}, kindJob: {}}}
}

// orbKeys are the keys an orb's body may have.
var orbKeys = []string{"version", "description", "display", "orbs", "commands", "executors", "jobs", "examples"}

// parseOrbBody fills s from an orb's mapping; prefix is the mapping's key
// ("orbs.tools" inline, "" for a registry orb's own file). resolveOrbs is
// false when only checking an orb's source.
func (c *compiler) parseOrbBody(s *scope, n *yaml.Node, prefix string, depth int, resolveOrbs bool) {
	p := s.p
	kvs, ok := p.mapping(n, prefix)
	if !ok {
		return
	}
	p.checkKeys(kvs, prefix, orbKeys...)
	for _, kv := range kvs {
		key := joinKey(prefix, kv.key)
		switch kv.key {
		case "orbs":
			if resolveOrbs {
				c.loadOrbs(s, kv.v, key, depth+1)
			} else {
				p.mapping(kv.v, key)
			}
		case "commands":
			c.parseDefs(s, kindCommand, kv.v, key)
		case "executors":
			c.parseDefs(s, kindExecutor, kv.v, key)
		case "jobs":
			c.parseDefs(s, kindJob, kv.v, key)
		case "description", "display", "examples", "version":
			// Documentation and the orb's own version: no meaning here.
		}
	}
}

// Keys of commands and executors (jobs are checked when expanded).
var (
	commandKeys  = []string{"steps", "parameters", "description"}
	executorKeys = []string{"docker", "machine", "macos", "resource_class", "shell", "working_directory", "environment", "parameters", "description"}
)

// parseDefs parses one of the commands, executors or jobs sections.
func (c *compiler) parseDefs(s *scope, kind string, n *yaml.Node, key string) {
	p := s.p
	kvs, ok := p.mapping(n, key)
	if !ok {
		return
	}
	for _, kv := range kvs {
		d := &definition{kind: kind, name: kv.key, node: resolve(kv.v), path: joinKey(key, kv.key), scope: s}
		if strings.Contains(kv.key, "/") && c.v21 {
			p.at(kv.k, d.path, "%s names cannot contain /: it separates an orb from its %ss", kind, kind)
			continue
		}
		body, ok := p.mapping(kv.v, d.path)
		if !ok {
			continue
		}
		switch kind {
		case kindCommand:
			p.checkKeys(body, d.path, commandKeys...)
			if !hasKey(body, "steps") {
				p.at(kv.v, joinKey(d.path, "steps"), "is required")
			}
		case kindExecutor:
			p.checkKeys(body, d.path, executorKeys...)
		}
		d.params = &paramSet{byName: map[string]*paramDecl{}}
		for _, f := range body {
			switch f.key {
			case "parameters":
				if !c.v21 {
					p.at(f.k, joinKey(d.path, f.key), "parameters need version 2.1")
					continue
				}
				d.params = c.parseParams(p, f.v, joinKey(d.path, f.key), paramTypes)
			case "description":
			default:
				d.body = append(d.body, f)
			}
		}
		s.defs[kind][d.name] = d
		if kind == kindJob {
			s.jobOrder = append(s.jobOrder, d)
		}
	}
}

// loadOrbs resolves an `orbs` section into s.orbs: inline orbs from their
// mapping, registry orbs (namespace/name@version) from the registry.
func (c *compiler) loadOrbs(s *scope, n *yaml.Node, key string, depth int) {
	p := s.p
	kvs, ok := p.mapping(n, key)
	if !ok {
		return
	}
	for _, kv := range kvs {
		okey := joinKey(key, kv.key)
		if strings.Contains(kv.key, "/") {
			p.at(kv.k, okey, "orb names cannot contain /")
			continue
		}
		if depth > maxOrbDepth {
			p.at(kv.k, okey, "orbs import orbs more than %d levels deep", maxOrbDepth)
			s.orbs[kv.key] = &scope{name: kv.key, broken: true}
			continue
		}
		r := resolve(kv.v)
		switch {
		case r.Kind == yaml.MappingNode:
			o := newScope(kv.key, p)
			s.orbs[kv.key] = o
			c.parseOrbBody(o, kv.v, okey, depth, true)
		case r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str":
			s.orbs[kv.key] = c.loadRegistryOrb(p, kv.key, kv.v, okey, depth)
		default:
			p.at(kv.v, okey, "an orb is namespace/name@version or an inline orb mapping, not %s", describe(r))
			s.orbs[kv.key] = &scope{name: kv.key, broken: true}
		}
	}
}

// loadRegistryOrb loads namespace/name@version from the registry. An orb
// the registry lacks is an error that says how to import it.
func (c *compiler) loadRegistryOrb(p *parser, name string, n *yaml.Node, key string, depth int) *scope {
	broken := &scope{name: name, broken: true}
	text := resolve(n).Value
	if c.v21 {
		text = scalarString(resolve(c.subst(n, &vars{errs: p.errs, pipe: c.pipe}, &keyPath{name: key})))
	}
	if IsURLOrb(text) {
		return c.loadURLOrb(p, name, n, key, text, depth)
	}
	ref, err := ParseOrbRef(text)
	if err != nil {
		p.at(n, key, "%v", err)
		return broken
	}
	if slices.Contains(c.orbStack, ref.String()) {
		p.at(n, key, "orb %s imports itself: %s -> %s", ref, strings.Join(c.orbStack, " -> "), ref)
		return broken
	}
	src, file, err := c.registry.Orb(ref)
	if err != nil {
		if errors.Is(err, ErrOrbNotFound) {
			where := ""
			if s, ok := c.registry.(fmt.Stringer); ok {
				where = " (" + s.String() + ")"
			}
			p.at(n, key, "orb %s is not in the local orb registry%s: import its source with `orbit orb import %s <file>`", ref, where, ref)
		} else {
			p.at(n, key, "orb %s: %v", ref, err)
		}
		return broken
	}
	return c.parseOrbSource(p, name, n, key, ref.String(), file, src, depth)
}

// loadURLOrb loads an orb imported by URL through Options.URLOrbs.
func (c *compiler) loadURLOrb(p *parser, name string, n *yaml.Node, key, url string, depth int) *scope {
	broken := &scope{name: name, broken: true}
	if slices.Contains(c.orbStack, url) {
		p.at(n, key, "orb %s imports itself: %s -> %s", url, strings.Join(c.orbStack, " -> "), url)
		return broken
	}
	if c.opts.URLOrbs == nil {
		p.at(n, key, "URL orbs are not enabled here: import the orb's source with `orbit orb import namespace/name@version <file>` and refer to it by that name")
		return broken
	}
	if cached, ok := c.orbCache[url]; ok {
		o := *cached
		o.name = name
		return &o
	}
	src, err := c.opts.URLOrbs.FetchOrb(url)
	if err != nil {
		p.at(n, key, "orb %s: %v", url, err)
		return broken
	}
	return c.parseOrbSource(p, name, n, key, url, url, src, depth)
}

// parseOrbSource parses an imported orb's source (file names it in errors
// and keys the cache) as the scope name.
func (c *compiler) parseOrbSource(p *parser, name string, n *yaml.Node, key, ref, file string, src []byte, depth int) *scope {
	if cached, ok := c.orbCache[file]; ok {
		o := *cached
		o.name = name
		return &o
	}
	op := &parser{errs: p.errs.in(file), v21: true}
	root := parseDocument(src, op.errs)
	if root == nil {
		p.at(n, key, "orb %s could not be read (see the errors in %s)", ref, file)
		return &scope{name: name, broken: true}
	}
	o := newScope(name, op)
	o.ref = ref
	c.orbStack = append(c.orbStack, ref)
	c.parseOrbBody(o, root, "", depth, true)
	c.orbStack = c.orbStack[:len(c.orbStack)-1]
	c.orbCache[file] = o
	return o
}
