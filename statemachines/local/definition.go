package local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// scope is a set of states with a start: the machine itself, a Parallel
// branch or a Map's ItemProcessor.
type scope struct {
	StartAt        string
	States         map[string]*state
	TimeoutSeconds int64 // top level only; 0 = none
}

// state is one parsed state. Fields not used by its Type stay zero.
type state struct {
	Name string
	Type string
	Next string
	End  bool

	InputPath, OutputPath, ResultPath optPath
	Parameters, ResultSelector        *tmpl
	Result                            any
	HasResult                         bool

	// Task
	Resource         string
	res              resource
	TimeoutSeconds   int64
	TimeoutPath      *jpath
	HeartbeatSeconds int64
	HeartbeatPath    *jpath
	Retry            []*retrier
	Catch            []*catcher

	// Choice
	Choices []*choiceRule
	Default string

	// Wait
	Seconds       int64
	HasSeconds    bool
	Timestamp     time.Time
	SecondsPath   *jpath
	TimestampPath *jpath

	// Fail
	Error, Cause         string
	ErrorPath, CausePath *tmpl

	// Parallel
	Branches []*scope

	// Map
	ItemsPath          *jpath
	ItemSelector       *tmpl
	Processor          *scope
	MaxConcurrency     int64
	MaxConcurrencyPath *jpath
}

// retrier is one entry of Retry.
type retrier struct {
	ErrorEquals     []string
	IntervalSeconds float64
	MaxAttempts     int
	BackoffRate     float64
	MaxDelaySeconds float64
	FullJitter      bool
}

// catcher is one entry of Catch.
type catcher struct {
	ErrorEquals []string
	Next        string
	ResultPath  optPath
}

// fields allowed per state type, beyond Type, Comment, Next and End.
var stateFields = map[string]string{
	"Pass":     "InputPath OutputPath Parameters ResultPath Result",
	"Task":     "InputPath OutputPath Parameters ResultSelector ResultPath Resource TimeoutSeconds TimeoutSecondsPath HeartbeatSeconds HeartbeatSecondsPath Retry Catch Credentials",
	"Choice":   "InputPath OutputPath Choices Default",
	"Wait":     "InputPath OutputPath Seconds Timestamp SecondsPath TimestampPath",
	"Succeed":  "InputPath OutputPath",
	"Fail":     "Error Cause ErrorPath CausePath",
	"Parallel": "InputPath OutputPath Parameters ResultSelector ResultPath Branches Retry Catch",
	"Map":      "InputPath OutputPath Parameters ResultSelector ResultPath ItemsPath ItemSelector ItemProcessor Iterator MaxConcurrency MaxConcurrencyPath Retry Catch ToleratedFailurePercentage ToleratedFailureCount Label",
}

// parseDefinition decodes (with UseNumber) and validates a definition.
func parseDefinition(def []byte) (*scope, error) {
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode definition: %w", err)
	}
	p := &parser{}
	sc := p.scope(raw, "", true)
	if len(p.errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidDefinition, strings.Join(p.errs, "; "))
	}
	return sc, nil
}

// parser collects every problem of a definition, each prefixed by where it is.
type parser struct {
	errs []string
}

func (p *parser) errorf(where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	p.errs = append(p.errs, msg)
}

func (p *parser) scope(raw map[string]any, where string, top bool) *scope {
	sc := &scope{States: map[string]*state{}}
	allowed := "StartAt States Comment Version"
	if top {
		allowed += " TimeoutSeconds QueryLanguage"
	} else {
		allowed += " ProcessorConfig"
	}
	for _, k := range sortedKeys(raw) {
		if !strings.Contains(" "+allowed+" ", " "+k+" ") {
			p.errorf(where, "unknown field %q", k)
		}
	}
	if ql, ok := raw["QueryLanguage"]; ok && ql != "JSONPath" {
		p.errorf(where, "QueryLanguage %v is not supported (only JSONPath)", ql)
	}
	sc.StartAt, _ = raw["StartAt"].(string)
	if sc.StartAt == "" {
		p.errorf(where, "StartAt is missing")
	}
	if t, ok := raw["TimeoutSeconds"]; ok {
		sc.TimeoutSeconds = p.posInt(where, "TimeoutSeconds", t)
	}
	states, ok := raw["States"].(map[string]any)
	if !ok || len(states) == 0 {
		p.errorf(where, "States is missing or empty")
		return sc
	}
	for _, name := range sortedKeys(states) {
		sw := strings.TrimPrefix(where+" state "+fmt.Sprintf("%q", name), " ")
		if len(name) > 80 {
			p.errorf(sw, "state names are limited to 80 characters")
		}
		m, ok := states[name].(map[string]any)
		if !ok {
			p.errorf(sw, "a state must be an object")
			continue
		}
		sc.States[name] = p.state(name, m, sw)
	}
	p.validateScope(sc, where)
	return sc
}

