package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Expressions: CircleCI's condition language for job `filters` written as
// a string, workflow `when`/`unless` written as a string, and
// `<< expression >>` templates anywhere else:
//
//	pipeline.git.branch == "main" or pipeline.git.tag starts-with "release"
//	not pipeline.parameters.nightly and pipeline.number > 100
//
// Operands are pipeline values (pipeline.git.branch), pipeline parameters
// (pipeline.parameters.x), parameters and matrix values where templates may
// use them, and literals: "strings" or 'strings', integers, decimals, true,
// false and null. Operators, loosest first: or; and; == != < <= > >=
// starts-with; not (which binds tightest: `not a and b` is `(not a) and
// b`); parentheses group. and/or judge truthiness like logic statements;
// == compares type and value (1 == 1.0, but 1 != "1"); the ordering
// operators need numbers and starts-with strings.

// exprNode is a parsed expression.
type exprNode struct {
	op string // "or", "and", "not", a comparison, "lit" or "ref"
	// lit is a literal's value; ref a reference's name.
	lit  any
	ref  string
	args []*exprNode
}

// exprToken is a lexical token: kind is "str", "num", "name", "op", "(" or ")".
type exprToken struct {
	kind, text string
	val        any
}

var exprOps = []string{"==", "!=", "<=", ">=", "<", ">"}

func lexExpr(s string) ([]exprToken, error) {
	var out []exprToken
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			i++
		case ch == '(' || ch == ')':
			out = append(out, exprToken{kind: string(ch), text: string(ch)})
			i++
		case ch == '"' || ch == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != ch; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string starting at %d", i+1)
			}
			out = append(out, exprToken{kind: "str", text: s[i : j+1], val: b.String()})
			i = j + 1
		case ch >= '0' && ch <= '9' || ch == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			text := s[i:j]
			if n, err := strconv.ParseInt(text, 10, 64); err == nil {
				out = append(out, exprToken{kind: "num", text: text, val: n})
			} else if f, err := strconv.ParseFloat(text, 64); err == nil {
				out = append(out, exprToken{kind: "num", text: text, val: f})
			} else {
				return nil, fmt.Errorf("invalid number %q", text)
			}
			i = j
		case isLetter(ch) || ch == '_':
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			out = append(out, exprToken{kind: "name", text: s[i:j]})
			i = j
		default:
			matched := false
			for _, op := range exprOps {
				if strings.HasPrefix(s[i:], op) {
					out = append(out, exprToken{kind: "op", text: op})
					i += len(op)
					matched = true
					break
				}
			}
			if !matched {
				return nil, fmt.Errorf("unexpected %q", string(ch))
			}
		}
	}
	return out, nil
}

// exprParser is a recursive-descent parser over tokens.
type exprParser struct {
	toks  []exprToken
	i     int
	depth int
}

// parseExpr parses a whole expression.
func parseExpr(s string) (*exprNode, error) {
	toks, err := lexExpr(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	p := &exprParser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i].text)
	}
	return n, nil
}

func (p *exprParser) peek() (exprToken, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return exprToken{}, false
}

func (p *exprParser) word(w string) bool {
	t, ok := p.peek()
	if ok && t.kind == "name" && t.text == w {
		p.i++
		return true
	}
	return false
}

func (p *exprParser) or() (*exprNode, error) {
	left, err := p.and()
	for err == nil && p.word("or") {
		var right *exprNode
		if right, err = p.and(); err == nil {
			left = &exprNode{op: "or", args: []*exprNode{left, right}}
		}
	}
	return left, err
}

func (p *exprParser) and() (*exprNode, error) {
	left, err := p.cmp()
	for err == nil && p.word("and") {
		var right *exprNode
		if right, err = p.cmp(); err == nil {
			left = &exprNode{op: "and", args: []*exprNode{left, right}}
		}
	}
	return left, err
}

func (p *exprParser) cmp() (*exprNode, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	t, ok := p.peek()
	if !ok || !(t.kind == "op" || t.kind == "name" && t.text == "starts-with") {
		return left, nil
	}
	p.i++
	right, err := p.unary()
	if err != nil {
		return nil, err
	}
	return &exprNode{op: t.text, args: []*exprNode{left, right}}, nil
}

