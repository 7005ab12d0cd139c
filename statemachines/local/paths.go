package local

import (
	"fmt"
	"strings"

	"github.com/ohler55/ojg/jp"
)

// jpath is a compiled JSONPath: "$..." reads the state's input, "$$..." the
// context object. Definite paths (only names and indexes) yield one value;
// indefinite ones (wildcards, filters, slices, descent) an array of matches.
type jpath struct {
	src      string
	ctx      bool
	expr     jp.Expr
	definite bool
}

// parsePath compiles a Path; reference restricts it to a Reference Path
// (definite, as ResultPath and the Choice Variable need).
func parsePath(s string, reference bool) (*jpath, error) {
	p := &jpath{src: s}
	body := s
	switch {
	case strings.HasPrefix(s, "$$"):
		p.ctx = true
		body = s[1:]
	case strings.HasPrefix(s, "$"):
	default:
		return nil, fmt.Errorf("invalid JSONPath %q: must start with $", s)
	}
	expr, err := jp.ParseString(bracketNames(body))
	if err != nil {
		return nil, fmt.Errorf("invalid JSONPath %q: %v", s, err)
	}
	p.expr = expr
	p.definite = true
	for _, f := range expr {
		switch f.(type) {
		case jp.Root, jp.Child, jp.Nth:
		default:
			p.definite = false
		}
	}
	if reference && !p.definite {
		return nil, fmt.Errorf("invalid reference path %q: only names and indexes are allowed", s)
	}
	return p, nil
}

func (p *jpath) String() string { return p.src }

// bracketNames rewrites dotted names into bracket notation ($.a-b.c →
// $['a-b']['c']): Step Functions (Jayway JSONPath) accepts names such as
// "delivery-partner" after a dot, ojg stops at the hyphen. Wildcards,
// descent and everything inside brackets or parentheses are left alone.
func bracketNames(path string) string {
	if !strings.Contains(path, ".") {
		return path
	}
	var b strings.Builder
	depth, quote := 0, byte(0)
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(path) {
				b.WriteByte(c)
				i++
				c = path[i]
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			if depth > 0 {
				quote = c
			}
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		case c == '.' && depth == 0 && i+1 < len(path) && path[i+1] != '.' && path[i+1] != '*' && path[i+1] != '[' &&
			(i == 0 || path[i-1] != '.'):
			end := i + 1
			for end < len(path) && path[end] != '.' && path[end] != '[' {
				end++
			}
			name := path[i+1 : end]
			if strings.ContainsAny(name, " \t'\"(),") {
				break // not a name; let ojg report it
			}
			b.WriteString("['")
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(name, `\`, `\\`), "'", `\'`))
			b.WriteString("']")
			i = end - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// get evaluates p against input, or the context object for "$$" paths.
func (p *jpath) get(input any, ctxObj func() any) (any, bool) {
	data := input
	if p.ctx {
		data = ctxObj()
	}
	if p.definite {
		return getDefinite(data, p.expr[1:])
	}
	res := p.expr.Get(data)
	if res == nil {
		res = []any{}
	}
	return res, true
}

// getDefinite walks names and indexes; ojg's general evaluator allocates a
// stack per call, which showed as a third of a Pass state's cost.
func getDefinite(data any, frags jp.Expr) (any, bool) {
	for _, f := range frags {
		switch f := f.(type) {
		case jp.Child:
			m, ok := data.(map[string]any)
			if !ok {
				return nil, false
			}
			if data, ok = m[string(f)]; !ok {
				return nil, false
			}
		case jp.Nth:
			a, ok := data.([]any)
			i := int(f)
			if i < 0 {
				i += len(a)
			}
			if !ok || i < 0 || i >= len(a) {
				return nil, false
			}
			data = a[i]
		default:
			return nil, false
		}
	}
	return data, true
}

// mustGet is get that fails with States.Runtime, as AWS does for InputPath,
// OutputPath, ItemsPath and the like.
func (p *jpath) mustGet(input any, ctxObj func() any) (any, *statesError) {
	v, ok := p.get(input, ctxObj)
	if !ok {
		return nil, failf(ErrorRuntime, "Invalid path '%s' : No results for path: %s in input '%s'",
			p.src, p.src, truncate(encodeString(input)))
	}
	return v, nil
}

// set returns a copy of data with the value at the reference path p replaced
// by val, creating missing objects on the way (ResultPath semantics). Only
// the containers on the path are copied.
func (p *jpath) set(data, val any) (any, *statesError) {
	out, err := setFrags(data, p.expr[1:], val)
	if err != nil {
		return nil, failf(ErrorResultPathMatchFailure,
			"Unable to apply ResultPath %q to input %s: %s", p.src, truncate(encodeString(data)), err)
	}
	return out, nil
}

func setFrags(data any, frags jp.Expr, val any) (any, error) {
	if len(frags) == 0 {
		return val, nil
	}
	switch f := frags[0].(type) {
	case jp.Child:
		var m map[string]any
		switch d := data.(type) {
		case map[string]any:
			m = make(map[string]any, len(d)+1)
			for k, v := range d {
				m[k] = v
			}
		case nil:
			m = map[string]any{}
		default:
			return nil, fmt.Errorf("cannot set field %q of a %s", string(f), typeName(data))
		}
		v, err := setFrags(m[string(f)], frags[1:], val)
		if err != nil {
			return nil, err
		}
		m[string(f)] = v
		return m, nil
	case jp.Nth:
		a, ok := data.([]any)
		i := int(f)
		if i < 0 {
			i += len(a)
		}
		if !ok || i < 0 || i >= len(a) {
			return nil, fmt.Errorf("index %d out of range of a %s", int(f), typeName(data))
		}
		c := append([]any(nil), a...)
		v, err := setFrags(c[i], frags[1:], val)
		if err != nil {
			return nil, err
		}
		c[i] = v
		return c, nil
	}
	return nil, fmt.Errorf("unsupported path element %v", frags[0])
}

// optPath is an InputPath/OutputPath/ResultPath field: absent means "$"
// (identity), null means "discard" ({} for Input/OutputPath, keep the input
// for ResultPath).
type optPath struct {
	null bool
	path *jpath // nil with !null: identity
}

func (o optPath) apply(input any, ctxObj func() any) (any, *statesError) {
	switch {
	case o.null:
		return map[string]any{}, nil
	case o.path == nil || len(o.path.expr) == 1 && !o.path.ctx:
		return input, nil
	}
	return o.path.mustGet(input, ctxObj)
}

// applyResult merges a state's result into its raw input per ResultPath.
func (o optPath) applyResult(input, result any) (any, *statesError) {
	switch {
	case o.null:
		return input, nil
	case o.path == nil:
		return result, nil
	}
	return o.path.set(input, result)
}

func truncate(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// tmpl is a compiled payload template: Parameters, ResultSelector,
// ItemSelector, lambda:invoke Payload. Keys ending in ".$" take their value
// from a path, a context path or an intrinsic function.
type tmpl struct {
	lit   any
	path  *jpath
	fn    *fnCall
	field string // the ".$" key, for error causes
	keys  []string
	vals  []*tmpl
	items []*tmpl
	kind  tmplKind
}

type tmplKind uint8

const (
	tLiteral tmplKind = iota
	tPath
	tFunc
	tObject
	tArray
)

func compileTmpl(v any) (*tmpl, error) {
	switch t := v.(type) {
	case map[string]any:
		out := &tmpl{kind: tObject}
		for _, k := range sortedKeys(t) {
			var (
				c   *tmpl
				err error
			)
			if strings.HasSuffix(k, ".$") {
				c, err = compileDynamic(k, t[k])
			} else {
				c, err = compileTmpl(t[k])
			}
			if err != nil {
				return nil, err
			}
			out.keys = append(out.keys, strings.TrimSuffix(k, ".$"))
			out.vals = append(out.vals, c)
		}
		return out, nil
	case []any:
		out := &tmpl{kind: tArray}
		for _, e := range t {
			c, err := compileTmpl(e)
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, c)
		}
		return out, nil
	}
	return &tmpl{kind: tLiteral, lit: v}, nil
}

func compileDynamic(key string, v any) (*tmpl, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("field %q: value must be a JSONPath or an intrinsic function, not a %s", key, typeName(v))
	}
	if strings.HasPrefix(s, "$") {
		p, err := parsePath(s, false)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", key, err)
		}
		return &tmpl{kind: tPath, path: p, field: key}, nil
	}
	fn, err := parseIntrinsic(s)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", key, err)
	}
	return &tmpl{kind: tFunc, fn: fn, field: key}, nil
}