func (p *parser) state(name string, m map[string]any, where string) *state {
	st := &state{Name: name}
	st.Type, _ = m["Type"].(string)
	fields, known := stateFields[st.Type]
	if !known {
		p.errorf(where, "unknown state type %v", m["Type"])
		return st
	}
	for _, k := range sortedKeys(m) {
		switch k {
		case "Type", "Comment":
		case "Next", "End":
			if st.Type == "Choice" || st.Type == "Succeed" || st.Type == "Fail" {
				p.errorf(where, "a %s state cannot have %s", st.Type, k)
			}
		default:
			if !strings.Contains(" "+fields+" ", " "+k+" ") {
				p.errorf(where, "field %q is not supported by a %s state", k, st.Type)
			}
		}
	}
	if n, ok := m["Next"]; ok {
		if st.Next, ok = n.(string); !ok || st.Next == "" {
			p.errorf(where, "Next must be a state name")
		}
	}
	if e, ok := m["End"]; ok {
		if st.End, ok = e.(bool); !ok {
			p.errorf(where, "End must be a boolean")
		}
	}
	switch st.Type {
	case "Choice", "Succeed", "Fail":
	default:
		if st.End == (st.Next != "") {
			p.errorf(where, "a %s state needs exactly one of Next or \"End\": true", st.Type)
		}
	}
	st.InputPath = p.optPath(where, m, "InputPath", false)
	st.OutputPath = p.optPath(where, m, "OutputPath", false)
	st.ResultPath = p.optPath(where, m, "ResultPath", true)
	st.Parameters = p.tmpl(where, m, "Parameters")
	st.ResultSelector = p.tmpl(where, m, "ResultSelector")
	st.Result, st.HasResult = m["Result"]
	if st.HasResult {
		st.Result = normalize(st.Result)
	}
	if st.Type == "Task" || st.Type == "Parallel" || st.Type == "Map" {
		st.Retry = p.retry(where, m["Retry"])
		st.Catch = p.catch(where, m["Catch"])
	}
	switch st.Type {
	case "Task":
		p.task(st, m, where)
	case "Choice":
		p.choice(st, m, where)
	case "Wait":
		p.wait(st, m, where)
	case "Fail":
		st.Error, _ = m["Error"].(string)
		st.Cause, _ = m["Cause"].(string)
		st.ErrorPath = p.dynamicField(where, m, "ErrorPath")
		st.CausePath = p.dynamicField(where, m, "CausePath")
		if st.Error != "" && st.ErrorPath != nil || st.Cause != "" && st.CausePath != nil {
			p.errorf(where, "use either Error or ErrorPath, and either Cause or CausePath")
		}
	case "Parallel":
		branches, ok := m["Branches"].([]any)
		if !ok || len(branches) == 0 {
			p.errorf(where, "Branches must be a non-empty array")
		}
		for i, b := range branches {
			bm, ok := b.(map[string]any)
			if !ok {
				p.errorf(where, "branch %d must be an object", i)
				continue
			}
			st.Branches = append(st.Branches, p.scope(bm, fmt.Sprintf("%s branch %d", where, i), false))
		}
	case "Map":
		p.mapState(st, m, where)
	}
	return st
}

func (p *parser) task(st *state, m map[string]any, where string) {
	st.Resource, _ = m["Resource"].(string)
	res, err := parseResource(st.Resource, st.Parameters)
	if err != nil {
		p.errorf(where, "%v", err)
	}
	st.res = res
	if v, ok := m["TimeoutSeconds"]; ok {
		st.TimeoutSeconds = p.posInt(where, "TimeoutSeconds", v)
	}
	if v, ok := m["HeartbeatSeconds"]; ok {
		st.HeartbeatSeconds = p.posInt(where, "HeartbeatSeconds", v)
	}
	st.TimeoutPath = p.refPath(where, m, "TimeoutSecondsPath")
	st.HeartbeatPath = p.refPath(where, m, "HeartbeatSecondsPath")
	if st.TimeoutSeconds > 0 && st.TimeoutPath != nil || st.HeartbeatSeconds > 0 && st.HeartbeatPath != nil {
		p.errorf(where, "use either TimeoutSeconds or TimeoutSecondsPath, and either HeartbeatSeconds or HeartbeatSecondsPath")
	}
	if st.HeartbeatSeconds > 0 && st.TimeoutSeconds > 0 && st.HeartbeatSeconds >= st.TimeoutSeconds {
		p.errorf(where, "HeartbeatSeconds must be smaller than TimeoutSeconds")
	}
}

