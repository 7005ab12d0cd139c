package config

import (
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// builtinStepSpecs are the built-in steps other than run and checkout:
// the keys each uses, as CircleCI's schema for config.yml lists them
// (circleci-yaml-language-server's schema.json), and the name CircleCI
// shows when none is given. CircleCI accepts other keys on these steps and
// does not use them; Orbit does the same and warns (see tolerate).
var builtinStepSpecs = map[string]struct {
	keys []string
	name string
}{
	StepSaveCache:          {[]string{"paths", "key", "name", "when"}, "Saving cache"},
	StepRestoreCache:       {[]string{"key", "keys", "name"}, "Restoring cache"},
	StepStoreArtifacts:     {[]string{"path", "destination", "name"}, "Uploading artifacts"},
	StepStoreTestResults:   {[]string{"path", "name"}, "Uploading test results"},
	StepPersistToWorkspace: {[]string{"root", "paths", "name"}, "Persisting to workspace"},
	StepAttachWorkspace:    {[]string{"at", "name"}, "Attaching workspace"},
	StepAddSSHKeys:         {[]string{"fingerprints"}, "Installing additional ssh keys"},
	StepSetupRemoteDocker:  {[]string{"docker_layer_caching", "version"}, "Setup a remote Docker engine"},
}

// checkoutKeys are the keys checkout uses (CircleCI's schema).
var checkoutKeys = []string{"path", "method", "depth"}

var runKeys = []string{
	"command", "name", "shell", "environment", "background", "working_directory",
	"no_output_timeout", "when", "max_auto_reruns", "auto_rerun_delay",
}

// alwaysRuns are the steps CircleCI runs whether or not an earlier step
// failed, so a failed job still has its artifacts and test results (the
// failing test among them, and its timings for the next split).
var alwaysRuns = []string{StepStoreArtifacts, StepStoreTestResults}

// tolerate warns about each key of a built-in step that the step does not
// use (uses lists them), and reports whether the step's `name` is among
// them (a display name: Orbit shows it, though CircleCI's schema does not
// list it for that step). CircleCI accepts such keys and ignores them, so
// refusing them would refuse configs CircleCI runs.
func (p *parser) tolerate(kvs []pair, key, step string, uses []string) {
	for _, kv := range kvs {
		if slices.Contains(uses, kv.key) {
			continue
		}
		fkey := joinKey(key, kv.key)
		switch {
		case kv.key == "name":
			p.warn(kv.k, fkey, "%s has no name in CircleCI's schema; CircleCI accepts it, and Orbit shows it as the step's name", step)
		case kv.key == "when" && slices.Contains(alwaysRuns, step):
			p.warn(kv.k, fkey, "has no effect: %s runs whether or not earlier steps failed, as on CircleCI", step)
		case kv.key == "when":
			p.warn(kv.k, fkey, "has no effect on %s (CircleCI honours when only on run and save_cache): the step runs only while earlier steps succeed", step)
		case step == StepSetupRemoteDocker && (kv.key == "reusable" || kv.key == "exclusive"):
			p.warn(kv.k, fkey, "is deprecated and has no effect")
		default:
			p.warn(kv.k, fkey, "unknown key %q is ignored: CircleCI accepts keys %s does not use and ignores them (it uses: %s)", kv.key, step, joinAllowed(uses))
		}
	}
}

// checkoutName is the name CircleCI shows for checkout.
const checkoutName = "Checkout code"

// parseSteps parses a job's step list.
func (p *parser) parseSteps(n *yaml.Node, key string) []Step {
	items, ok := p.sequence(n, key)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.at(n, key, "must not be empty")
		return nil
	}
	steps := make([]Step, 0, len(items))
	for i, item := range items {
		if s, ok := p.parseStep(item, indexKey(key, i)); ok {
			steps = append(steps, s)
		}
	}
	return steps
}

// parseStep parses `- name` or `- name: args`.
func (p *parser) parseStep(n *yaml.Node, key string) (Step, bool) {
	r := resolve(n)
	switch {
	case r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str":
		return p.parseStepArgs(r.Value, n, nil, key)
	case r.Kind == yaml.MappingNode:
		kvs := pairs(r)
		if legacy, ok := legacyStep(kvs); ok {
			return p.parseLegacyStep(n, legacy, kvs, key)
		}
		if len(kvs) != 1 {
			p.at(n, key, "a step is a mapping with exactly one key (the step name), not %d keys", len(kvs))
			return Step{}, false
		}
		return p.parseStepArgs(kvs[0].key, kvs[0].k, kvs[0].v, joinKey(key, kvs[0].key))
	}
	p.at(n, key, "a step is a step name or a mapping of a step name to its arguments, not %s", describe(r))
	return Step{}, false
}

