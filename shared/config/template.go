package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Templates: `<< parameters.x >>`, `<< pipeline.parameters.x >>`,
// `<< pipeline.git.branch >>` (and the other pipeline values) and
// `<< matrix.x >>` in any string of a 2.1 config. A string that is exactly
// one template takes the value with its type (`parallelism: << parameters.n >>`
// is an integer; `steps: << parameters.s >>` a list of steps); a template
// inside a longer string is replaced by the value's text. `\<<` is a literal
// `<<`. Text such as a shell heredoc (`cat <<EOF >> f`) whose name is not
// one of these namespaces is left alone.

// vars is what templates may reference at one place of the config.
type vars struct {
	// errs reports into the file whose text is substituted.
	errs *errs
	pipe *pipelineScope
	// params are the parameters of the job, command or executor being
	// expanded (def); nil outside one (a template naming one is an error
	// there).
	params map[string]*yaml.Node
	def    *definition
	// matrix are the values of one matrix instance; nil elsewhere.
	matrix map[string]*yaml.Node
}

// keyPath is the dotted key of the node being substituted, built only when
// an error needs it.
type keyPath struct {
	parent *keyPath
	// name is a mapping key, or, for the root, the whole prefix.
	name string
	// index is a list index when isIndex.
	index   int
	isIndex bool
}

func (k *keyPath) String() string {
	if k == nil {
		return ""
	}
	if k.parent == nil {
		return k.name
	}
	if k.isIndex {
		return indexKey(k.parent.String(), k.index)
	}
	return joinKey(k.parent.String(), k.name)
}

// subst returns n with every template replaced, sharing the parts that have
// none (n itself when nothing changed). Aliases and merge keys are resolved
// in the parts it rebuilds. It reports unknown names and values that cannot
// be used where they are.
func (c *compiler) subst(n *yaml.Node, v *vars, kp *keyPath) *yaml.Node {
	if n == nil || !c.hasTemplate(n) {
		return n
	}
	saved := c.where
	c.where = substWhere{root: kp, stack: c.whereBuf[:0]}
	out := c.substNode(n, v)
	c.whereBuf, c.where = c.where.stack[:0], saved // keep the grown buffer
	return out
}

// substWhere is the key of the node being substituted: a root and the
// path below it, kept as a stack so the walk allocates no keys. It is a
// fmt.Stringer for the error messages that need it.
type substWhere struct {
	root  *keyPath
	stack []keyPath // name or index elements; parent unused
}

func (w *substWhere) String() string {
	key := w.root.String()
	for _, e := range w.stack {
		if e.isIndex {
			key = indexKey(key, e.index)
		} else {
			key = joinKey(key, e.name)
		}
	}
	return key
}

func (c *compiler) substNode(n *yaml.Node, v *vars) *yaml.Node {
	if !c.hasTemplate(n) {
		return n
	}
	switch n.Kind {
	case yaml.AliasNode:
		return c.substNode(resolve(n), v)
	case yaml.ScalarNode:
		return c.substScalar(n, v, &c.where, false)
	case yaml.SequenceNode:
		var out []*yaml.Node
		for i, item := range n.Content {
			c.where.stack = append(c.where.stack, keyPath{index: i, isIndex: true})
			s := c.substNode(item, v)
			c.where.stack = c.where.stack[:len(c.where.stack)-1]
			if s != item && out == nil {
				out = make([]*yaml.Node, i, len(n.Content))
				copy(out, n.Content[:i])
			}
			if out != nil {
				out = append(out, s)
			}
		}
		if out == nil {
			return n
		}
		c.spend(len(out))
		cp := *n
		cp.Content, cp.Anchor = out, ""
		return &cp
	case yaml.MappingNode:
		kvs := pairs(n)
		out := make([]*yaml.Node, 0, 2*len(kvs))
		for _, kv := range kvs {
			c.where.stack = append(c.where.stack, keyPath{name: kv.key})
			k := resolve(kv.k)
			nk := k
			if strings.Contains(k.Value, "<<") {
				nk = c.substScalar(k, v, &c.where, true)
			}
			out = append(out, nk, c.substNode(kv.v, v))
			c.where.stack = c.where.stack[:len(c.where.stack)-1]
		}
		c.spend(len(out))
		cp := *n
		cp.Content, cp.Anchor = out, ""
		return &cp
	}
	return n
}