func (p *parser) choice(st *state, m map[string]any, where string) {
	list, ok := m["Choices"].([]any)
	if !ok || len(list) == 0 {
		p.errorf(where, "Choices must be a non-empty array")
	}
	for i, c := range list {
		r, err := parseChoiceRule(normalize(c), true)
		if err != nil {
			p.errorf(where, "choice %d: %v", i, err)
			continue
		}
		st.Choices = append(st.Choices, r)
	}
	if d, ok := m["Default"]; ok {
		if st.Default, ok = d.(string); !ok || st.Default == "" {
			p.errorf(where, "Default must be a state name")
		}
	}
}

func (p *parser) wait(st *state, m map[string]any, where string) {
	n := 0
	if v, ok := m["Seconds"]; ok {
		n++
		st.HasSeconds = true
		if i, ok := toInt(normalize(v)); ok && i >= 0 {
			st.Seconds = i
		} else {
			p.errorf(where, "Seconds must be a non-negative integer")
		}
	}
	if v, ok := m["Timestamp"]; ok {
		n++
		s, _ := v.(string)
		t, err := parseTimestamp(s)
		if err != nil {
			p.errorf(where, "Timestamp must be an RFC 3339 timestamp, got %v", v)
		}
		st.Timestamp = t
	}
	if st.SecondsPath = p.refPath(where, m, "SecondsPath"); st.SecondsPath != nil {
		n++
	}
	if st.TimestampPath = p.refPath(where, m, "TimestampPath"); st.TimestampPath != nil {
		n++
	}
	if n != 1 {
		p.errorf(where, "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath or TimestampPath")
	}
}

func (p *parser) mapState(st *state, m map[string]any, where string) {
	st.ItemsPath = p.refPath(where, m, "ItemsPath")
	st.ItemSelector = p.tmpl(where, m, "ItemSelector")
	if st.ItemSelector != nil && st.Parameters != nil {
		p.errorf(where, "use either ItemSelector or Parameters")
	}
	if st.ItemSelector == nil {
		// Parameters is the legacy name of ItemSelector in a Map state.
		st.ItemSelector, st.Parameters = st.Parameters, nil
	}
	if v, ok := m["MaxConcurrency"]; ok {
		if i, ok := toInt(normalize(v)); ok && i >= 0 {
			st.MaxConcurrency = i
		} else {
			p.errorf(where, "MaxConcurrency must be a non-negative integer")
		}
	}
	st.MaxConcurrencyPath = p.refPath(where, m, "MaxConcurrencyPath")
	proc, ok := m["ItemProcessor"].(map[string]any)
	if _, legacy := m["Iterator"]; legacy {
		if ok {
			p.errorf(where, "use either ItemProcessor or Iterator")
		}
		proc, ok = m["Iterator"].(map[string]any)
	}
	if !ok {
		p.errorf(where, "ItemProcessor is missing")
		return
	}
	if cfg, ok := proc["ProcessorConfig"].(map[string]any); ok {
		if mode, _ := cfg["Mode"].(string); mode != "" && mode != "INLINE" {
			p.errorf(where, "only INLINE Map states are supported, not %s", mode)
		}
	}
	st.Processor = p.scope(proc, where+" ItemProcessor", false)
}

func (p *parser) posInt(where, field string, v any) int64 {
	i, ok := toInt(normalize(v))
	if !ok || i <= 0 {
		p.errorf(where, "%s must be a positive integer", field)
	}
	return i
}

func (p *parser) optPath(where string, m map[string]any, field string, reference bool) optPath {
	v, ok := m[field]
	if !ok {
		return optPath{}
	}
	if v == nil {
		return optPath{null: true}
	}
	s, ok := v.(string)
	if !ok {
		p.errorf(where, "%s must be a string or null", field)
		return optPath{}
	}
	path, err := parsePath(s, reference)
	if err == nil && reference && path.ctx {
		err = fmt.Errorf("cannot write to the context object")
	}
	if err != nil {
		p.errorf(where, "%s: %v", field, err)
		return optPath{}
	}
	return optPath{path: path}
}