// parseStepArgs parses step `name` with arguments args (nil for the bare
// string form); at locates the step's name.
func (p *parser) parseStepArgs(name string, at, args *yaml.Node, key string) (Step, bool) {
	before := p.count()
	var s Step
	switch name {
	case StepCheckout:
		s = p.parseCheckout(args, key)
	case StepRun, "deploy": // deploy is the deprecated twin of run
		s = p.parseRun(at, args, key)
	default:
		spec, known := builtinStepSpecs[name]
		if !known {
			if p.v21 {
				p.at(at, key, "unknown step or command %q", name)
			} else {
				p.at(at, key, "unknown step %q", name)
			}
			return Step{}, false
		}
		s = Step{Type: name, Name: spec.name}
		var kvs []pair
		if !isNull(args) {
			var ok bool
			if kvs, ok = p.mapping(args, key); !ok {
				return s, false
			}
			p.tolerate(kvs, key, name, spec.keys)
		}
		p.parseBuiltin(&s, at, used(kvs, spec.keys), key)
	}
	return s, p.count() == before
}

// parseBuiltin fills a built-in step's typed fields and checks the ones
// it needs.
func (p *parser) parseBuiltin(s *Step, at *yaml.Node, kvs []pair, key string) {
	has := map[string]bool{}
	for _, kv := range kvs {
		fkey := joinKey(key, kv.key)
		has[kv.key] = true
		switch kv.key {
		case "name":
			if v, ok := p.str(kv.v, fkey); ok {
				s.Name = v
			}
		case "paths":
			s.Paths, _ = p.strings(kv.v, fkey)
		case "key":
			if v, ok := p.str(kv.v, fkey); ok {
				s.Key = v
				if s.Type == StepRestoreCache {
					s.Keys = append([]string{v}, s.Keys...)
				}
			}
		case "keys":
			keys, _ := p.strings(kv.v, fkey)
			s.Keys = append(s.Keys, keys...)
		case "when":
			s.When = p.when(kv.v, fkey)
		case "path":
			s.Path, _ = p.str(kv.v, fkey)
		case "destination":
			s.Destination, _ = p.str(kv.v, fkey)
		case "root":
			s.Root, _ = p.str(kv.v, fkey)
		case "at":
			s.At, _ = p.str(kv.v, fkey)
		case "fingerprints":
			s.Fingerprints, _ = p.strings(kv.v, fkey)
		case "docker_layer_caching":
			s.DockerLayerCaching, _ = p.boolean(kv.v, fkey)
		case "version":
			s.Version, _ = p.str(kv.v, fkey)
		}
	}
	if slices.Contains(alwaysRuns, s.Type) {
		s.When = WhenAlways
	}
	if s.Type == StepRestoreCache && s.Key != "" {
		s.Key = "" // restore_cache's key is the first of Keys
	}
	need := func(field string) {
		if !has[field] {
			p.at(at, joinKey(key, field), "is required")
		}
	}
	switch s.Type {
	case StepSaveCache:
		need("key")
		need("paths")
		if s.When == "" {
			s.When = WhenOnSuccess
		}
	case StepRestoreCache:
		if !has["key"] && !has["keys"] {
			p.at(at, joinKey(key, "keys"), "is required: give key or keys")
		}
	case StepStoreArtifacts, StepStoreTestResults:
		need("path")
	case StepPersistToWorkspace:
		need("root")
		need("paths")
	case StepAttachWorkspace:
		need("at")
	}
}

// used are the pairs whose key is in uses, or is name (tolerate explains
// why a name is kept).
func used(kvs []pair, uses []string) []pair {
	var out []pair
	for _, kv := range kvs {
		if kv.key == "name" || slices.Contains(uses, kv.key) {
			out = append(out, kv)
		}
	}
	return out
}

// when parses a step's `when`: always, on_success or on_fail.
func (p *parser) when(n *yaml.Node, key string) string {
	w, ok := p.str(n, key)
	if !ok {
		return ""
	}
	if !slices.Contains([]string{WhenAlways, WhenOnSuccess, WhenOnFail}, w) {
		p.at(n, key, "must be always, on_success or on_fail, not %q", w)
		return ""
	}
	return w
}

// legacyStep finds the `type` of a step written in the old flat form
// ({type: shell, name: …, command: …}), which CircleCI still runs.
func legacyStep(kvs []pair) (*yaml.Node, bool) {
	if len(kvs) < 2 {
		return nil, false
	}
	for _, kv := range kvs {
		if kv.key == "type" {
			return kv.v, true
		}
	}
	return nil, false
}

