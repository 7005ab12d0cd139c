package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Process returns the config as `circleci config process` prints it, in
// meaning: a version 2 document with orbs, commands, executors, parameters
// and matrices expanded, anchors and merge keys resolved, and the workflows
// whose when/unless says no left out. Each job invocation becomes a job
// named after the invocation; filters, requires, contexts and triggers stay
// for the pipeline to apply. Its errors are Compile's.
func Process(src []byte, opts Options) ([]byte, error) {
	c := newCompiler(opts)
	if !c.load(src) {
		return nil, c.errors()
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c.processed()); err != nil {
		return nil, fmt.Errorf("encode processed config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode processed config: %w", err)
	}
	return buf.Bytes(), nil
}

// processed builds the processed document.
func (c *compiler) processed() *yaml.Node {
	c.styles = map[string]yaml.Style{}
	doc := newMap()
	addKey(doc, "version", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "2"})
	if c.setup {
		addKey(doc, "setup", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	jobs, workflows := newMap(), newMap()
	addKey(workflows, "version", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "2"})
	// rendered keeps each job name's body, so two invocations with the
	// same name and the same job share it and different ones do not.
	rendered := map[string]*yaml.Node{}
	jobKey := func(inv *invocationDef) string {
		body := c.renderJob(inv)
		for i := 1; ; i++ {
			key := inv.name
			if i > 1 {
				key += "-" + strconv.Itoa(i)
			}
			prev, taken := rendered[key]
			if !taken {
				rendered[key] = body
				addKey(jobs, key, body)
				return key
			}
			if sameNodes(prev, body) {
				return key
			}
		}
	}
	for _, w := range c.workflows {
		if !w.enabled || w.implicit {
			continue
		}
		wf := newMap()
		if len(w.triggers) > 0 {
			triggers := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for _, t := range w.triggers {
				item := newMap()
				addKey(item, "schedule", c.materialize(t.node))
				triggers.Content = append(triggers.Content, item)
			}
			addKey(wf, "triggers", triggers)
		}
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, inv := range w.jobs {
			key := inv.name
			if inv.typ != JobTypeApproval {
				key = jobKey(inv)
			}
			list.Content = append(list.Content, c.renderInvocation(inv, key))
		}
		addKey(wf, "jobs", list)
		addKey(workflows, w.name, wf)
	}
	for _, w := range c.workflows {
		if w.implicit {
			for _, inv := range w.jobs {
				jobKey(inv)
			}
		}
	}
	for _, inv := range c.unused {
		if _, taken := rendered[inv.name]; !taken && inv.job != nil {
			jobKey(inv)
		}
	}
	addKey(doc, "jobs", jobs)
	if len(workflows.Content) > 2 {
		addKey(doc, "workflows", workflows)
	}
	return doc
}

// renderJob is an invocation's expanded job as a 2.0 job mapping.
func (c *compiler) renderJob(inv *invocationDef) *yaml.Node {
	m := newMap()
	x := inv.job
	if x == nil {
		return m
	}
	for _, f := range x.fields {
		addKey(m, f.key, c.materialize(f.v))
	}
	if x.hasSteps {
		steps := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, s := range x.steps {
			steps.Content = append(steps.Content, c.materialize(s.node))
		}
		addKey(m, "steps", steps)
	}
	return m
}

// renderInvocation is a workflow's entry for an invocation of job key.
func (c *compiler) renderInvocation(inv *invocationDef, key string) *yaml.Node {
	opts := newMap()
	if key != inv.name {
		addKey(opts, "name", strNode(inv.name))
	}
	if inv.typ == JobTypeApproval {
		addKey(opts, "type", strNode(JobTypeApproval))
	}
	if len(inv.requires) > 0 {
		reqs := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, r := range inv.requires {
			if len(r.Statuses) == 1 && r.Statuses[0] == StatusSuccess {
				reqs.Content = append(reqs.Content, strNode(r.Name))
				continue
			}
			statuses := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for _, s := range r.Statuses {
				statuses.Content = append(statuses.Content, strNode(s))
			}
			item := newMap()
			addKey(item, r.Name, statuses)
			reqs.Content = append(reqs.Content, item)
		}
		addKey(opts, "requires", reqs)
	}
	if inv.contextNode != nil {
		addKey(opts, "context", c.materialize(inv.contextNode))
	}
	if inv.filtersNode != nil {
		addKey(opts, "filters", c.materialize(inv.filtersNode))
	}
	if inv.serialGroup != "" {
		addKey(opts, "serial-group", strNode(inv.serialGroup))
	}
	if len(opts.Content) == 0 {
		return strNode(key)
	}
	entry := newMap()
	addKey(entry, key, opts)
	return entry
}

func newMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func addKey(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, strNode(key), v)
}

// materialize copies a value for output in block style, as `circleci
// config process` prints: aliases and merge keys resolved, anchors,
// comments and positions dropped.
func (c *compiler) materialize(n *yaml.Node) *yaml.Node {
	n = resolve(n)
	if n == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, kv := range pairs(n) {
			m.Content = append(m.Content, c.materialize(kv.k), c.materialize(kv.v))
		}
		return m
	case yaml.SequenceNode:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, len(n.Content))}
		for i, item := range n.Content {
			s.Content[i] = c.materialize(item)
		}
		return s
	}
	// The YAML encoder refuses invalid UTF-8 (a \xff escape, a branch name
	// that is not text); such bytes print as U+FFFD, as in the Plan's JSON.
	value := strings.ToValidUTF8(n.Value, "\uFFFD")
	style := n.Style &^ yaml.TaggedStyle
	if strings.Contains(value, "\n") {
		style = c.multilineStyle(value)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: n.Tag, Value: value, Style: style}
}

// multilineStyle is the literal block style when the YAML encoder writes it
// back faithfully, else double quotes: yaml.v3 loses a leading blank line
// and mangles tab-indented first lines in block styles.
func (c *compiler) multilineStyle(s string) yaml.Style {
	if st, ok := c.styles[s]; ok {
		return st
	}
	style := yaml.DoubleQuotedStyle
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.LiteralStyle}
	if b, err := yaml.Marshal(n); err == nil {
		var back string
		if yaml.Unmarshal(b, &back) == nil && back == s {
			style = yaml.LiteralStyle
		}
	}
	c.styles[s] = style // processed jobs repeat their scripts
	return style
}

// sameNodes compares two materialized documents exactly.
func sameNodes(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || a.Style != b.Style || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !sameNodes(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}
