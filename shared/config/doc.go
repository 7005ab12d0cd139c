// Package config turns a project's .circleci/config.yml into a compiled Plan:
// the workflows to start for one pipeline and, for each, the job invocations
// with their requirements and fully described jobs. The conductor runs the
// Plan; nothing here talks to AWS, Nomad or the store.
//
// Compilation has three layers, each extended (not replaced) as more of
// CircleCI's configuration language is supported:
//
//	config.yml ──▶ parse layer ──▶ typed model ──▶ compile ──▶ Plan
//	               yaml.v3 nodes    config, jobDef,  version defaults,
//	               positions kept,  workflowDef,     filters (branch/tag),
//	               aliases, merge   invocationDef    requires graph checks,
//	               keys, bomb limit                  pruning of filtered jobs
//
// Every problem found on the way is an *Error naming the file, line, column
// and dotted key (jobs.build.steps[1].run); Compile reports all of them at once
// as an ErrorList sorted by position, never only the first.
//
// Supported today: versions 2, 2.0 and 2.1; jobs with docker, machine and
// macos executors; checkout and run steps; the other built-in steps are kept
// as generic steps with their raw fields; workflows with requires (including
// the 2.1 status form), contexts, approval jobs and branch/tag filters.
// Orbs, commands, executors, parameters, matrix, when/unless and pipeline
// values are kept raw by the parse layer and finished by a later change.
package config