// parseLegacyStep parses the flat form: type shell is a run step whose
// `pwd` is its working_directory.
func (p *parser) parseLegacyStep(n, typ *yaml.Node, kvs []pair, key string) (Step, bool) {
	t, ok := p.str(typ, joinKey(key, "type"))
	if !ok {
		return Step{}, false
	}
	if t != "shell" {
		p.at(typ, joinKey(key, "type"), "legacy step type %q is not supported (only shell)", t)
		return Step{}, false
	}
	args := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for _, kv := range kvs {
		switch kv.key {
		case "type":
		case "pwd":
			k := *resolve(kv.k)
			k.Value = "working_directory"
			args.Content = append(args.Content, &k, kv.v)
		default:
			args.Content = append(args.Content, kv.k, kv.v)
		}
	}
	before := p.count()
	s := p.parseRun(n, args, key)
	return s, p.count() == before
}

func (p *parser) parseCheckout(args *yaml.Node, key string) Step {
	s := Step{Type: StepCheckout, Name: checkoutName}
	if isNull(args) {
		return s
	}
	kvs, ok := p.mapping(args, key)
	if !ok {
		return s
	}
	p.tolerate(kvs, key, StepCheckout, checkoutKeys)
	for _, kv := range used(kvs, checkoutKeys) {
		fkey := joinKey(key, kv.key)
		switch kv.key {
		case "name":
			s.Name, _ = p.str(kv.v, fkey)
		case "path":
			s.Path, _ = p.str(kv.v, fkey)
		case "method":
			if m, ok := p.str(kv.v, fkey); ok {
				if !slices.Contains([]string{"full", "blobless", "shallow"}, m) {
					p.at(kv.v, fkey, "must be full, blobless or shallow, not %q", m)
				}
				s.Method = m
			}
		case "depth":
			// A shallow clone's depth: Orbit clones the whole history,
			// which gives the same working tree.
			if d, ok := p.integer(kv.v, fkey); ok && d < 1 {
				p.at(kv.v, fkey, "must be at least 1, not %d", d)
			}
		}
	}
	return s
}

// parseRun parses `run: command` or `run: {command: …, …}`.
func (p *parser) parseRun(at, args *yaml.Node, key string) Step {
	s := Step{Type: StepRun, NoOutputTimeout: DefaultNoOutputTimeout, When: WhenOnSuccess}
	r := resolve(args)
	switch {
	case args == nil || isNull(r):
		p.at(at, key, "run needs a command")
		return s
	case r.Kind == yaml.ScalarNode:
		s.Command, _ = p.str(args, key)
	default:
		kvs, ok := p.mapping(args, key)
		if !ok {
			return s
		}
		p.tolerate(kvs, key, StepRun, runKeys)
		hasCommand := false
		for _, kv := range used(kvs, runKeys) {
			fkey := joinKey(key, kv.key)
			switch kv.key {
			case "name":
				s.Name, _ = p.str(kv.v, fkey)
			case "command":
				hasCommand = true
				s.Command, _ = p.str(kv.v, fkey)
			case "shell":
				s.Shell, _ = p.str(kv.v, fkey)
			case "environment":
				s.Environment, _ = p.env(kv.v, fkey)
			case "background":
				s.Background, _ = p.boolean(kv.v, fkey)
			case "working_directory":
				s.WorkingDirectory, _ = p.str(kv.v, fkey)
			case "no_output_timeout":
				s.NoOutputTimeout = p.duration(kv.v, fkey)
			case "when":
				if w := p.when(kv.v, fkey); w != "" {
					s.When = w
				}
			case "max_auto_reruns":
				if n, ok := p.integer(kv.v, fkey); ok {
					if n < 0 || n > 5 {
						p.at(kv.v, fkey, "must be between 0 and 5, not %d", n)
					} else {
						s.MaxAutoReruns = n
					}
				}
			case "auto_rerun_delay":
				s.AutoRerunDelay = p.duration(kv.v, fkey)
			}
		}
		if !hasCommand {
			p.at(args, joinKey(key, "command"), "is required")
		}
	}
	if s.Name == "" {
		s.Name = firstLine(s.Command)
	}
	return s
}

// duration parses CircleCI's durations: a number with a unit ("20m",
// "1.25h", "30s"; Go's combined "1h30m" is accepted too).
func (p *parser) duration(n *yaml.Node, key string) Duration {
	v, ok := p.str(n, key)
	if !ok {
		return DefaultNoOutputTimeout
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.at(n, key, "invalid duration %q: use a number and a unit, such as 20m, 1.5h or 30s", v)
		return DefaultNoOutputTimeout
	}
	return Duration(d)
}
