package status

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

var allJobs = []Job{JobBlocked, JobQueued, JobRunning, JobSuccess, JobFailed, JobCanceled,
	JobInfrastructureFail, JobTimedOut, JobNotRun, JobOnHold, JobUnauthorized}

var allWorkflows = []Workflow{WorkflowRunning, WorkflowOnHold, WorkflowFailing, WorkflowSuccess,
	WorkflowFailed, WorkflowError, WorkflowCanceled, WorkflowNotRun, WorkflowUnauthorized}

// TestJobTransitions checks every (from, to) pair against the allowed table,
// so a transition added or removed by mistake fails here.
func TestJobTransitions(t *testing.T) {
	allowed := map[Job][]Job{
		JobBlocked: {JobQueued, JobSuccess, JobNotRun, JobOnHold, JobCanceled, JobUnauthorized, JobFailed, JobInfrastructureFail, JobTimedOut},
		JobQueued:  {JobRunning, JobSuccess, JobFailed, JobCanceled, JobInfrastructureFail, JobTimedOut},
		JobRunning: {JobQueued, JobSuccess, JobFailed, JobCanceled, JobInfrastructureFail, JobTimedOut},
		JobOnHold:  {JobSuccess, JobCanceled},
	}
	for _, from := range allJobs {
		for _, to := range allJobs {
			want := false
			for _, a := range allowed[from] {
				want = want || a == to
			}
			t.Run(fmt.Sprintf("%s->%s", from, to), func(t *testing.T) {
				assert.Equal(t, want, from.CanTransition(to))
				if from.Terminal() {
					assert.False(t, from.CanTransition(to), "a terminal status never changes")
				}
			})
		}
	}
}

func TestJobPredicates(t *testing.T) {
	tests := []struct {
		name                     string
		s                        Job
		terminal, failed, active bool
	}{
		{name: "blocked", s: JobBlocked},
		{name: "queued", s: JobQueued, active: true},
		{name: "running", s: JobRunning, active: true},
		{name: "on_hold", s: JobOnHold},
		{name: "success", s: JobSuccess, terminal: true},
		{name: "failed", s: JobFailed, terminal: true, failed: true},
		{name: "infrastructure_fail", s: JobInfrastructureFail, terminal: true, failed: true},
		{name: "timedout", s: JobTimedOut, terminal: true, failed: true},
		{name: "canceled", s: JobCanceled, terminal: true},
		{name: "not_run", s: JobNotRun, terminal: true},
		{name: "unauthorized", s: JobUnauthorized, terminal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.terminal, tt.s.Terminal())
			assert.Equal(t, tt.failed, tt.s.Failed())
			assert.Equal(t, tt.active, tt.s.Active())
		})
	}
}

func TestWorkflowTransitions(t *testing.T) {
	allowed := map[Workflow][]Workflow{
		WorkflowRunning: {WorkflowOnHold, WorkflowFailing, WorkflowSuccess, WorkflowFailed, WorkflowError, WorkflowCanceled, WorkflowNotRun, WorkflowUnauthorized},
		WorkflowOnHold:  {WorkflowRunning, WorkflowFailing, WorkflowSuccess, WorkflowFailed, WorkflowError, WorkflowCanceled, WorkflowNotRun, WorkflowUnauthorized},
		WorkflowFailing: {WorkflowFailed, WorkflowCanceled, WorkflowError},
	}
	for _, from := range allWorkflows {
		for _, to := range allWorkflows {
			want := false
			for _, a := range allowed[from] {
				want = want || a == to
			}
			t.Run(fmt.Sprintf("%s->%s", from, to), func(t *testing.T) {
				assert.Equal(t, want, from.CanTransition(to))
				if from.Terminal() {
					assert.False(t, from.CanTransition(to), "a terminal status never changes")
				}
			})
		}
	}
}

