package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxExpandedNodes bounds the number of YAML nodes in the document once
// every alias is expanded. Real configs stay far below (the largest of the
// reference corpus expands to a few tens of thousands); a "billion laughs"
// document blows past it after a few levels and is refused before anything
// walks it.
const maxExpandedNodes = 1 << 20

// parseDocument is the parse layer's entry point: it decodes the first YAML
// document of src into a node tree and checks what the later layers rely on
// (the root is a mapping, aliases are acyclic and expand to a bounded size,
// no mapping repeats a key, merge keys merge mappings). It returns the root
// mapping, or nil after recording errors in e.
func parseDocument(src []byte, e *errs) *yaml.Node {
	doc, err := decodeYAML(src)
	if err != nil {
		line, msg := yamlErrorLine(err)
		e.add(&Error{File: e.file, Line: line, Msg: msg})
		return nil
	}
	if doc == nil || len(doc.Content) == 0 {
		e.at(nil, "", "config is empty")
		return nil
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		e.at(root, "", "config is empty")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		e.at(root, "", "config must be a mapping, not %s", describe(root))
		return nil
	}
	c := checker{errs: e, size: map[*yaml.Node]int{}}
	before := e.count()
	if n := c.walk(root, &keyPath{}); n > maxExpandedNodes {
		e.at(root, "", "document expands to more than %d YAML nodes through aliases; refusing it", maxExpandedNodes)
	}
	if e.count() > before {
		return nil
	}
	return root
}

// decodeYAML decodes the first document. yaml.v3 panics on a few malformed
// inputs; those become errors too.
func decodeYAML(src []byte) (doc *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	var n yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(src)).Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	return &n, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlErrorLine splits yaml.v3's "yaml: line N: msg" into N and the message
// (kept with its "yaml: " prefix so the reader knows it is a syntax error).
func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, "yaml: " + m[2]
	}
	return 0, msg
}

// checker walks a document once, following aliases, with the size of every
// node memoized: the walk is linear in the source even when the expansion
// is exponential.
type checker struct {
	*errs
	// size is each finished node's expanded size; -1 while it is being
	// walked (meeting it again then is a cycle).
	size map[*yaml.Node]int
}

// walk returns n's expanded node count, saturated just above the limit.
// key is built only for an error.
func (c *checker) walk(n *yaml.Node, key *keyPath) int {
	if n == nil {
		return 0
	}
	if s, ok := c.size[n]; ok {
		return max(s, 0) // a cycle (-1) was reported at its alias
	}
	c.size[n] = -1
	total := 1
	add := func(s int) {
		total += s
		if total > maxExpandedNodes {
			total = maxExpandedNodes + 1
		}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if s, seen := c.size[n.Alias]; seen && s < 0 {
			c.at(n, key.String(), "alias *%s refers to a value that contains it", n.Value)
			break
		}
		total = c.walk(n.Alias, key)
	case yaml.SequenceNode, yaml.DocumentNode:
		for i, item := range n.Content {
			child := keyPath{parent: key, index: i, isIndex: true}
			if n.Kind == yaml.DocumentNode {
				child = *key
			}
			add(c.walk(item, &child))
		}
	case yaml.MappingNode:
		var seen map[string]*yaml.Node // for large mappings; small ones scan
		if len(n.Content) > 32 {
			seen = make(map[string]*yaml.Node, len(n.Content)/2)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if isMerge(k) {
				add(c.walk(v, key))
				c.checkMerge(v, key)
				continue
			}
			add(c.walk(k, key))
			rk := resolve(k)
			if rk == nil || rk.Kind != yaml.ScalarNode {
				c.at(k, key.String(), "mapping keys must be scalars, not %s", describe(rk))
				continue
			}
			child := keyPath{parent: key, name: rk.Value}
			if prev := earlierKey(n, i, rk.Value, seen); prev != nil {
				c.at(k, child.String(), "key %q is already defined at line %d", rk.Value, prev.Line)
			} else if seen != nil {
				seen[rk.Value] = k
			}
			add(c.walk(v, &child))
		}
	}
	c.size[n] = total
	return total
}

