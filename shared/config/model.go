package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The typed model: what the config says, checked for shape and types, with
// positions kept for the compile step's errors. Values are not yet
// specialized to a pipeline (no filters applied, no defaults of the
// implicit 2.0 workflow). The next change adds orbs, commands, executors
// and parameters here; until then their top-level sections are kept raw.

// config is a parsed config.yml.
type config struct {
	// version is "2.0" or "2.1".
	version string
	// root is the document's root mapping.
	root *yaml.Node
	// jobs are the job definitions in file order; jobIndex finds them by
	// name (it also holds jobs whose definition had errors).
	jobs     []*jobDef
	jobIndex map[string]*jobDef
	// workflows are the workflows in file order; hasWorkflows tells an
	// absent section (the 2.0 implicit workflow) from an empty one.
	workflows    []*workflowDef
	hasWorkflows bool
	// setup is `setup: true` (dynamic configuration).
	setup bool
	// Sections the next change compiles; kept as nodes.
	orbs, commands, executors, parameters *yaml.Node
}

// jobDef is one entry under `jobs`.
type jobDef struct {
	name string
	// node is the job's mapping and path its key ("jobs.build").
	node *yaml.Node
	path string
	// job is the parsed job, defaults applied; valid only if ok.
	job Job
	ok  bool
	// branches is the 2.0 job-level branch filter, used only by the
	// implicit workflow.
	branches *patternFilter
}

// workflowDef is one entry under `workflows`.
type workflowDef struct {
	name string
	node *yaml.Node
	path string
	jobs []*invocationDef
	// triggers marks a scheduled workflow (2.0 `triggers`), which runs only
	// on its schedule, never for a push.
	triggers *yaml.Node
}

// invocationDef is one entry of a workflow's `jobs`.
type invocationDef struct {
	// node locates the entry and path is its key ("workflows.main.jobs[2]").
	node *yaml.Node
	path string
	// jobName is the definition's name; name the invocation's (the `name`
	// override or jobName).
	jobName, name string
	// typ is JobTypeBuild or JobTypeApproval.
	typ      string
	requires []requirementDef
	contexts []string
	filters  filters
}

// requirementDef is one `requires` entry with its position.
type requirementDef struct {
	Requirement
	node *yaml.Node
}

// filters is a workflow job's `filters`; nil members were not given.
type filters struct {
	branches, tags *patternFilter
}

// parser turns the checked node tree into the model, recording every
// problem it meets and carrying on, so one run reports them all.
type parser struct {
	*errs
	// v21 is set for version 2.1, whose steps may be command invocations.
	v21 bool
}

// Top-level keys with a meaning. Other top-level keys are ignored, as
// CircleCI ignores them: configs keep YAML anchors under keys such as
// `references` or `defaults`.
var topLevelKeys = []string{"version", "jobs", "workflows", "orbs", "commands", "executors", "parameters", "setup"}

func (p *parser) parseConfig(root *yaml.Node) *config {
	c := &config{root: root, jobIndex: map[string]*jobDef{}}
	var jobs, workflows, version *yaml.Node
	for _, kv := range pairs(root) {
		switch kv.key {
		case "version":
			version = kv.v
		case "jobs":
			jobs = kv.v
		case "workflows":
			workflows = kv.v
		case "orbs":
			c.orbs = kv.v
		case "commands":
			c.commands = kv.v
		case "executors":
			c.executors = kv.v
		case "parameters":
			c.parameters = kv.v
		case "setup":
			// `setup` may be a pipeline value template in 2.1; only a
			// literal boolean is read now.
			if r := resolve(kv.v); r.Kind == yaml.ScalarNode && r.ShortTag() == "!!bool" {
				c.setup, _ = p.boolean(kv.v, "setup")
			}
		}
	}
	c.version = p.parseVersion(root, version)
	p.v21 = c.version == "2.1"
	if jobs != nil {
		p.parseJobs(c, jobs)
	}
	if workflows != nil {
		c.hasWorkflows = true
		p.parseWorkflows(c, workflows)
	}
	return c
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
