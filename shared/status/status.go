// Package status names the statuses of pipelines, workflows, jobs and steps
// exactly as CircleCI does, and holds the rules about them: which are
// terminal, which transitions are allowed, and how a workflow's status follows
// from its jobs. Pure logic; the store enforces transitions with conditional
// writes.
//
//	job:      blocked ─▶ queued ─▶ running ─▶ success | failed | canceled |
//	             │        ▲ │         │         infrastructure_fail | timedout
//	             │        └─┴─────────┘ (infrastructure retry: a new attempt)
//	             ├─▶ success (no-op jobs), canceled (workflow canceled)
//	             ├─▶ not_run (a requirement can no longer be met)
//	             └─▶ on_hold ─▶ success (approved) | canceled   (approval jobs)
//	workflow: running ⇄ on_hold; running | on_hold ─▶ failing ─▶ failed | canceled | error;
//	          running | on_hold ─▶ success | failed | error | canceled | not_run | unauthorized
//	pipeline: pending ─▶ created | errored   (setup-pending ─▶ setup ─▶ pending for dynamic config)
//	task:     queued ─▶ running ─▶ terminal; queued ─▶ terminal
//
// A terminal status never changes: a late or duplicated event that would
// move it is refused. The store's Transition methods (shared/store
// transition.go) are the only way a status changes, and they apply these
// rules on every change (refusing with ErrStale).
package status

import "slices"

// Job is a job's status.
type Job string

// Job statuses.
const (
	JobBlocked            Job = "blocked"
	JobQueued             Job = "queued"
	JobRunning            Job = "running"
	JobSuccess            Job = "success"
	JobFailed             Job = "failed"
	JobCanceled           Job = "canceled"
	JobInfrastructureFail Job = "infrastructure_fail"
	JobTimedOut           Job = "timedout"
	JobNotRun             Job = "not_run"
	JobOnHold             Job = "on_hold"
	JobUnauthorized       Job = "unauthorized"
)

// Terminal reports whether the job can change no more.
func (s Job) Terminal() bool {
	switch s {
	case JobSuccess, JobFailed, JobCanceled, JobInfrastructureFail, JobTimedOut, JobNotRun, JobUnauthorized:
		return true
	}
	return false
}

// Failed reports whether the status counts as a failure for the workflow.
func (s Job) Failed() bool {
	switch s {
	case JobFailed, JobInfrastructureFail, JobTimedOut:
		return true
	}
	return false
}

var jobTransitions = map[Job][]Job{
	JobBlocked: {JobQueued, JobSuccess /* no-op job */, JobNotRun, JobOnHold, JobCanceled, JobUnauthorized,
		// a job machine whose Dispatch failed before queuing the job (its
		// errors caught) ends it from blocked
		JobFailed, JobInfrastructureFail, JobTimedOut},
	JobQueued:  {JobRunning, JobSuccess, JobFailed, JobCanceled, JobInfrastructureFail, JobTimedOut},
	JobRunning: {JobQueued /* infrastructure retry */, JobSuccess, JobFailed, JobCanceled, JobInfrastructureFail, JobTimedOut},
	JobOnHold:  {JobSuccess, JobCanceled},
}

// CanTransition reports whether a job may go from one status to another.
// Staying in the same status is not a transition.
func (s Job) CanTransition(to Job) bool {
	return slices.Contains(jobTransitions[s], to)
}

var taskTransitions = map[Job][]Job{
	JobQueued:  {JobRunning, JobSuccess, JobFailed, JobCanceled, JobInfrastructureFail, JobTimedOut},
	JobRunning: {JobSuccess, JobFailed, JobCanceled, JobInfrastructureFail, JobTimedOut},
}

// TaskCanTransition reports whether a task (one parallel node of one
// attempt, whose statuses are a job's) may go from s to another status: a
// task is queued, then running, then terminal; it never goes back (an
// infrastructure retry is a new attempt, with new tasks).
func (s Job) TaskCanTransition(to Job) bool {
	return slices.Contains(taskTransitions[s], to)
}

// Active reports whether a job has an execution that may be running work:
// queued or running.
func (s Job) Active() bool { return s == JobQueued || s == JobRunning }

// RequireTerminal is the `requires` status that accepts any terminal status
// of the required job (CircleCI's `terminal`).
const RequireTerminal Job = "terminal"

// Satisfies reports whether a required job's status got lets a job that
// accepts the statuses run. No accepted statuses means [success]; `terminal`
// accepts every terminal status; `failed` accepts every kind of failure
// (failed, infrastructure_fail, timedout), as CircleCI counts them.
// A status that is not terminal satisfies nothing yet.
func Satisfies(got Job, accepted []Job) bool {
	if !got.Terminal() {
		return false
	}
	if len(accepted) == 0 {
		return got == JobSuccess
	}
	for _, a := range accepted {
		switch {
		case a == RequireTerminal, a == got:
			return true
		case a == JobFailed && got.Failed():
			return true
		}
	}
	return false
}

