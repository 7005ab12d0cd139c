package config

import (
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"
)

// Job defaults, as CircleCI applies them.
const (
	DefaultWorkingDirectory = "~/project"
	DefaultShell            = "/bin/bash -eo pipefail"
)

// jobKeys are the keys a job definition may have.
var jobKeys = []string{
	"docker", "machine", "macos", "executor", "resource_class", "parallelism",
	"environment", "working_directory", "shell", "steps", "parameters",
	"description", "branches", "circleci_ip_ranges", "type", "retention", "plan_name", "key",
}

// jobTypeBuild is a job definition's default `type`.
const jobTypeBuild = "build"

// parsedJob is an expanded job parsed into the Plan's types.
type parsedJob struct {
	job Job
	// typ is jobTypeBuild, JobTypeNoOp or JobTypeApproval.
	typ string
	// branches is the job-level branch filter (a 2.0 key), used only by
	// the implicit workflow.
	branches *patternFilter
}

// parseJob parses an expanded job and applies its defaults. ok is false if
// it found a problem.
func (c *compiler) parseJob(x *expandedJob) (parsedJob, bool) {
	before := c.parser.count()
	d := x.def
	dp := d.scope.p
	out := parsedJob{typ: jobTypeBuild}
	job := Job{Parallelism: 1, WorkingDirectory: DefaultWorkingDirectory, Shell: DefaultShell}
	var executors []field
	hasShell := false
	for _, f := range x.fields {
		p, key := f.p, f.path
		switch f.key {
		case "docker", "machine", "macos":
			executors = append(executors, f)
		case "resource_class":
			job.Executor.ResourceClass, _ = p.str(f.v, key)
		case "parallelism":
			if n, ok := p.integer(f.v, key); ok {
				if n < 1 {
					p.at(f.v, key, "must be at least 1, not %d", n)
				} else {
					job.Parallelism = n
				}
			}
		case "environment":
			job.Environment, _ = p.env(f.v, key)
		case "working_directory":
			job.WorkingDirectory, _ = p.str(f.v, key)
		case "shell":
			job.Shell, _ = p.str(f.v, key)
			hasShell = true
		case "type":
			if t, ok := p.str(f.v, key); ok {
				switch t {
				case jobTypeBuild, JobTypeNoOp, JobTypeApproval:
					out.typ = t
				case "release", "lock", "unlock":
					// CircleCI's release-marker and lock jobs: accepted,
					// run as no-op jobs (docs/CONFIG-DIFFERENCES.md).
					out.typ = JobTypeNoOp
					p.warn(f.v, key, "Orbit runs a job of type %s as a no-op job: it succeeds once its requirements are met", t)
					need := map[string]string{"release": "plan_name", "lock": "key", "unlock": "key"}[t]
					if !slices.ContainsFunc(x.fields, func(g field) bool { return g.key == need }) {
						p.at(f.v, joinKey(d.path, need), "is required for a %s job", t)
					}
				default:
					p.at(f.v, key, "unknown job type %q (allowed: build, no-op, approval, release, lock, unlock)", t)
				}
			}
		case "plan_name", "key":
			p.str(f.v, key)
		case "retention":
			p.parseRetention(f.v, key)
		case "circleci_ip_ranges":
			job.CircleCIIPRanges, _ = p.boolean(f.v, key)
		case "branches":
			// Used by a config without workflows; workflows ignore it,
			// as CircleCI does.
			out.branches = p.parsePatternFilter(f.v, key)
		default:
			p.at(f.k, key, "unknown key %q (allowed: %s)", f.key, joinAllowed(jobKeys))
		}
	}
	if out.typ != jobTypeBuild {
		out.job = job
		return out, c.parser.count() == before
	}
	// Every executor given is checked; a job may have only one.
	if len(executors) == 0 && !x.execFailed {
		dp.at(d.node, d.path, "job has no executor: give it docker, machine or macos")
	}
	if len(executors) > 1 {
		f := executors[1]
		f.p.at(f.k, f.path, "job has more than one executor (%s and %s)", executors[0].key, f.key)
	}
	for i, f := range executors {
		ex, shell := f.p.parseExecutor(f.pair, f.path)
		if i > 0 {
			continue
		}
		if job.Executor.ResourceClass != "" { // the job's own wins
			ex.ResourceClass = job.Executor.ResourceClass
		}
		job.Executor = ex
		if shell != "" && !hasShell {
			job.Shell = shell
		}
	}
	skey := joinKey(d.path, "steps")
	switch {
	case !x.hasSteps:
		dp.at(d.node, skey, "is required")
	case len(x.steps) == 0 && x.emptySource:
		dp.at(x.stepsNode, skey, "must not be empty")
	default:
		job.Steps = make([]Step, 0, len(x.steps))
		for _, r := range x.steps {
			if s, ok := c.parseStep(r); ok {
				job.Steps = append(job.Steps, s)
			}
		}
	}
	out.job = job
	return out, c.parser.count() == before
}