// earlierKey finds the key before index i of mapping n that is also name:
// in seen for a large mapping, by a scan for a small one.
func earlierKey(n *yaml.Node, i int, name string, seen map[string]*yaml.Node) *yaml.Node {
	if seen != nil {
		return seen[name]
	}
	for j := 0; j < i; j += 2 {
		k := resolve(n.Content[j])
		if k != nil && k.Kind == yaml.ScalarNode && !isMerge(n.Content[j]) && k.Value == name {
			return k
		}
	}
	return nil
}

// checkMerge checks a merge key's value: a mapping or a list of mappings.
func (c *checker) checkMerge(v *yaml.Node, kp *keyPath) {
	key := kp.String()
	r := resolve(v)
	if r == nil {
		return
	}
	switch r.Kind {
	case yaml.MappingNode:
		return
	case yaml.SequenceNode:
		for _, item := range r.Content {
			if ri := resolve(item); ri == nil || ri.Kind != yaml.MappingNode {
				c.at(item, key, "merge key (<<) list items must be mappings, not %s", describe(ri))
			}
		}
	default:
		c.at(v, key, "merge key (<<) value must be a mapping or a list of mappings, not %s", describe(r))
	}
}

// resolve follows aliases to the value they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

// pair is one mapping entry after merge keys are applied.
type pair struct {
	key  string
	k, v *yaml.Node
}

// pairs returns a mapping's entries in source order with merge keys (<<)
// applied as YAML defines them: the mapping's own keys win over merged
// ones, and among merged mappings the earlier wins. Merged entries take the
// place of their << key. It assumes the checker accepted the document.
func pairs(n *yaml.Node) []pair {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	hasMerge := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			hasMerge = true
			break
		}
	}
	if !hasMerge { // the common case: no maps to build
		out := make([]pair, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if rk := resolve(k); rk.Kind == yaml.ScalarNode {
				out = append(out, pair{key: rk.Value, k: k, v: v})
			}
		}
		return out
	}
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); !isMerge(n.Content[i]) && k.Kind == yaml.ScalarNode {
			own[k.Value] = true
		}
	}
	var out []pair
	merged := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMerge(k) {
			if rk := resolve(k); rk.Kind == yaml.ScalarNode {
				out = append(out, pair{key: rk.Value, k: k, v: v})
			}
			continue
		}
		var sources []*yaml.Node
		if r := resolve(v); r.Kind == yaml.SequenceNode {
			sources = r.Content
		} else {
			sources = []*yaml.Node{v}
		}
		for _, src := range sources {
			for _, p := range pairs(src) {
				if own[p.key] || merged[p.key] {
					continue
				}
				merged[p.key] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// describe names a node's kind for error messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "an unexpected YAML node"
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// joinKey extends a dotted key path.
func joinKey(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func indexKey(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// toAny converts a node to plain Go values (string, int, float64, bool, nil,
// []any, map[string]any), aliases and merge keys expanded. Numbers that do
// not fit stay strings as written.
func toAny(n *yaml.Node) any {
	n = resolve(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, p := range pairs(n) {
			m[p.key] = toAny(p.v)
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, item := range n.Content {
			l[i] = toAny(item)
		}
		return l
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b
			}
		case "!!int":
			var i int
			if n.Decode(&i) == nil {
				return i
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		}
		return n.Value
	}
	return nil
}

// scalarString is a scalar's value as CircleCI stringifies it for
// environment variables and other string fields: strings and numbers as
// written, booleans as "true"/"false", null as "".
func scalarString(n *yaml.Node) string {
	switch n.ShortTag() {
	case "!!null":
		return ""
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return strconv.FormatBool(b)
		}
	}
	return n.Value
}

// firstLine is the first non-blank line of s, trimmed.
func firstLine(s string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return ""
}