// hasTemplate reports whether n (aliases followed) holds a `<<` that
// substitution must look at, or a merge key it must resolve; the answer
// is kept per node, as a body is substituted once per invocation.
func (c *compiler) hasTemplate(n *yaml.Node) bool {
	if has, ok := c.templated[n]; ok {
		return has
	}
	c.templated[n] = false // an alias cycle was refused by the parse layer
	has := false
	switch n.Kind {
	case yaml.ScalarNode:
		has = strings.Contains(n.Value, "<<") && n.ShortTag() != "!!merge"
	case yaml.AliasNode:
		has = c.hasTemplate(n.Alias)
	case yaml.MappingNode:
		for i, child := range n.Content {
			if i%2 == 0 && isMerge(child) || c.hasTemplate(child) {
				has = true
				break
			}
		}
	default:
		for _, child := range n.Content {
			if c.hasTemplate(child) {
				has = true
				break
			}
		}
	}
	c.templated[n] = has
	return has
}

// substScalar substitutes the templates of one string. asText forces a
// string result (mapping keys).
func (c *compiler) substScalar(n *yaml.Node, v *vars, kp fmt.Stringer, asText bool) *yaml.Node {
	s := n.Value
	var b strings.Builder
	last, changed := 0, false
	for i := 0; ; {
		j := strings.Index(s[i:], "<<")
		if j < 0 {
			break
		}
		j += i
		if j > 0 && s[j-1] == '\\' {
			b.WriteString(s[last : j-1])
			b.WriteString("<<")
			last, i, changed = j+2, j+2, true
			continue
		}
		name, end := matchTemplate(s, j)
		var val *yaml.Node
		known := false
		if end < 0 {
			// Not a plain name: an expression (<< pipeline.number > 5 >>),
			// or text that only looks like one.
			if val, end = c.exprTemplate(s, j, v, n, kp); end < 0 {
				i = j + 2
				continue
			}
			known, name = true, strings.TrimSpace(s[j+2:end-2])
		} else {
			val, known = c.lookupVar(name, v, n, kp)
		}
		if !known {
			i = end
			continue
		}
		changed = true
		if val == nil { // reported
			b.WriteString(s[last:j])
			last, i = end, end
			continue
		}
		if j == 0 && end == len(s) && !asText {
			return val
		}
		text, ok := scalarText(val)
		if !ok {
			v.errs.at(n, kp.String(), "<< %s >> is %s and can only be used as a whole value, not inside a string", name, describe(val))
		}
		b.WriteString(s[last:j])
		b.WriteString(text)
		last, i = end, end
	}
	if !changed {
		return n
	}
	b.WriteString(s[last:])
	c.spend(1)
	out := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: b.String(), Line: n.Line, Column: n.Column}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		out.Style = n.Style & (yaml.LiteralStyle | yaml.FoldedStyle)
	}
	return out
}

