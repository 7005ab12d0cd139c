package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The model: what the config says, checked for shape and types, with
// positions kept for errors. Reusable pieces (commands, executors, jobs,
// orbs) are definitions in scopes (scope.go); workflows hold invocations,
// one per job of the workflow after matrix expansion, each with its job
// expanded (expand.go) and parsed into the Plan's types (jobs.go, steps.go).

// workflowDef is one entry under `workflows`.
type workflowDef struct {
	name string
	node *yaml.Node
	path string
	jobs []*invocationDef
	// triggers are its schedules; hasTriggers marks a scheduled workflow,
	// which runs only on its schedule, never for a push.
	triggers    []trigger
	hasTriggers bool
	// enabled is false when its when/unless says it does not run;
	// implicit marks the workflow of a config without workflows.
	enabled, implicit bool
}

// trigger is one `triggers` schedule.
type trigger struct {
	node    *yaml.Node
	cron    string
	filters filters
}

// invocationDef is one job of a workflow: an entry of its `jobs`, or one
// combination of an entry's matrix.
type invocationDef struct {
	// node locates the entry and path is its key ("workflows.main.jobs[2]");
	// optKey is its options' ("workflows.main.jobs[2].build").
	node         *yaml.Node
	path, optKey string
	// jobName is the job's name as the entry writes it ("build",
	// "node/test"); name the invocation's (the `name` option, the matrix's
	// generated name, or jobName).
	jobName, name string
	// typ is JobTypeBuild, JobTypeApproval or JobTypeNoOp.
	typ      string
	requires []requirementDef
	contexts []string
	filters  filters
	// contextNode and filtersNode are the options as written, for the
	// processed config.
	contextNode, filtersNode *yaml.Node
	serialGroup              string
	// args are the job's arguments; preSteps and postSteps the steps
	// around its own.
	args                []pair
	preSteps, postSteps *yaml.Node
	// source is the index of the workflow entry it comes from; alias is the
	// name of its matrix ("" when it has none) and matrix its combination.
	source int
	alias  string
	matrix *matrixCombo
	// job is the expanded job and compiled its parse; ok when both
	// succeeded. branches is a 2.0 job's own branch filter.
	job      *expandedJob
	compiled Job
	branches *patternFilter
	ok       bool
}

// requirementDef is one `requires` entry with its position.
type requirementDef struct {
	Requirement
	node *yaml.Node
}

// filters is a workflow job's `filters`; nil members were not given. expr
// is the value of filters written as an expression, which alone decides.
type filters struct {
	branches, tags *patternFilter
	expr           *bool
}

// parser parses nodes of one file into the model, recording every problem
// it meets and carrying on, so one run reports them all.
type parser struct {
	*errs
	// v21 is set for version 2.1, whose steps may be command invocations.
	v21 bool
}

// parseVersion accepts 2, 2.0 and 2.1, as numbers or strings.
func (p *parser) parseVersion(root, n *yaml.Node) string {
	if n == nil {
		p.at(root, "version", "is required (2, 2.0 or 2.1)")
		return ""
	}
	r := resolve(n)
	if r.Kind == yaml.ScalarNode {
		switch r.Value {
		case "2", "2.0":
			return "2.0"
		case "2.1":
			return "2.1"
		}
	}
	v := r.Value
	if r.Kind != yaml.ScalarNode {
		v = describe(r)
	}
	p.at(n, "version", "unsupported version %q: use 2, 2.0 or 2.1", v)
	return ""
}

// mapping returns n's entries, or records an error if n is not a mapping.
func (p *parser) mapping(n *yaml.Node, key string) ([]pair, bool) {
	if r := resolve(n); r == nil || r.Kind != yaml.MappingNode {
		p.at(n, key, "must be a mapping, not %s", describe(n))
		return nil, false
	}
	return pairs(n), true
}

// sequence returns n's items, or records an error if n is not a list.
func (p *parser) sequence(n *yaml.Node, key string) ([]*yaml.Node, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.SequenceNode {
		p.at(n, key, "must be a list, not %s", describe(n))
		return nil, false
	}
	return r.Content, true
}