func (p *exprParser) unary() (*exprNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 100 {
		return nil, fmt.Errorf("expression nests too deeply")
	}
	if p.word("not") {
		arg, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &exprNode{op: "not", args: []*exprNode{arg}}, nil
	}
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("expression ends where a value is expected")
	}
	p.i++
	switch t.kind {
	case "(":
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if c, ok := p.peek(); !ok || c.kind != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return n, nil
	case "str", "num":
		return &exprNode{op: "lit", lit: t.val}, nil
	case "name":
		switch t.text {
		case "true", "false":
			return &exprNode{op: "lit", lit: t.text == "true"}, nil
		case "null":
			return &exprNode{op: "lit"}, nil
		}
		if ns, _, _ := strings.Cut(t.text, "."); ns == "pipeline" || ns == "parameters" || ns == "matrix" {
			return &exprNode{op: "ref", ref: t.text}, nil
		}
		return nil, fmt.Errorf("unknown name %q (use pipeline.*, pipeline.parameters.*, a quoted string, a number, true, false or null)", t.text)
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}

// hasOperator reports whether the expression does more than name one value
// (so `<< pipeline.x >>` stays a plain template).
func (n *exprNode) hasOperator() bool { return n.op != "lit" && n.op != "ref" }

// evalExpr evaluates an expression; it reports problems at node at.
func (c *compiler) evalExpr(n *exprNode, v *vars, at *yaml.Node, kp fmt.Stringer) (any, error) {
	switch n.op {
	case "lit":
		return n.lit, nil
	case "ref":
		val, _ := c.lookupVar(n.ref, v, at, kp)
		if val == nil {
			return nil, errReported
		}
		r := resolve(val)
		if r.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s is %s, not a value", n.ref, describe(r))
		}
		return toAny(r), nil
	case "not":
		x, err := c.evalExpr(n.args[0], v, at, kp)
		return !truthyValue(x), err
	case "and", "or":
		x, err := c.evalExpr(n.args[0], v, at, kp)
		if err != nil {
			return nil, err
		}
		if truthyValue(x) == (n.op == "or") {
			return n.op == "or", nil
		}
		y, err := c.evalExpr(n.args[1], v, at, kp)
		return truthyValue(y), err
	}
	x, err := c.evalExpr(n.args[0], v, at, kp)
	if err != nil {
		return nil, err
	}
	y, err := c.evalExpr(n.args[1], v, at, kp)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "==":
		return valuesEqual(x, y), nil
	case "!=":
		return !valuesEqual(x, y), nil
	case "starts-with":
		xs, ok1 := x.(string)
		ys, ok2 := y.(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("starts-with compares strings, not %v and %v", describeValue(x), describeValue(y))
		}
		return strings.HasPrefix(xs, ys), nil
	}
	xf, ok1 := number(x)
	yf, ok2 := number(y)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s compares numbers, not %s and %s", n.op, describeValue(x), describeValue(y))
	}
	switch n.op {
	case "<":
		return xf < yf, nil
	case "<=":
		return xf <= yf, nil
	case ">":
		return xf > yf, nil
	}
	return xf >= yf, nil
}

// errReported marks an evaluation stopped by an error already reported.
var errReported = errors.New("reported")

// exprCondition evaluates the text of a condition written as an expression
// and reports problems at n.
func (c *compiler) exprCondition(text string, v *vars, n *yaml.Node, key string) (bool, bool) {
	e, err := parseExpr(text)
	if err != nil {
		v.errs.at(n, key, "invalid expression %q: %v", text, err)
		return false, false
	}
	val, err := c.evalExpr(e, v, n, &keyPath{name: key})
	if err == errReported {
		return false, false
	}
	if err != nil {
		v.errs.at(n, key, "expression %q: %v", text, err)
		return false, false
	}
	return truthyValue(val), true
}

func number(x any) (float64, bool) {
	switch n := x.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func valuesEqual(x, y any) bool {
	if xf, ok := number(x); ok {
		yf, ok := number(y)
		return ok && xf == yf
	}
	return x == y
}

// truthyValue is truthiness of a plain value (see truthy).
func truthyValue(x any) bool {
	switch v := x.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	}
	if f, ok := number(x); ok {
		return f != 0 && !math.IsNaN(f)
	}
	return true
}

func describeValue(x any) string {
	switch v := x.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	}
	return fmt.Sprint(x)
}
