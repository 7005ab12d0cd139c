package local

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// fnCall is a parsed intrinsic function call, e.g.
// States.Format('Hello, {}', $.name).
type fnCall struct {
	name string
	args []fnArg
	impl intrinsic
}

// fnArg is one argument: a literal, a path or a nested call. raw keeps a
// string literal's escapes for States.Format, where \{ is a literal brace.
type fnArg struct {
	lit  any
	raw  string
	str  bool
	path *jpath
	call *fnCall
}

type intrinsic struct {
	min, max int // argument count; max -1 = variadic
	do       func(args []any, raw []fnArg) (any, error)
}

var intrinsics map[string]intrinsic

func init() {
	intrinsics = map[string]intrinsic{
		"States.Format":         {1, -1, fnFormat},
		"States.StringToJson":   {1, 1, fnStringToJSON},
		"States.JsonToString":   {1, 1, func(a []any, _ []fnArg) (any, error) { return encodeString(a[0]), nil }},
		"States.Array":          {0, -1, func(a []any, _ []fnArg) (any, error) { return append([]any{}, a...), nil }},
		"States.ArrayPartition": {2, 2, fnArrayPartition},
		"States.ArrayContains":  {2, 2, fnArrayContains},
		"States.ArrayRange":     {3, 3, fnArrayRange},
		"States.ArrayGetItem":   {2, 2, fnArrayGetItem},
		"States.ArrayLength":    {1, 1, fnArrayLength},
		"States.ArrayUnique":    {1, 1, fnArrayUnique},
		"States.Base64Encode":   {1, 1, fnBase64Encode},
		"States.Base64Decode":   {1, 1, fnBase64Decode},
		"States.Hash":           {2, 2, fnHash},
		"States.JsonMerge":      {3, 3, fnJSONMerge},
		"States.MathRandom":     {2, 3, fnMathRandom},
		"States.MathAdd":        {2, 2, fnMathAdd},
		"States.StringSplit":    {2, 2, fnStringSplit},
		"States.UUID":           {0, 0, func([]any, []fnArg) (any, error) { return uuid.NewString(), nil }},
	}
}

// parseIntrinsic parses a whole intrinsic function expression.
func parseIntrinsic(s string) (*fnCall, error) {
	p := &fnParser{src: s}
	call, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("invalid intrinsic function %q: %w", s, err)
	}
	p.skipSpace()
	if p.pos != len(s) {
		return nil, fmt.Errorf("invalid intrinsic function %q: unexpected %q at %d", s, s[p.pos:], p.pos)
	}
	return call, nil
}

type fnParser struct {
	src string
	pos int
}

func (p *fnParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n') {
		p.pos++
	}
}

func (p *fnParser) call() (*fnCall, error) {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != '(' {
		p.pos++
	}
	if p.pos == len(p.src) {
		return nil, fmt.Errorf("missing '('")
	}
	name := strings.TrimSpace(p.src[start:p.pos])
	impl, ok := intrinsics[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	p.pos++ // (
	c := &fnCall{name: name, impl: impl}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
	} else {
		for {
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.skipSpace()
			if p.pos >= len(p.src) {
				return nil, fmt.Errorf("missing ')'")
			}
			if p.src[p.pos] == ')' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return nil, fmt.Errorf("expected ',' at %d", p.pos)
			}
			p.pos++
		}
	}
	if len(c.args) < impl.min || impl.max >= 0 && len(c.args) > impl.max {
		return nil, fmt.Errorf("%s takes %s arguments, got %d", name, arity(impl), len(c.args))
	}
	return c, nil
}

func arity(i intrinsic) string {
	switch {
	case i.max < 0:
		return fmt.Sprintf("at least %d", i.min)
	case i.min == i.max:
		return strconv.Itoa(i.min)
	}
	return fmt.Sprintf("%d to %d", i.min, i.max)
}

