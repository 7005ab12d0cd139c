package local

import (
	"fmt"
	"strings"
	"time"
)

// choiceRule is one Choice rule: a boolean combination (And/Or/Not) or a
// comparison of Variable with a literal or, for the …Path operators, with
// the value at another path.
type choiceRule struct {
	Next     string
	and, or  []*choiceRule
	not      *choiceRule
	variable *jpath
	op       string // base operator, e.g. "StringEquals"; "" for And/Or/Not
	value    any
	path     *jpath // the …Path operators
}

// comparison operators, by their base name, with the type of their operand.
var comparisons = map[string]string{
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "boolean",
	"TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
	"TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
	"IsNull": "boolean", "IsPresent": "boolean", "IsNumeric": "boolean", "IsString": "boolean",
	"IsBoolean": "boolean", "IsTimestamp": "boolean",
}

// parseChoiceRule compiles a rule; top is true for the entries of Choices,
// which must have Next, while nested rules must not.
func parseChoiceRule(raw any, top bool) (*choiceRule, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a choice rule must be an object")
	}
	r := &choiceRule{}
	if n, ok := m["Next"]; ok {
		s, ok := n.(string)
		if !ok || !top {
			return nil, fmt.Errorf("Next is only allowed, as a string, in a top-level choice rule")
		}
		r.Next = s
	} else if top {
		return nil, fmt.Errorf("choice rule has no Next")
	}
	ops := 0
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "Next", "Comment":
		case "Variable":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("Variable must be a string")
			}
			p, err := parsePath(s, true)
			if err != nil {
				return nil, fmt.Errorf("Variable: %w", err)
			}
			r.variable = p
		case "And", "Or":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, fmt.Errorf("%s must be a non-empty array of rules", k)
			}
			for _, e := range list {
				sub, err := parseChoiceRule(e, false)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				if k == "And" {
					r.and = append(r.and, sub)
				} else {
					r.or = append(r.or, sub)
				}
			}
			ops++
		case "Not":
			sub, err := parseChoiceRule(v, false)
			if err != nil {
				return nil, fmt.Errorf("Not: %w", err)
			}
			r.not = sub
			ops++
		default:
			base, isPath := strings.CutSuffix(k, "Path")
			typ, known := comparisons[base]
			if !known || isPath && strings.HasPrefix(base, "Is") || isPath && base == "StringMatches" {
				return nil, fmt.Errorf("unknown field %q in choice rule", k)
			}
			r.op = base
			ops++
			if isPath {
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("%s must be a JSONPath string", k)
				}
				p, err := parsePath(s, true)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				r.path = p
				continue
			}
			if err := checkOperand(k, typ, v); err != nil {
				return nil, err
			}
			r.value = v
		}
	}
	if ops != 1 {
		return nil, fmt.Errorf("a choice rule needs exactly one of And, Or, Not or a comparison operator, found %d", ops)
	}
	if r.op != "" && r.variable == nil {
		return nil, fmt.Errorf("%s needs a Variable", r.op)
	}
	if r.op == "" && r.variable != nil {
		return nil, fmt.Errorf("Variable is not allowed with And, Or or Not")
	}
	return r, nil
}

func checkOperand(op, typ string, v any) error {
	ok := false
	switch typ {
	case "string":
		_, ok = v.(string)
	case "number":
		ok = isNumber(v)
	case "boolean":
		_, ok = v.(bool)
	case "timestamp":
		s, isStr := v.(string)
		_, err := parseTimestamp(s)
		ok = isStr && err == nil
	}
	if !ok {
		return fmt.Errorf("%s needs a %s operand, got %s", op, typ, encodeString(v))
	}
	return nil
}

// parseTimestamp accepts RFC 3339 timestamps, which must carry a time zone.
func parseTimestamp(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// eval evaluates a rule. A Variable or …Path that matches nothing is a
// States.Runtime error, except for IsPresent.
func (r *choiceRule) eval(input any, ctxObj func() any) (bool, *statesError) {
	switch {
	case r.and != nil:
		for _, s := range r.and {
			ok, err := s.eval(input, ctxObj)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, s := range r.or {
			ok, err := s.eval(input, ctxObj)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := r.not.eval(input, ctxObj)
		return !ok && err == nil, err
	}
	v, found := r.variable.get(input, ctxObj)
	if r.op == "IsPresent" {
		return found == r.value.(bool), nil
	}
	if !found {
		return false, failf(ErrorRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.src)
	}
	operand := r.value
	if r.path != nil {
		w, ok := r.path.get(input, ctxObj)
		if !ok {
			return false, failf(ErrorRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.path.src)
		}
		operand = w
	}
	return compare(r.op, v, operand), nil
}

func compare(op string, v, operand any) bool {
	switch op {
	case "IsNull":
		return (v == nil) == operand.(bool)
	case "IsNumeric":
		return isNumber(v) == operand.(bool)
	case "IsString":
		_, ok := v.(string)
		return ok == operand.(bool)
	case "IsBoolean":
		_, ok := v.(bool)
		return ok == operand.(bool)
	case "IsTimestamp":
		s, ok := v.(string)
		if ok {
			_, err := parseTimestamp(s)
			ok = err == nil
		}
		return ok == operand.(bool)
	case "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b
	case "StringMatches":
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		return ok1 && ok2 && stringMatches(a, b)
	}
	var c int
	switch {
	case strings.HasPrefix(op, "String"):
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false
		}
		c = strings.Compare(a, b)
	case strings.HasPrefix(op, "Numeric"):
		var ok bool
		if c, ok = compareNumbers(v, operand); !ok {
			return false
		}
	case strings.HasPrefix(op, "Timestamp"):
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false
		}
		ta, err1 := parseTimestamp(a)
		tb, err2 := parseTimestamp(b)
		if err1 != nil || err2 != nil {
			return false
		}
		c = ta.Compare(tb)
	default:
		return false
	}
	switch {
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	}
	return c == 0 // …Equals
}

// stringMatches matches s against a pattern where * matches any run of
// characters, \* a literal star and \\ a literal backslash.
func stringMatches(s, pattern string) bool {
	type tok struct {
		star bool
		c    rune
	}
	var toks []tok
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch {
		case rs[i] == '\\' && i+1 < len(rs):
			i++
			toks = append(toks, tok{c: rs[i]})
		case rs[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{c: rs[i]})
		}
	}
	str := []rune(s)
	// Classic greedy wildcard matching with backtracking to the last star.
	si, ti, starTi, starSi := 0, 0, -1, 0
	for si < len(str) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].c == str[si]:
			si++
			ti++
		case ti < len(toks) && toks[ti].star:
			starTi, starSi = ti, si
			ti++
		case starTi >= 0:
			ti = starTi + 1
			starSi++
			si = starSi
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
