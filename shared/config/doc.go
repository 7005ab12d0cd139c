// Package config is Orbit's offline implementation of CircleCI's
// configuration language, versions 2.0 and 2.1. It turns a project's
// .circleci/config.yml into
//
//   - a Plan (Compile): the workflows to start for one pipeline and, for
//     each, the job invocations with their requirements and fully resolved
//     jobs (executor, environment, steps). The conductor runs the Plan;
//     nothing here talks to AWS, Nomad or the store.
//   - a processed config (Process): the version 2 document
//     `circleci config process` prints, with orbs, commands, executors,
//     parameters and matrices expanded.
//
// The layers, each in its own files:
//
//	config.yml ─▶ parse ─────▶ scopes ───────▶ workflows ─────▶ expansion ─────▶ parse ───▶ Plan
//	              yaml.go       scope.go         workflows.go     expand.go         jobs.go      compile.go
//	              positions,    orbs (inline,    when/unless,     a job per         steps.go     filters,
//	              aliases,      registry.go),    matrix.go,       invocation:       typed        requires
//	              merge keys,   commands,        requires and     parameters,       fields       graph
//	              bomb limit    executors, jobs, aliases          executor, steps,                   │
//	                            parameters                        commands, when     process.go ◀──┘
//	                            (params.go)                       (template.go,      processed YAML
//	                                                              logic.go, expr.go)
//
// Reusable config resolves in scopes: the config is one, each orb another,
// so an orb's job calls its own commands by short name (scope.go). Templates
// (`<< parameters.x >>`, `<< pipeline.git.branch >>`, `<< matrix.x >>`,
// `<< pipeline.number > 5 >>`) are substituted on the YAML nodes, keeping the
// type of a value that fills a whole string and the position of what was
// written, so every problem is an *Error naming the file (the config, or an
// orb's file in the registry), line, column and dotted key
// (jobs.build.steps[1].run). Compile reports all of them at once as an
// ErrorList sorted by position, never only the first.
//
// Registry orbs (namespace/name@version) come from a local registry, a
// directory filled by `orbit orb import` (DirRegistry); nothing is fetched.
// Bad input never panics or hangs: alias expansion, expansion by commands
// and matrices, command recursion and expression nesting are bounded.
package config