// str accepts any non-null scalar (`xcode: 15.0` is a string to CircleCI).
func (p *parser) str(n *yaml.Node, key string) (string, bool) {
	r := resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || r.ShortTag() == "!!null" {
		p.at(n, key, "must be a string, not %s", describe(n))
		return "", false
	}
	return scalarString(r), true
}

func (p *parser) boolean(n *yaml.Node, key string) (bool, bool) {
	r := resolve(n)
	var b bool
	if r == nil || r.Kind != yaml.ScalarNode || r.ShortTag() != "!!bool" || r.Decode(&b) != nil {
		p.at(n, key, "must be true or false, not %s", describe(n))
		return false, false
	}
	return b, true
}

func (p *parser) integer(n *yaml.Node, key string) (int, bool) {
	r := resolve(n)
	var i int
	if r == nil || r.Kind != yaml.ScalarNode || r.ShortTag() != "!!int" || r.Decode(&i) != nil {
		p.at(n, key, "must be an integer, not %s", describe(n))
		return 0, false
	}
	return i, true
}

// strings accepts a string or a list of strings.
func (p *parser) strings(n *yaml.Node, key string) ([]string, bool) {
	r := resolve(n)
	if r != nil && r.Kind == yaml.SequenceNode {
		out := make([]string, 0, len(r.Content))
		ok := true
		for i, item := range r.Content {
			s, good := p.str(item, indexKey(key, i))
			ok = ok && good
			out = append(out, s)
		}
		return out, ok
	}
	if r == nil || r.Kind != yaml.ScalarNode || r.ShortTag() == "!!null" {
		p.at(n, key, "must be a string or a list of strings, not %s", describe(n))
		return nil, false
	}
	return []string{scalarString(r)}, true
}

// checkKeys records an error for each key not in allowed.
func (p *parser) checkKeys(kvs []pair, key string, allowed ...string) bool {
	ok := true
	for _, kv := range kvs {
		if !slices.Contains(allowed, kv.key) {
			p.at(kv.k, joinKey(key, kv.key), "unknown key %q (allowed: %s)", kv.key, joinAllowed(allowed))
			ok = false
		}
	}
	return ok
}

func joinAllowed(allowed []string) string { return strings.Join(allowed, ", ") }

// env parses an environment: a mapping, or a list of mappings or of
// "NAME=value" strings, in order; a name given twice keeps its first place
// and its last value.
func (p *parser) env(n *yaml.Node, key string) ([]EnvVar, bool) {
	var out []EnvVar
	ok := true
	index := map[string]int{}
	set := func(name, value string) {
		if i, dup := index[name]; dup {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, EnvVar{Name: name, Value: value})
	}
	addMap := func(m *yaml.Node, key string) {
		kvs, good := p.mapping(m, key)
		ok = ok && good
		for _, kv := range kvs {
			r := resolve(kv.v)
			if r.Kind != yaml.ScalarNode {
				p.at(kv.v, joinKey(key, kv.key), "environment values must be strings, numbers or booleans, not %s", describe(r))
				ok = false
				continue
			}
			set(kv.key, scalarString(r))
		}
	}
	switch r := resolve(n); {
	case isNull(r):
	case r.Kind == yaml.MappingNode:
		addMap(n, key)
	case r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str" && strings.Contains(r.Value, "="):
		// A single NAME=value string.
		name, value, _ := strings.Cut(r.Value, "=")
		if name == "" {
			p.at(n, key, "must be a mapping or a NAME=value string, not %q", r.Value)
			ok = false
			break
		}
		set(name, value)
	case r.Kind == yaml.SequenceNode:
		for i, item := range r.Content {
			ri := resolve(item)
			if ri.Kind != yaml.ScalarNode || ri.ShortTag() != "!!str" {
				addMap(item, indexKey(key, i))
				continue
			}
			name, value, found := strings.Cut(ri.Value, "=")
			if !found || name == "" {
				p.at(item, indexKey(key, i), "must be a mapping or a NAME=value string, not %q", ri.Value)
				ok = false
				continue
			}
			set(name, value)
		}
	default:
		p.at(n, key, "must be a mapping or a list of mappings, not %s", describe(r))
		ok = false
	}
	return out, ok
}