// matchTemplate matches `<< name >>` at s[j:], returning the name and the
// index after `>>`, or end -1.
func matchTemplate(s string, j int) (name string, end int) {
	i := j + 2
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	start := i
	for i < len(s) && isNameByte(s[i]) {
		i++
	}
	if i == start || !isLetter(s[start]) {
		return "", -1
	}
	name = s[start:i]
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if !strings.HasPrefix(s[i:], ">>") {
		return "", -1
	}
	return name, i + 2
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

func isNameByte(b byte) bool {
	return isLetter(b) || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.'
}

// exprTemplate evaluates `<< expression >>` at s[j:]: an expression that
// uses an operator and parses. It returns the value and the index after
// `>>`, or end -1 when the text is not such an expression.
func (c *compiler) exprTemplate(s string, j int, v *vars, n *yaml.Node, kp fmt.Stringer) (*yaml.Node, int) {
	k := strings.Index(s[j+2:], ">>")
	if k < 0 {
		return nil, -1
	}
	text := s[j+2 : j+2+k]
	e, err := parseExpr(text)
	if err != nil || !e.hasOperator() {
		return nil, -1
	}
	val, err := c.evalExpr(e, v, n, kp)
	switch {
	case errors.Is(err, errReported):
		return nil, j + 4 + k
	case err != nil:
		v.errs.at(n, kp.String(), "<<%s>>: %v", text, err)
		return nil, j + 4 + k
	}
	return valueNode(val), j + 4 + k
}

// lookupVar resolves a template name. known is false for names outside the
// parameters, pipeline and matrix namespaces (the text stays as written);
// a nil value with known true means an error was reported.
func (c *compiler) lookupVar(name string, v *vars, at *yaml.Node, kp fmt.Stringer) (val *yaml.Node, known bool) {
	ns, rest, _ := strings.Cut(name, ".")
	e := v.errs
	switch ns {
	case "parameters":
		if v.params == nil {
			e.at(at, kp.String(), "<< %s >> is only allowed inside a job, command or executor that declares parameters", name)
			return nil, true
		}
		if val, ok := v.params[rest]; ok {
			return val, true
		}
		e.at(at, kp.String(), "<< %s >>: %s declares no parameter %q (parameters: %s)", name, v.def.title(), rest, v.def.params.names())
		return nil, true
	case "pipeline":
		if p, ok := strings.CutPrefix(rest, "parameters."); ok {
			if val, ok := v.pipe.params[p]; ok {
				return val, true
			}
			declared := "it declares none"
			if len(v.pipe.params) > 0 {
				declared = "it declares " + strings.Join(sortedKeys(v.pipe.params), ", ")
			}
			e.at(at, kp.String(), "<< %s >>: the config declares no pipeline parameter %q under parameters (%s)", name, p, declared)
			return nil, true
		}
		if val, ok := v.pipe.values[rest]; ok {
			return val, true
		}
		e.at(at, kp.String(), "<< %s >>: unknown pipeline value (known: pipeline.parameters.*, %s)", name, knownPipelineValues())
		return nil, true
	case "matrix":
		if v.matrix == nil {
			e.at(at, kp.String(), "<< %s >> is only allowed in a workflow job that has a matrix", name)
			return nil, true
		}
		if val, ok := v.matrix[rest]; ok {
			return val, true
		}
		e.at(at, kp.String(), "<< %s >>: the matrix has no parameter %q (matrix parameters: %s)", name, rest, strings.Join(sortedKeys(v.matrix), ", "))
		return nil, true
	}
	return nil, false
}

func knownPipelineValues() string {
	names := sortedKeys(pipelineValueNames)
	for i, n := range names {
		names[i] = "pipeline." + n
	}
	return strings.Join(names, ", ")
}

// scalarText is a value's text inside a longer string.
func scalarText(n *yaml.Node) (string, bool) {
	r := resolve(n)
	if r == nil {
		return "", true
	}
	if r.Kind != yaml.ScalarNode {
		return "", false
	}
	return scalarString(r), true
}

// spend counts nodes made by expansion against the budget that keeps a
// config whose commands and matrices multiply from running away.
func (c *compiler) spend(n int) {
	c.budget -= n
	if c.budget < 0 && !c.overBudget {
		c.overBudget = true
		c.parser.at(c.rootNode, "", "config expands to more than %s YAML nodes (commands, matrices and parameters multiplied out); refusing it", strconv.Itoa(maxExpandedNodes*4))
	}
}