func (p *parser) refPath(where string, m map[string]any, field string) *jpath {
	v, ok := m[field]
	if !ok {
		return nil
	}
	s, _ := v.(string)
	path, err := parsePath(s, true)
	if err != nil {
		p.errorf(where, "%s: %v", field, err)
		return nil
	}
	return path
}

func (p *parser) tmpl(where string, m map[string]any, field string) *tmpl {
	v, ok := m[field]
	if !ok {
		return nil
	}
	if _, isObj := v.(map[string]any); !isObj {
		p.errorf(where, "%s must be an object", field)
		return nil
	}
	t, err := compileTmpl(normalize(v))
	if err != nil {
		p.errorf(where, "%s: %v", field, err)
		return nil
	}
	return t
}

// dynamicField compiles ErrorPath/CausePath: a path or an intrinsic.
func (p *parser) dynamicField(where string, m map[string]any, field string) *tmpl {
	v, ok := m[field]
	if !ok {
		return nil
	}
	t, err := compileDynamic(field, v)
	if err != nil {
		p.errorf(where, "%v", err)
		return nil
	}
	return t
}

func (p *parser) errorEquals(where string, m map[string]any, last bool) []string {
	list, ok := m["ErrorEquals"].([]any)
	if !ok || len(list) == 0 {
		p.errorf(where, "ErrorEquals must be a non-empty array of error names")
		return nil
	}
	var out []string
	for _, e := range list {
		s, ok := e.(string)
		if !ok || s == "" {
			p.errorf(where, "ErrorEquals must hold error names")
			continue
		}
		if s == ErrorAll && (len(list) != 1 || !last) {
			p.errorf(where, "States.ALL must appear alone in the last ErrorEquals")
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) retry(where string, raw any) []*retrier {
	if raw == nil {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		p.errorf(where, "Retry must be an array")
		return nil
	}
	var out []*retrier
	for i, e := range list {
		w := fmt.Sprintf("%s Retry[%d]", where, i)
		m, ok := e.(map[string]any)
		if !ok {
			p.errorf(w, "a retrier must be an object")
			continue
		}
		r := &retrier{IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2}
		r.ErrorEquals = p.errorEquals(w, m, i == len(list)-1)
		for _, k := range sortedKeys(m) {
			v := normalize(m[k])
			f, isNum := toFloat(v)
			switch k {
			case "ErrorEquals", "Comment":
			case "IntervalSeconds":
				if n, ok := toInt(v); ok && n >= 1 {
					r.IntervalSeconds = float64(n)
				} else {
					p.errorf(w, "IntervalSeconds must be a positive integer")
				}
			case "MaxAttempts":
				if n, ok := toInt(v); ok && n >= 0 {
					r.MaxAttempts = int(n)
				} else {
					p.errorf(w, "MaxAttempts must be a non-negative integer")
				}
			case "BackoffRate":
				if !isNum || f < 1 {
					p.errorf(w, "BackoffRate must be a number >= 1.0")
				}
				r.BackoffRate = f
			case "MaxDelaySeconds":
				if n, ok := toInt(v); ok && n >= 1 {
					r.MaxDelaySeconds = float64(n)
				} else {
					p.errorf(w, "MaxDelaySeconds must be a positive integer")
				}
			case "JitterStrategy":
				switch v {
				case "FULL":
					r.FullJitter = true
				case "NONE":
				default:
					p.errorf(w, "JitterStrategy must be FULL or NONE")
				}
			default:
				p.errorf(w, "unknown field %q", k)
			}
		}
		out = append(out, r)
	}
	return out
}

func (p *parser) catch(where string, raw any) []*catcher {
	if raw == nil {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		p.errorf(where, "Catch must be an array")
		return nil
	}
	var out []*catcher
	for i, e := range list {
		w := fmt.Sprintf("%s Catch[%d]", where, i)
		m, ok := e.(map[string]any)
		if !ok {
			p.errorf(w, "a catcher must be an object")
			continue
		}
		c := &catcher{ErrorEquals: p.errorEquals(w, m, i == len(list)-1)}
		c.Next, _ = m["Next"].(string)
		if c.Next == "" {
			p.errorf(w, "Next is missing")
		}
		c.ResultPath = p.optPath(w, m, "ResultPath", true)
		for _, k := range sortedKeys(m) {
			if k != "ErrorEquals" && k != "Next" && k != "ResultPath" && k != "Comment" {
				p.errorf(w, "unknown field %q", k)
			}
		}
		out = append(out, c)
	}
	return out
}
