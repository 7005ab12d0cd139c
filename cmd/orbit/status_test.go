package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPipelineOutcome(t *testing.T) {
	tests := []struct {
		name, state string
		wfs         []string
		want        string
	}{
		{name: "no workflows yet", state: "pending", want: "pending"},
		{name: "errored", state: "errored", want: "errored"},
		{name: "finished: the workflow's outcome, not created", state: "created", wfs: []string{"success"}, want: "success"},
		{name: "still running", state: "created", wfs: []string{"success", "running"}, want: "running"},
		{name: "the worst of several", state: "created", wfs: []string{"success", "failed", "canceled"}, want: "failed"},
		{name: "on hold", state: "created", wfs: []string{"on_hold"}, want: "on_hold"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var wfs []workflowView
			for _, s := range tc.wfs {
				wfs = append(wfs, workflowView{Status: s})
			}
			assert.Equal(t, tc.want, pipelineOutcome(tc.state, wfs))
		})
	}
}

func TestStepLabel(t *testing.T) {
	tests := []struct {
		name        string
		step        string
		task, tasks int
		want        string
	}{
		{name: "one task: the name", step: "Run tests", task: 0, tasks: 1, want: "Run tests"},
		{name: "parallel: the task index", step: "Run tests", task: 2, tasks: 4, want: "Run tests [task 2]"},
		{name: "long names keep the index", step: "a very long step name that goes on and on", task: 1, tasks: 2, want: "a very long step nam… [task 1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, stepLabel(tc.step, tc.task, tc.tasks))
		})
	}
}