// OfTasks is the status of one attempt of a job from its tasks' statuses
// (one per parallel node): while any task is not terminal, running if one
// runs, else queued; then the first of infrastructure_fail, timedout,
// failed, canceled that any task has (an infrastructure failure first,
// because it is retried), else success. No tasks is queued.
func OfTasks(tasks []Job) Job {
	done := len(tasks) > 0
	running := false
	for _, t := range tasks {
		if !t.Terminal() {
			done = false
			running = running || t == JobRunning
		}
	}
	switch {
	case running:
		return JobRunning
	case !done:
		return JobQueued
	}
	for _, want := range []Job{JobInfrastructureFail, JobTimedOut, JobFailed, JobCanceled} {
		if slices.Contains(tasks, want) {
			return want
		}
	}
	return JobSuccess
}

// Workflow is a workflow's status.
type Workflow string

// Workflow statuses.
const (
	WorkflowRunning      Workflow = "running"
	WorkflowOnHold       Workflow = "on_hold"
	WorkflowFailing      Workflow = "failing"
	WorkflowSuccess      Workflow = "success"
	WorkflowFailed       Workflow = "failed"
	WorkflowError        Workflow = "error"
	WorkflowCanceled     Workflow = "canceled"
	WorkflowNotRun       Workflow = "not_run"
	WorkflowUnauthorized Workflow = "unauthorized"
)

// Terminal reports whether the workflow can change no more.
func (s Workflow) Terminal() bool {
	switch s {
	case WorkflowSuccess, WorkflowFailed, WorkflowError, WorkflowCanceled, WorkflowNotRun, WorkflowUnauthorized:
		return true
	}
	return false
}

var workflowTransitions = map[Workflow][]Workflow{
	WorkflowRunning: {WorkflowOnHold, WorkflowFailing, WorkflowSuccess, WorkflowFailed, WorkflowError,
		WorkflowCanceled, WorkflowNotRun, WorkflowUnauthorized},
	WorkflowOnHold: {WorkflowRunning, WorkflowFailing, WorkflowSuccess, WorkflowFailed, WorkflowError,
		WorkflowCanceled, WorkflowNotRun, WorkflowUnauthorized},
	// A failure is final: failing ends failed (or canceled, or error).
	WorkflowFailing: {WorkflowFailed, WorkflowCanceled, WorkflowError},
}

// CanTransition reports whether a workflow may go from one status to
// another. Staying in the same status is not a transition.
func (s Workflow) CanTransition(to Workflow) bool {
	return slices.Contains(workflowTransitions[s], to)
}

// WorkflowOf computes a workflow's status from its jobs' statuses, as
// CircleCI shows it: canceled if any job was canceled and all are terminal;
// failed once all jobs are terminal and one failed; failing while jobs still
// run after a failure; on_hold while an approval waits and nothing runs;
// success when all are terminal and none failed; running otherwise.
func WorkflowOf(jobs []Job) Workflow {
	var terminal, failed, canceled, onHold, active, unauthorized int
	for _, j := range jobs {
		switch {
		case j == JobOnHold:
			onHold++
		case j.Terminal():
			terminal++
			if j.Failed() {
				failed++
			}
			if j == JobCanceled {
				canceled++
			}
			if j == JobUnauthorized {
				unauthorized++
			}
		default:
			if j != JobBlocked {
				active++
			}
		}
	}
	all := terminal == len(jobs)
	switch {
	case all && canceled > 0:
		return WorkflowCanceled
	case all && failed > 0:
		return WorkflowFailed
	case all && unauthorized > 0:
		return WorkflowUnauthorized
	case all:
		return WorkflowSuccess
	case failed > 0:
		return WorkflowFailing
	case onHold > 0 && active == 0:
		return WorkflowOnHold
	}
	return WorkflowRunning
}

// Pipeline is a pipeline's state.
type Pipeline string

// Pipeline states.
const (
	PipelinePending      Pipeline = "pending"
	PipelineCreated      Pipeline = "created"
	PipelineErrored      Pipeline = "errored"
	PipelineSetupPending Pipeline = "setup-pending"
	PipelineSetup        Pipeline = "setup"
)

var pipelineTransitions = map[Pipeline][]Pipeline{
	PipelinePending:      {PipelineCreated, PipelineErrored},
	PipelineSetupPending: {PipelineSetup, PipelineErrored},
	PipelineSetup:        {PipelinePending, PipelineErrored},
}

// CanTransition reports whether a pipeline may go from one state to
// another: pending until its workflows are created (or it errors); created
// and errored are final. Staying in the same state is not a transition.
func (s Pipeline) CanTransition(to Pipeline) bool {
	return slices.Contains(pipelineTransitions[s], to)
}

// Step is a step's status (CircleCI's action statuses).
type Step string

// Step statuses.
const (
	StepRunning  Step = "running"
	StepSuccess  Step = "success"
	StepFailed   Step = "failed"
	StepCanceled Step = "canceled"
	StepTimedOut Step = "timedout"
)
