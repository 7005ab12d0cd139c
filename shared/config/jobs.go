package config

import "gopkg.in/yaml.v3"

// Job defaults, as CircleCI applies them.
const (
	DefaultWorkingDirectory = "~/project"
	DefaultShell            = "/bin/bash -eo pipefail"
)

// jobKeys are the keys a job definition may have.
var jobKeys = []string{
	"docker", "machine", "macos", "executor", "resource_class", "parallelism",
	"environment", "working_directory", "shell", "steps", "parameters",
	"description", "branches", "circleci_ip_ranges", "type",
}

func (p *parser) parseJobs(c *config, n *yaml.Node) {
	kvs, _ := p.mapping(n, "jobs")
	for _, kv := range kvs {
		d := &jobDef{name: kv.key, node: kv.v, path: joinKey("jobs", kv.key)}
		before := p.count()
		d.job = p.parseJob(d)
		d.ok = p.count() == before
		c.jobs = append(c.jobs, d)
		c.jobIndex[d.name] = d
	}
}

// parseJob parses one job definition and applies its defaults.
func (p *parser) parseJob(d *jobDef) Job {
	job := Job{Parallelism: 1, WorkingDirectory: DefaultWorkingDirectory, Shell: DefaultShell}
	kvs, ok := p.mapping(d.node, d.path)
	if !ok {
		return job
	}
	p.checkKeys(kvs, d.path, jobKeys...)
	var executors []pair
	var steps *yaml.Node
	for _, kv := range kvs {
		key := joinKey(d.path, kv.key)
		switch kv.key {
		case "docker", "machine", "macos":
			executors = append(executors, kv)
		case "executor":
			executors = append(executors, kv)
			p.at(kv.v, key, "reusable executors are not supported yet")
		case "parameters":
			p.at(kv.v, key, "job parameters are not supported yet")
		case "resource_class":
			job.Executor.ResourceClass, _ = p.str(kv.v, key)
		case "parallelism":
			if n, ok := p.integer(kv.v, key); ok {
				if n < 1 {
					p.at(kv.v, key, "must be at least 1, not %d", n)
				} else {
					job.Parallelism = n
				}
			}
		case "environment":
			job.Environment, _ = p.env(kv.v, key)
		case "working_directory":
			job.WorkingDirectory, _ = p.str(kv.v, key)
		case "shell":
			job.Shell, _ = p.str(kv.v, key)
		case "steps":
			steps = kv.v
		case "description":
			p.str(kv.v, key)
		case "type":
			if t, ok := p.str(kv.v, key); ok && t != "build" {
				p.at(kv.v, key, "job type %q is not supported yet", t)
			}
		case "circleci_ip_ranges":
			p.boolean(kv.v, key)
		case "branches":
			d.branches = p.parsePatternFilter(kv.v, key)
		}
	}
	// Every executor given is checked; a job may have only one.
	if len(executors) == 0 {
		p.at(d.node, d.path, "job has no executor: give it docker, machine or macos")
	}
	if len(executors) > 1 {
		p.at(executors[1].k, joinKey(d.path, executors[1].key), "job has more than one executor (%s and %s)", executors[0].key, executors[1].key)
	}
	for i, kv := range executors {
		ex, shell := p.parseExecutor(kv, joinKey(d.path, kv.key))
		if i > 0 {
			continue
		}
		if job.Executor.ResourceClass != "" { // the job's own wins
			ex.ResourceClass = job.Executor.ResourceClass
		}
		job.Executor = ex
		if shell != "" && !hasKey(kvs, "shell") {
			job.Shell = shell
		}
	}
	if steps == nil {
		p.at(d.node, joinKey(d.path, "steps"), "is required")
	} else {
		job.Steps = p.parseSteps(steps, joinKey(d.path, "steps"))
	}
	return job
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
		ex.MachineImage, ex.ResourceClass, shell = p.parseMachine(kv.v, key)
	case "macos":
		ex.Type = ExecutorMacOS
		ex.MachineImage = p.parseMacOS(kv.v, key)
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
			case "auth", "aws_auth":
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

// parseMachine accepts `machine: true` (the default image, "") or a
// mapping with an image (or, for the Windows and GPU classes of old
// configs, only a resource_class). It returns the image and the mapping's
// resource_class and shell, which the job's own keys override (old Windows
// configs put the shell there).
func (p *parser) parseMachine(n *yaml.Node, key string) (image, class, shell string) {
	r := resolve(n)
	if r.Kind == yaml.ScalarNode && r.ShortTag() == "!!bool" {
		if b, _ := p.boolean(n, key); !b {
			p.at(n, key, "must be true or a mapping with an image")
		}
		return "", "", ""
	}
	kvs, ok := p.mapping(n, key)
	if !ok {
		return "", "", ""
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
		case "docker_layer_caching", "enabled":
			p.boolean(kv.v, fkey)
		}
	}
	if image == "" && class == "" {
		p.at(n, joinKey(key, "image"), "missing image")
	}
	return image, class, shell
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

// parseMacOS returns the Xcode version of a macos executor.
func (p *parser) parseMacOS(n *yaml.Node, key string) string {
	kvs, ok := p.mapping(n, key)
	if !ok {
		return ""
	}
	p.checkKeys(kvs, key, "xcode")
	xcode := ""
	for _, kv := range kvs {
		if kv.key == "xcode" {
			xcode, _ = p.str(kv.v, joinKey(key, kv.key))
		}
	}
	if xcode == "" {
		p.at(n, joinKey(key, "xcode"), "missing xcode version")
	}
	return xcode
}