func (p *fnParser) arg() (fnArg, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return fnArg{}, fmt.Errorf("missing argument")
	}
	rest := p.src[p.pos:]
	switch {
	case rest[0] == '\'':
		var raw, val strings.Builder
		p.pos++
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c == '\\' && p.pos+1 < len(p.src) {
				raw.WriteByte(c)
				raw.WriteByte(p.src[p.pos+1])
				val.WriteByte(p.src[p.pos+1])
				p.pos += 2
				continue
			}
			if c == '\'' {
				p.pos++
				return fnArg{lit: val.String(), raw: raw.String(), str: true}, nil
			}
			raw.WriteByte(c)
			val.WriteByte(c)
			p.pos++
		}
		return fnArg{}, fmt.Errorf("unterminated string")
	case rest[0] == '$':
		end := p.pos
		depth, quote := 0, byte(0)
	scan:
		for ; end < len(p.src); end++ {
			c := p.src[end]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '\'' || c == '"':
				quote = c
			case c == '[' || c == '(':
				depth++
			case (c == ']' || c == ')') && depth > 0:
				depth--
			case (c == ',' || c == ')') && depth == 0:
				break scan
			}
		}
		src := strings.TrimSpace(p.src[p.pos:end])
		path, err := parsePath(src, false)
		if err != nil {
			return fnArg{}, err
		}
		p.pos = end
		return fnArg{path: path}, nil
	case strings.HasPrefix(rest, "States."):
		c, err := p.call()
		if err != nil {
			return fnArg{}, err
		}
		return fnArg{call: c}, nil
	}
	end := p.pos
	for end < len(p.src) && p.src[end] != ',' && p.src[end] != ')' {
		end++
	}
	tok := strings.TrimSpace(p.src[p.pos:end])
	p.pos = end
	switch tok {
	case "true":
		return fnArg{lit: true}, nil
	case "false":
		return fnArg{lit: false}, nil
	case "null":
		return fnArg{lit: nil}, nil
	}
	if i, err := strconv.ParseInt(tok, 10, 64); err == nil {
		return fnArg{lit: i}, nil
	}
	if f, err := strconv.ParseFloat(tok, 64); err == nil {
		return fnArg{lit: f}, nil
	}
	return fnArg{}, fmt.Errorf("invalid argument %q", tok)
}

func (c *fnCall) mentions(s string) bool {
	for _, a := range c.args {
		if a.path != nil && strings.HasPrefix(a.path.src, s) || a.call != nil && a.call.mentions(s) {
			return true
		}
	}
	return false
}

func (c *fnCall) eval(input any, ctxObj func() any) (any, *statesError) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.path != nil:
			v, ok := a.path.get(input, ctxObj)
			if !ok {
				return nil, failf(ErrorRuntime, "The JSONPath '%s' specified as an argument of %s could not be found in the input '%s'",
					a.path.src, c.name, truncate(encodeString(input)))
			}
			args[i] = v
		case a.call != nil:
			v, err := a.call.eval(input, ctxObj)
			if err != nil {
				return nil, err
			}
			args[i] = v
		default:
			args[i] = a.lit
		}
	}
	v, err := c.impl.do(args, c.args)
	if err != nil {
		return nil, failf(ErrorIntrinsicFailure, "%s: %v", c.name, err)
	}
	return v, nil
}

func fnFormat(a []any, raw []fnArg) (any, error) {
	tpl, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("the template must be a string")
	}
	if raw[0].str {
		tpl = raw[0].raw
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(tpl); i++ {
		c := tpl[i]
		switch {
		case c == '\\' && raw[0].str && i+1 < len(tpl):
			i++
			b.WriteByte(tpl[i])
		case c == '{' && i+1 < len(tpl) && tpl[i+1] == '}':
			if next >= len(a) {
				return nil, fmt.Errorf("more placeholders than arguments")
			}
			switch v := a[next].(type) {
			case string:
				b.WriteString(v)
			case map[string]any, []any:
				return nil, fmt.Errorf("argument %d is a %s; only strings, numbers, booleans and null can be formatted", next, typeName(v))
			default:
				b.Write(encodeJSON(v))
			}
			next++
			i++
		default:
			b.WriteByte(c)
		}
	}
	if next != len(a) {
		return nil, fmt.Errorf("%d arguments for %d placeholders", len(a)-1, next-1)
	}
	return b.String(), nil
}

func fnStringToJSON(a []any, _ []fnArg) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument must be a string, got a %s", typeName(a[0]))
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("invalid JSON %q: %v", s, err)
	}
	return v, nil
}

func argArray(v any) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("argument must be an array, got a %s", typeName(v))
	}
	return a, nil
}

func argInt(v any) (int64, error) {
	i, ok := toInt(v)
	if !ok {
		return 0, fmt.Errorf("argument must be an integer, got %s", encodeString(v))
	}
	return i, nil
}