func (t *tmpl) eval(input any, ctxObj func() any) (any, *statesError) {
	switch t.kind {
	case tLiteral:
		return t.lit, nil
	case tPath:
		v, ok := t.path.get(input, ctxObj)
		if !ok {
			where := input
			if t.path.ctx {
				where = ctxObj()
			}
			return nil, failf(ErrorRuntime,
				"The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'",
				t.path.src, t.field, truncate(encodeString(where)))
		}
		return v, nil
	case tFunc:
		return t.fn.eval(input, ctxObj)
	case tObject:
		m := make(map[string]any, len(t.keys))
		for i, k := range t.keys {
			v, err := t.vals[i].eval(input, ctxObj)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case tArray:
		a := make([]any, len(t.items))
		for i, c := range t.items {
			v, err := c.eval(input, ctxObj)
			if err != nil {
				return nil, err
			}
			a[i] = v
		}
		return a, nil
	}
	return nil, nil
}

// mentions reports whether the template reads the given source text, e.g.
// "$$.Task.Token" for .waitForTaskToken validation.
func (t *tmpl) mentions(s string) bool {
	switch t.kind {
	case tPath:
		return strings.HasPrefix(t.path.src, s)
	case tFunc:
		return t.fn.mentions(s)
	case tObject:
		for _, v := range t.vals {
			if v.mentions(s) {
				return true
			}
		}
	case tArray:
		for _, v := range t.items {
			if v.mentions(s) {
				return true
			}
		}
	}
	return false
}

// field returns the compiled template of a top-level key (without ".$").
func (t *tmpl) fieldTmpl(key string) *tmpl {
	if t == nil || t.kind != tObject {
		return nil
	}
	for i, k := range t.keys {
		if k == key {
			return t.vals[i]
		}
	}
	return nil
}
