package config

import (
	"math"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Logic statements decide workflow when/unless and when/unless steps. A
// statement is a value, judged by its truthiness (false, null, 0, NaN and
// the empty string are false; everything else, the string "false"
// included, is true), or a mapping of one operator:
//
//	and: [s, ...]   all true (no arguments: false)
//	or:  [s, ...]   any true
//	not: s          s false
//	equal: [v, ...] all values equal, types included (1 is not "1")
//	matches: {pattern: re, value: v}   re matches all of v's text
//
// Templates are substituted before a statement is judged, so
// `equal: [main, << pipeline.git.branch >>]` compares the branch.

var logicOps = []string{"and", "or", "not", "equal", "matches"}

// evalLogic judges a statement; ok is false after reporting an error.
func (c *compiler) evalLogic(p *parser, n *yaml.Node, key string) (result, ok bool) {
	r := resolve(n)
	switch r.Kind {
	case yaml.ScalarNode:
		return truthy(r), true
	case yaml.MappingNode:
	default:
		p.at(n, key, "a condition is a value or a logic statement (%s), not %s", joinAllowed(logicOps), describe(r))
		return false, false
	}
	kvs := pairs(r)
	if len(kvs) != 1 {
		p.at(n, key, "a logic statement is a mapping with one operator (%s), not %d keys", joinAllowed(logicOps), len(kvs))
		return false, false
	}
	op, arg := kvs[0].key, kvs[0].v
	okey := joinKey(key, op)
	switch op {
	case "and", "or":
		items, good := p.sequence(arg, okey)
		if !good {
			return false, false
		}
		if len(items) == 0 {
			return false, true
		}
		all, any := true, false
		ok = true
		for i, item := range items {
			v, good := c.evalLogic(p, item, indexKey(okey, i))
			ok = ok && good
			all, any = all && v, any || v
		}
		if op == "and" {
			return all, ok
		}
		return any, ok
	case "not":
		if ra := resolve(arg); ra.Kind == yaml.SequenceNode {
			p.at(arg, okey, "not takes one statement, not a list")
			return false, false
		}
		v, good := c.evalLogic(p, arg, okey)
		return !v, good
	case "equal":
		items, good := p.sequence(arg, okey)
		if !good {
			return false, false
		}
		if len(items) == 0 {
			return false, true
		}
		for _, item := range items[1:] {
			if !equalNodes(items[0], item) {
				return false, true
			}
		}
		return true, true
	case "matches":
		return c.evalMatches(p, arg, okey)
	}
	p.at(kvs[0].k, okey, "unknown logic operator %q (allowed: %s)", op, joinAllowed(logicOps))
	return false, false
}

func (c *compiler) evalMatches(p *parser, arg *yaml.Node, key string) (bool, bool) {
	kvs, ok := p.mapping(arg, key)
	if !ok {
		return false, false
	}
	p.checkKeys(kvs, key, "pattern", "value")
	var pattern, value *yaml.Node
	for _, kv := range kvs {
		switch kv.key {
		case "pattern":
			pattern = kv.v
		case "value":
			value = kv.v
		}
	}
	if pattern == nil || value == nil {
		p.at(arg, key, "matches needs a pattern and a value")
		return false, false
	}
	pat, ok := p.str(pattern, joinKey(key, "pattern"))
	if !ok {
		return false, false
	}
	re, err := c.regexp(pat)
	if err != nil {
		p.at(pattern, joinKey(key, "pattern"), "invalid regular expression %q: %v", pat, err)
		return false, false
	}
	text, ok := scalarText(value)
	if !ok {
		p.at(value, joinKey(key, "value"), "must be a value, not %s", describe(value))
		return false, false
	}
	return re.MatchString(text), true
}

// regexp compiles a pattern that must match a whole string, cached for the
// compilation (a matrix repeats the same conditions).
func (c *compiler) regexp(pat string) (*regexp.Regexp, error) {
	if re, ok := c.regexps[pat]; ok {
		return re, nil
	}
	if _, err := regexp.Compile(pat); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(`^(?:` + pat + `)$`)
	if err != nil {
		return nil, err
	}
	c.regexps[pat] = re
	return re, nil
}

// truthy is CircleCI's truthiness of a value.
func truthy(n *yaml.Node) bool {
	switch n.ShortTag() {
	case "!!null":
		return false
	case "!!bool":
		b, err := strconv.ParseBool(n.Value)
		return err != nil || b
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 64)
		return err != nil || i != 0
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f != 0 && !math.IsNaN(f)
		}
		return true
	}
	return n.Value != ""
}

// equalNodes compares two values by type and content.
func equalNodes(a, b *yaml.Node) bool {
	a, b = resolve(a), resolve(b)
	if a == nil || b == nil || a.Kind != b.Kind {
		return a == b
	}
	switch a.Kind {
	case yaml.ScalarNode:
		ta, tb := a.ShortTag(), b.ShortTag()
		num := func(t string) bool { return t == "!!int" || t == "!!float" }
		switch {
		case num(ta) && num(tb):
			var fa, fb float64
			return a.Decode(&fa) == nil && b.Decode(&fb) == nil && fa == fb
		case ta != tb:
			return false
		case ta == "!!bool":
			return truthy(a) == truthy(b)
		case ta == "!!null":
			return true
		}
		return a.Value == b.Value
	case yaml.SequenceNode:
		if len(a.Content) != len(b.Content) {
			return false
		}
		for i := range a.Content {
			if !equalNodes(a.Content[i], b.Content[i]) {
				return false
			}
		}
		return true
	case yaml.MappingNode:
		pa, pb := pairs(a), pairs(b)
		if len(pa) != len(pb) {
			return false
		}
		idx := make(map[string]*yaml.Node, len(pb))
		for _, kv := range pb {
			idx[kv.key] = kv.v
		}
		for _, kv := range pa {
			v, ok := idx[kv.key]
			if !ok || !equalNodes(kv.v, v) {
				return false
			}
		}
		return true
	}
	return false
}