func fnArrayPartition(a []any, _ []fnArg) (any, error) {
	arr, err := argArray(a[0])
	if err != nil {
		return nil, err
	}
	n, err := argInt(a[1])
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("chunk size must be a positive integer")
	}
	out := []any{}
	for i := 0; i < len(arr); i += int(n) {
		out = append(out, append([]any{}, arr[i:min(i+int(n), len(arr))]...))
	}
	return out, nil
}

func fnArrayContains(a []any, _ []fnArg) (any, error) {
	arr, err := argArray(a[0])
	if err != nil {
		return nil, err
	}
	for _, e := range arr {
		if jsonEqual(e, a[1]) {
			return true, nil
		}
	}
	return false, nil
}

func fnArrayRange(a []any, _ []fnArg) (any, error) {
	start, err1 := argInt(a[0])
	end, err2 := argInt(a[1])
	step, err3 := argInt(a[2])
	if err1 != nil || err2 != nil || err3 != nil || step == 0 {
		return nil, fmt.Errorf("start, end and a non-zero step must be integers")
	}
	out := []any{}
	for i := start; step > 0 && i <= end || step < 0 && i >= end; i += step {
		if len(out) == 1000 {
			return nil, fmt.Errorf("the range has more than 1000 items")
		}
		out = append(out, i)
	}
	return out, nil
}

func fnArrayGetItem(a []any, _ []fnArg) (any, error) {
	arr, err := argArray(a[0])
	if err != nil {
		return nil, err
	}
	i, err := argInt(a[1])
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= int64(len(arr)) {
		return nil, fmt.Errorf("index %d out of range [0, %d)", i, len(arr))
	}
	return arr[i], nil
}

func fnArrayLength(a []any, _ []fnArg) (any, error) {
	arr, err := argArray(a[0])
	if err != nil {
		return nil, err
	}
	return int64(len(arr)), nil
}

func fnArrayUnique(a []any, _ []fnArg) (any, error) {
	arr, err := argArray(a[0])
	if err != nil {
		return nil, err
	}
	out := []any{}
next:
	for _, e := range arr {
		for _, o := range out {
			if jsonEqual(e, o) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func fnBase64Encode(a []any, _ []fnArg) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument must be a string")
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64Decode(a []any, _ []fnArg) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument must be a string")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("decoded data is not UTF-8 text")
	}
	return string(b), nil
}

func fnHash(a []any, _ []fnArg) (any, error) {
	algo, ok := a[1].(string)
	if !ok {
		return nil, fmt.Errorf("the algorithm must be a string")
	}
	var h hash.Hash
	switch algo {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", algo)
	}
	data, ok := a[0].(string)
	if !ok {
		data = encodeString(a[0])
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fnJSONMerge(a []any, _ []fnArg) (any, error) {
	x, ok1 := a[0].(map[string]any)
	y, ok2 := a[1].(map[string]any)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("both arguments must be objects")
	}
	if deep, _ := a[2].(bool); deep {
		return nil, fmt.Errorf("deep merge is not supported")
	}
	out := make(map[string]any, len(x)+len(y))
	for k, v := range x {
		out[k] = v
	}
	for k, v := range y {
		out[k] = v
	}
	return out, nil
}

func fnMathRandom(a []any, _ []fnArg) (any, error) {
	lo, err1 := argInt(a[0])
	hi, err2 := argInt(a[1])
	if err1 != nil || err2 != nil || hi <= lo {
		return nil, fmt.Errorf("start and end must be integers with start < end")
	}
	r := rand.Int64N
	if len(a) == 3 {
		seed, err := argInt(a[2])
		if err != nil {
			return nil, err
		}
		r = rand.New(rand.NewPCG(uint64(seed), 0)).Int64N
	}
	return lo + r(hi-lo), nil
}

func fnMathAdd(a []any, _ []fnArg) (any, error) {
	x, ok1 := toInt(a[0])
	y, ok2 := toInt(a[1])
	if ok1 && ok2 {
		return x + y, nil
	}
	return nil, fmt.Errorf("both arguments must be integers, got %s and %s", encodeString(a[0]), encodeString(a[1]))
}

func fnStringSplit(a []any, _ []fnArg) (any, error) {
	s, ok1 := a[0].(string)
	d, ok2 := a[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("both arguments must be strings")
	}
	out := []any{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) }) {
		out = append(out, f)
	}
	return out, nil
}
