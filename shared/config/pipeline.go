package config

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// PipelineValues are the pipeline.* values a 2.1 config may interpolate
// (`<< pipeline.git.branch >>`). A value that is not known resolves to the
// empty string, as CircleCI resolves values it does not have.
type PipelineValues struct {
	// ID is pipeline.id, the pipeline's UUID.
	ID string `json:"id,omitempty"`
	// Number is pipeline.number.
	Number int64 `json:"number,omitempty"`
	// ProjectGitURL is pipeline.project.git_url.
	ProjectGitURL string `json:"project_git_url,omitempty"`
	// ProjectType is pipeline.project.type ("github", "bitbucket", "local").
	ProjectType string `json:"project_type,omitempty"`
	// ProjectSlug is pipeline.project.slug ("gh/org/repo").
	ProjectSlug string `json:"project_slug,omitempty"`
	// GitBranch is pipeline.git.branch; Options.Branch when empty.
	GitBranch string `json:"git_branch,omitempty"`
	// GitTag is pipeline.git.tag; Options.Tag when empty.
	GitTag string `json:"git_tag,omitempty"`
	// GitRevision is pipeline.git.revision; Options.Revision when empty.
	GitRevision string `json:"git_revision,omitempty"`
	// GitBaseRevision is pipeline.git.base_revision, the revision before
	// the push.
	GitBaseRevision string `json:"git_base_revision,omitempty"`
	// TriggerSource is pipeline.trigger_source ("webhook", "api",
	// "scheduled_pipeline").
	TriggerSource string `json:"trigger_source,omitempty"`
	// ScheduleName is pipeline.schedule.name for a scheduled pipeline.
	ScheduleName string `json:"schedule_name,omitempty"`
}

// pipelineValueNames lists every pipeline.* value a config may use, with how
// to read it from PipelineValues. pipeline.parameters.* is separate.
var pipelineValueNames = map[string]func(v *PipelineValues) any{
	"id":                func(v *PipelineValues) any { return v.ID },
	"number":            func(v *PipelineValues) any { return v.Number },
	"project.git_url":   func(v *PipelineValues) any { return v.ProjectGitURL },
	"project.type":      func(v *PipelineValues) any { return v.ProjectType },
	"project.slug":      func(v *PipelineValues) any { return v.ProjectSlug },
	"git.branch":        func(v *PipelineValues) any { return v.GitBranch },
	"git.tag":           func(v *PipelineValues) any { return v.GitTag },
	"git.revision":      func(v *PipelineValues) any { return v.GitRevision },
	"git.base_revision": func(v *PipelineValues) any { return v.GitBaseRevision },
	"trigger_source":    func(v *PipelineValues) any { return v.TriggerSource },
	"schedule.name":     func(v *PipelineValues) any { return v.ScheduleName },
	"schedule.id":       func(*PipelineValues) any { return "" },
}

// pipelineScope holds the resolved pipeline values and parameters of one
// compilation, as YAML nodes ready to be substituted.
type pipelineScope struct {
	values map[string]*yaml.Node
	// params are pipeline.parameters.*, declared by the config's top-level
	// `parameters`; nil when the config declares none.
	params map[string]*yaml.Node
}

func newPipelineScope(opts Options) *pipelineScope {
	v := opts.PipelineValues
	if v.GitBranch == "" {
		v.GitBranch = opts.Branch
	}
	if v.GitTag == "" {
		v.GitTag = opts.Tag
	}
	if v.GitRevision == "" {
		v.GitRevision = opts.Revision
	}
	s := &pipelineScope{values: make(map[string]*yaml.Node, len(pipelineValueNames))}
	for name, get := range pipelineValueNames {
		s.values[name] = valueNode(get(&v))
	}
	return s
}

// valueNode makes a node from a plain value: what a pipeline value or a
// pipeline parameter given through the API becomes in the config.
func valueNode(v any) *yaml.Node {
	switch x := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case string:
		return strNode(x)
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(x), 10)}
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(x, 'g', -1, 64)}
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: x.String()}
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: x.String()}
	}
	// Lists and maps are not valid parameter values; their text form makes
	// the type check say so.
	b, _ := json.Marshal(v)
	return strNode(string(b))
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// pipelineParamTypes are the types a pipeline parameter may have.
var pipelineParamTypes = []string{"string", "boolean", "integer", "enum"}

// bindPipelineParameters checks the values the pipeline was triggered with
// against the config's top-level `parameters` and fills s.params.
func (c *compiler) bindPipelineParameters(decl *yaml.Node, given map[string]any) {
	p := c.parser
	if decl == nil {
		if len(given) > 0 {
			p.at(c.rootNode, "parameters", "the pipeline was given parameters (%s) but the config declares none", strings.Join(sortedKeys(given), ", "))
		}
		return
	}
	set := c.parseParams(p, decl, "parameters", pipelineParamTypes)
	c.pipe.params = make(map[string]*yaml.Node, len(set.list))
	for _, name := range sortedKeys(given) {
		d := set.byName[name]
		if d == nil {
			p.at(decl, "parameters", "the pipeline was given parameter %q, which the config does not declare (declared: %s)", name, set.names())
			continue
		}
		v := coercePipelineParameter(d, given[name])
		v.Line, v.Column = d.node.Line, d.node.Column // where it is declared
		if n, ok := c.checkValue(p, d, v, joinKey("parameters", name)); ok {
			c.pipe.params[name] = n
		}
	}
	for _, d := range set.list {
		if _, ok := c.pipe.params[d.name]; ok {
			continue
		}
		if _, given := given[d.name]; given {
			continue // its type error is reported
		}
		if d.def == nil {
			p.at(d.node, d.path, "pipeline parameter %q has no default and the pipeline was not given a value", d.name)
			continue
		}
		c.pipe.params[d.name] = d.def
	}
}

// coercePipelineParameter turns a value given as text (`--pipeline-parameters
// n=3`) into the declared boolean or integer.
func coercePipelineParameter(d *paramDecl, v any) *yaml.Node {
	s, isString := v.(string)
	if isString {
		switch d.typ {
		case "boolean":
			if b, err := strconv.ParseBool(s); err == nil {
				return valueNode(b)
			}
		case "integer":
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return valueNode(i)
			}
		}
	}
	return valueNode(v)
}

// ParsePipelineParameters reads pipeline parameters as the CLI takes them:
// a JSON object ({"deploy": true}), or comma-separated name=value pairs
// (deploy=true,region=eu) whose values Compile converts to the declared
// boolean or integer type.
func ParsePipelineParameters(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "{") {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			return nil, fmt.Errorf("pipeline parameters: %w", err)
		}
		return m, nil
	}
	m := map[string]any{}
	for kv := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(kv, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("pipeline parameters: %q is not name=value", kv)
		}
		m[name] = value
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