// parseStep parses one step of an expanded job. A step node shared by
// several jobs (a command's step, a matrix's job) parses the same way each
// time, so a good parse is kept.
func (c *compiler) parseStep(r stepRef) (Step, bool) {
	if s, ok := c.stepCache[r.node]; ok {
		return s, true
	}
	s, ok := r.p.parseStep(r.node, r.path)
	if ok {
		c.stepCache[r.node] = s
	}
	return s, ok
}

// parseExecutor parses a docker, machine or macos executor. A machine
// mapping may carry a resource_class (used unless the job has its own) and
// a shell (used unless the job has its own), as old Windows configs do.
func (p *parser) parseExecutor(kv pair, key string) (ex Executor, shell string) {
	switch kv.key {
	case "docker":
		ex.Type = ExecutorDocker
		ex.Images = p.parseImages(kv.v, key)
	case "machine":
		ex.Type = ExecutorMachine
		ex.MachineImage, ex.ResourceClass, shell, ex.DockerLayerCaching = p.parseMachine(kv.v, key)
	case "macos":
		ex.Type = ExecutorMacOS
		ex.MachineImage, ex.ResourceClass, shell = p.parseMacOS(kv.v, key)
	}
	return ex, shell
}

var imageKeys = []string{"image", "name", "entrypoint", "command", "user", "environment", "auth", "aws_auth"}

// parseImages parses a docker executor's image list; the first is primary.
func (p *parser) parseImages(n *yaml.Node, key string) []Image {
	items, ok := p.sequence(n, key)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.at(n, key, "missing image: docker needs at least one image")
		return nil
	}
	images := make([]Image, 0, len(items))
	for i, item := range items {
		ikey := indexKey(key, i)
		kvs, ok := p.mapping(item, ikey)
		if !ok {
			continue
		}
		p.checkKeys(kvs, ikey, imageKeys...)
		var img Image
		for _, kv := range kvs {
			fkey := joinKey(ikey, kv.key)
			switch kv.key {
			case "image":
				img.Image, _ = p.str(kv.v, fkey)
			case "name":
				img.Name, _ = p.str(kv.v, fkey)
			case "user":
				img.User, _ = p.str(kv.v, fkey)
			case "entrypoint":
				img.Entrypoint, _ = p.strings(kv.v, fkey)
			case "command":
				img.Command, _ = p.strings(kv.v, fkey)
			case "environment":
				img.Environment, _ = p.env(kv.v, fkey)
			case "auth":
				img.Auth = p.parseAuth(kv.v, fkey)
			case "aws_auth":
				p.mapping(kv.v, fkey)
			}
		}
		if !hasKey(kvs, "image") {
			p.at(item, joinKey(ikey, "image"), "missing image")
		} else if img.Image == "" && isScalarString(kvs, "image") {
			p.at(item, joinKey(ikey, "image"), "missing image: the image is empty")
		}
		images = append(images, img)
	}
	return images
}

