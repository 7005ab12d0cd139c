package config

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parameter types of jobs, commands and executors.
var paramTypes = []string{"string", "boolean", "integer", "enum", "executor", "steps", "env_var_name"}

var (
	paramNameRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	envVarNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	yaml11Bools   = map[string]bool{"true": true, "yes": true, "on": true, "y": true, "false": false, "no": false, "off": false, "n": false}
	paramDeclKeys = []string{"type", "default", "description", "enum"}
)

// paramDecl is one declared parameter.
type paramDecl struct {
	name string
	typ  string
	// def is the checked default; nil when the parameter is required.
	def  *yaml.Node
	enum []string
	// node is the declaration and path its key.
	node *yaml.Node
	path string
}

// paramSet is a definition's `parameters`, in declaration order.
type paramSet struct {
	list   []*paramDecl
	byName map[string]*paramDecl
}

func (s *paramSet) names() string {
	if s == nil || len(s.list) == 0 {
		return "none"
	}
	names := make([]string, len(s.list))
	for i, d := range s.list {
		names[i] = d.name
	}
	return strings.Join(names, ", ")
}

// parseParams parses a `parameters` mapping; types limits the types allowed.
func (c *compiler) parseParams(p *parser, n *yaml.Node, key string, types []string) *paramSet {
	set := &paramSet{byName: map[string]*paramDecl{}}
	if isNull(n) {
		return set
	}
	kvs, ok := p.mapping(n, key)
	if !ok {
		return set
	}
	for _, kv := range kvs {
		pkey := joinKey(key, kv.key)
		if !paramNameRE.MatchString(kv.key) {
			p.at(kv.k, pkey, "invalid parameter name %q: use letters, digits, - and _, starting with a letter", kv.key)
			continue
		}
		d := &paramDecl{name: kv.key, node: kv.v, path: pkey}
		fields, ok := p.mapping(kv.v, pkey)
		if !ok {
			continue
		}
		p.checkKeys(fields, pkey, paramDeclKeys...)
		var def *yaml.Node
		hasDefault := false
		for _, f := range fields {
			fkey := joinKey(pkey, f.key)
			switch f.key {
			case "type":
				if t, ok := p.str(f.v, fkey); ok {
					if !slices.Contains(types, t) {
						p.at(f.v, fkey, "unknown parameter type %q (allowed: %s)", t, joinAllowed(types))
					} else {
						d.typ = t
					}
				}
			case "default":
				def, hasDefault = f.v, true
			case "enum":
				d.enum, _ = p.strings(f.v, fkey)
			case "description":
				p.str(f.v, fkey)
			}
		}
		if !hasKey(fields, "type") {
			p.at(kv.v, joinKey(pkey, "type"), "is required (one of %s)", joinAllowed(types))
		}
		if d.typ == "" {
			continue
		}
		if d.typ == "enum" && len(d.enum) == 0 {
			p.at(kv.v, joinKey(pkey, "enum"), "an enum parameter needs a non-empty enum list")
			continue
		}
		if hasDefault {
			if c.v21 {
				// A default may use pipeline values and parameters.
				def = c.subst(def, &vars{errs: p.errs, pipe: c.pipe}, &keyPath{name: joinKey(pkey, "default")})
			}
			if v, ok := c.checkValue(p, d, def, joinKey(pkey, "default")); ok {
				d.def = v
			} else {
				continue
			}
		}
		set.list = append(set.list, d)
		set.byName[d.name] = d
	}
	return set
}

// checkValue checks a parameter value against its declaration and returns
// it normalized: YAML 1.1 booleans such as `yes` become booleans, a null
// string the empty string and null steps an empty list.
func (c *compiler) checkValue(p *parser, d *paramDecl, v *yaml.Node, key string) (*yaml.Node, bool) {
	r := resolve(v)
	bad := func(want string) (*yaml.Node, bool) {
		p.at(v, key, "parameter %q is of type %s: the value must be %s, not %s", d.name, d.typ, want, describe(r))
		return nil, false
	}
	scalar := r != nil && r.Kind == yaml.ScalarNode
	switch d.typ {
	case "string":
		if isNull(r) {
			return strNode(""), true
		}
		if !scalar {
			return bad("a string")
		}
	case "boolean":
		if !scalar {
			return bad("true or false")
		}
		if r.ShortTag() == "!!bool" {
			return r, true
		}
		b, ok := yaml11Bools[strings.ToLower(r.Value)]
		if !ok || r.ShortTag() != "!!str" {
			return bad("true or false")
		}
		n := valueNode(b)
		n.Line, n.Column = r.Line, r.Column
		return n, true
	case "integer":
		if !scalar || r.ShortTag() != "!!int" {
			return bad("an integer")
		}
	case "enum":
		if !scalar || isNull(r) {
			return bad("one of " + strings.Join(d.enum, ", "))
		}
		if s := scalarString(r); !slices.Contains(d.enum, s) {
			p.at(v, key, "parameter %q: %q is not one of its values (%s)", d.name, s, strings.Join(d.enum, ", "))
			return nil, false
		}
	case "env_var_name":
		if !scalar || isNull(r) || !envVarNameRE.MatchString(r.Value) {
			if scalar && !isNull(r) {
				p.at(v, key, "parameter %q is of type env_var_name: %q is not an environment variable name (letters, digits and _, not starting with a digit)", d.name, r.Value)
				return nil, false
			}
			return bad("an environment variable name")
		}
	case "executor":
		switch {
		case scalar && !isNull(r):
		case r != nil && r.Kind == yaml.MappingNode:
			if !hasKey(pairs(r), "name") {
				p.at(v, joinKey(key, "name"), "parameter %q is of type executor: a mapping value needs the executor's name", d.name)
				return nil, false
			}
		default:
			return bad("an executor name or a mapping with a name")
		}
	case "steps":
		if isNull(r) {
			return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: v.Line, Column: v.Column}, true
		}
		if r.Kind != yaml.SequenceNode {
			return bad("a list of steps")
		}
	}
	return r, true
}

// bindArgs checks a call's arguments against the callee's parameters and
// returns every parameter's value (given or default). at locates the call.
// Arguments of type steps or executor are written in the caller's scope,
// and remembered as such so names in them resolve there.
func (c *compiler) bindArgs(p *parser, callee *definition, args []pair, at *yaml.Node, key string, caller *scope) (map[string]*yaml.Node, bool) {
	set := callee.params
	values := make(map[string]*yaml.Node, len(set.list))
	ok := true
	for _, a := range args {
		akey := joinKey(key, a.key)
		d := set.byName[a.key]
		if d == nil {
			p.at(a.k, akey, "unexpected argument %q: %s has no such parameter (parameters: %s)", a.key, callee.title(), set.names())
			ok = false
			continue
		}
		v, good := c.checkValue(p, d, a.v, akey)
		if !good {
			ok = false
			continue
		}
		if _, known := c.owner[v]; !known && (d.typ == "steps" || d.typ == "executor") {
			c.owner[v] = caller // kept when passed on: it was written there
		}
		values[a.key] = v
	}
	for _, d := range set.list {
		if _, given := values[d.name]; given {
			continue
		}
		if hasKey(args, d.name) {
			continue // reported above
		}
		if d.def == nil {
			p.at(at, key, "missing argument %q: %s requires it (type %s, no default)", d.name, callee.title(), d.typ)
			ok = false
			continue
		}
		values[d.name] = d.def
	}
	return values, ok
}