func TestSatisfies(t *testing.T) {
	tests := []struct {
		name     string
		got      Job
		accepted []Job
		want     bool
	}{
		{name: "default accepts success", got: JobSuccess, want: true},
		{name: "default refuses failed", got: JobFailed},
		{name: "default refuses canceled", got: JobCanceled},
		{name: "default refuses not_run", got: JobNotRun},
		{name: "running satisfies nothing yet", got: JobRunning, accepted: []Job{RequireTerminal}},
		{name: "on_hold satisfies nothing yet", got: JobOnHold, accepted: []Job{JobSuccess}},
		{name: "blocked satisfies nothing yet", got: JobBlocked, accepted: []Job{RequireTerminal}},
		{name: "failed accepts failed", got: JobFailed, accepted: []Job{JobFailed}, want: true},
		{name: "failed accepts infrastructure_fail", got: JobInfrastructureFail, accepted: []Job{JobFailed}, want: true},
		{name: "failed accepts timedout", got: JobTimedOut, accepted: []Job{JobFailed}, want: true},
		{name: "failed refuses success", got: JobSuccess, accepted: []Job{JobFailed}},
		{name: "failed refuses canceled", got: JobCanceled, accepted: []Job{JobFailed}},
		{name: "success or failed accepts failed", got: JobFailed, accepted: []Job{JobSuccess, JobFailed}, want: true},
		{name: "success or failed refuses canceled", got: JobCanceled, accepted: []Job{JobSuccess, JobFailed}},
		{name: "canceled accepts canceled", got: JobCanceled, accepted: []Job{JobCanceled}, want: true},
		{name: "not_run accepts not_run", got: JobNotRun, accepted: []Job{JobNotRun}, want: true},
		{name: "unauthorized accepts unauthorized", got: JobUnauthorized, accepted: []Job{JobUnauthorized}, want: true},
		{name: "terminal accepts success", got: JobSuccess, accepted: []Job{RequireTerminal}, want: true},
		{name: "terminal accepts failed", got: JobFailed, accepted: []Job{RequireTerminal}, want: true},
		{name: "terminal accepts canceled", got: JobCanceled, accepted: []Job{RequireTerminal}, want: true},
		{name: "terminal accepts not_run", got: JobNotRun, accepted: []Job{RequireTerminal}, want: true},
		{name: "terminal accepts timedout", got: JobTimedOut, accepted: []Job{RequireTerminal}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Satisfies(tt.got, tt.accepted))
		})
	}
}

func TestOfTasks(t *testing.T) {
	tests := []struct {
		name  string
		tasks []Job
		want  Job
	}{
		{name: "none", want: JobQueued},
		{name: "all queued", tasks: []Job{JobQueued, JobQueued}, want: JobQueued},
		{name: "unfinished counts as queued", tasks: []Job{"", JobSuccess}, want: JobQueued},
		{name: "one running", tasks: []Job{JobQueued, JobRunning}, want: JobRunning},
		{name: "running beats a failure", tasks: []Job{JobFailed, JobRunning}, want: JobRunning},
		{name: "all success", tasks: []Job{JobSuccess, JobSuccess}, want: JobSuccess},
		{name: "one failed", tasks: []Job{JobSuccess, JobFailed}, want: JobFailed},
		{name: "infrastructure first", tasks: []Job{JobFailed, JobInfrastructureFail}, want: JobInfrastructureFail},
		{name: "timedout before failed", tasks: []Job{JobFailed, JobTimedOut}, want: JobTimedOut},
		{name: "failed before canceled", tasks: []Job{JobCanceled, JobFailed}, want: JobFailed},
		{name: "canceled", tasks: []Job{JobCanceled, JobSuccess}, want: JobCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, OfTasks(tt.tasks))
		})
	}
}

func TestWorkflowOf(t *testing.T) {
	tests := []struct {
		name string
		jobs []Job
		want Workflow
	}{
		{name: "all blocked", jobs: []Job{JobBlocked, JobBlocked}, want: WorkflowRunning},
		{name: "one queued", jobs: []Job{JobQueued, JobBlocked}, want: WorkflowRunning},
		{name: "all success", jobs: []Job{JobSuccess, JobSuccess}, want: WorkflowSuccess},
		{name: "success with not_run", jobs: []Job{JobSuccess, JobNotRun}, want: WorkflowSuccess},
		{name: "failing while one runs", jobs: []Job{JobFailed, JobRunning, JobBlocked}, want: WorkflowFailing},
		{name: "failing after a timeout", jobs: []Job{JobTimedOut, JobQueued}, want: WorkflowFailing},
		{name: "failing after an infrastructure failure", jobs: []Job{JobInfrastructureFail, JobRunning}, want: WorkflowFailing},
		{name: "failing beats on_hold", jobs: []Job{JobFailed, JobOnHold}, want: WorkflowFailing},
		{name: "failed when all terminal", jobs: []Job{JobFailed, JobSuccess, JobNotRun}, want: WorkflowFailed},
		{name: "on_hold when nothing runs", jobs: []Job{JobSuccess, JobOnHold, JobBlocked}, want: WorkflowOnHold},
		{name: "running while a job runs beside a hold", jobs: []Job{JobRunning, JobOnHold}, want: WorkflowRunning},
		{name: "canceled", jobs: []Job{JobSuccess, JobCanceled, JobNotRun}, want: WorkflowCanceled},
		{name: "canceled beats failed", jobs: []Job{JobFailed, JobCanceled}, want: WorkflowCanceled},
		{name: "running until the canceled job's dependents settle", jobs: []Job{JobCanceled, JobBlocked}, want: WorkflowRunning},
		{name: "unauthorized", jobs: []Job{JobSuccess, JobUnauthorized}, want: WorkflowUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, WorkflowOf(tt.jobs))
		})
	}
}