// parseAuth reads a docker image's registry login: username and password,
// both required (the password usually references a project or context
// variable, "$DOCKERHUB_PASSWORD").
func (p *parser) parseAuth(n *yaml.Node, key string) *RegistryAuth {
	kvs, ok := p.mapping(n, key)
	if !ok {
		return nil
	}
	p.checkKeys(kvs, key, "username", "password")
	var a RegistryAuth
	for _, kv := range kvs {
		switch kv.key {
		case "username":
			a.Username, _ = p.str(kv.v, joinKey(key, kv.key))
		case "password":
			a.Password, _ = p.str(kv.v, joinKey(key, kv.key))
		}
	}
	for _, k := range []string{"username", "password"} {
		if !hasKey(kvs, k) {
			p.at(n, key, "missing %s", k)
		}
	}
	return &a
}

// parseMachine accepts `machine: true` (the default image, "") or a
// mapping with an image (or, for the Windows and GPU classes of old
// configs, only a resource_class). It returns the image and the mapping's
// resource_class and shell, which the job's own keys override (old Windows
// configs put the shell there).
func (p *parser) parseMachine(n *yaml.Node, key string) (image, class, shell string, dlc bool) {
	r := resolve(n)
	if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!bool" {
		if b, _ := p.boolean(n, key); !b {
			p.at(n, key, "must be true or a mapping with an image")
		}
		return "", "", "", false
	}
	kvs, ok := p.mapping(n, key)
	if !ok {
		return "", "", "", false
	}
	p.checkKeys(kvs, key, "image", "docker_layer_caching", "resource_class", "enabled", "shell")
	for _, kv := range kvs {
		fkey := joinKey(key, kv.key)
		switch kv.key {
		case "image":
			image, _ = p.str(kv.v, fkey)
		case "resource_class":
			class, _ = p.str(kv.v, fkey)
		case "shell":
			shell, _ = p.str(kv.v, fkey)
		case "docker_layer_caching":
			dlc, _ = p.boolean(kv.v, fkey)
		case "enabled":
			p.boolean(kv.v, fkey)
		}
	}
	if image == "" && class == "" {
		p.at(n, joinKey(key, "image"), "missing image")
	}
	return image, class, shell, dlc
}

// isScalarString reports whether key's value is a string scalar (so an
// empty value is the config's doing, not an earlier type error).
func isScalarString(kvs []pair, key string) bool {
	for _, kv := range kvs {
		if kv.key == key {
			r := resolve(kv.v)
			return r.Kind == yaml.ScalarNode && r.ShortTag() == "!!str"
		}
	}
	return false
}

func hasKey(kvs []pair, key string) bool {
	for _, kv := range kvs {
		if kv.key == key {
			return true
		}
	}
	return false
}

// parseMacOS returns the Xcode version of a macos executor, and the
// resource class and shell it may carry (CircleCI's schema allows both).
func (p *parser) parseMacOS(n *yaml.Node, key string) (xcode, resourceClass, shell string) {
	kvs, ok := p.mapping(n, key)
	if !ok {
		return "", "", ""
	}
	p.checkKeys(kvs, key, "xcode", "resource_class", "shell")
	for _, kv := range kvs {
		fkey := joinKey(key, kv.key)
		switch kv.key {
		case "xcode":
			xcode, _ = p.str(kv.v, fkey)
		case "resource_class":
			resourceClass, _ = p.str(kv.v, fkey)
		case "shell":
			shell, _ = p.str(kv.v, fkey)
		}
	}
	if xcode == "" {
		p.at(n, joinKey(key, "xcode"), "missing xcode version")
	}
	return xcode, resourceClass, shell
}

// retentionCaches is CircleCI's cache retention: 1 to 15 days.
var retentionCaches = regexp.MustCompile(`^([1-9]|1[0-5])d$`)

// parseRetention checks a job's retention ({caches: 1d … 15d}), which
// Orbit accepts but does not apply: caches follow the installation's own
// retention.
func (p *parser) parseRetention(n *yaml.Node, key string) {
	kvs, ok := p.mapping(n, key)
	if !ok {
		return
	}
	p.checkKeys(kvs, key, "caches")
	for _, kv := range kvs {
		fkey := joinKey(key, kv.key)
		if v, ok := p.str(kv.v, fkey); ok {
			if !retentionCaches.MatchString(v) {
				p.at(kv.v, fkey, "must be 1d to 15d, not %q", v)
				continue
			}
			p.warn(kv.k, fkey, "is not applied: Orbit keeps caches for the installation's cache retention")
		}
	}
}
