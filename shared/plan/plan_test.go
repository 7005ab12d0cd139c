package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStepRuns(t *testing.T) {
	tests := []struct {
		name                  string
		step                  Step
		afterOK, afterFailure bool
	}{
		{name: "run by default", step: Step{Type: StepRun}, afterOK: true},
		{name: "run on_success", step: Step{Type: StepRun, When: WhenOnSuccess}, afterOK: true},
		{name: "run on_fail", step: Step{Type: StepRun, When: WhenOnFail}, afterFailure: true},
		{name: "run always", step: Step{Type: StepRun, When: WhenAlways}, afterOK: true, afterFailure: true},
		{name: "save_cache on_success", step: Step{Type: StepSaveCache, When: WhenOnSuccess}, afterOK: true},
		{name: "persist_to_workspace", step: Step{Type: StepPersistToWorkspace}, afterOK: true},
		{name: "store_test_results without when (older plans)", step: Step{Type: StepStoreTestResults}, afterOK: true, afterFailure: true},
		{name: "store_artifacts without when (older plans)", step: Step{Type: StepStoreArtifacts}, afterOK: true, afterFailure: true},
		{name: "store_test_results always", step: Step{Type: StepStoreTestResults, When: WhenAlways}, afterOK: true, afterFailure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.afterOK, tt.step.Runs(false), "after steps that succeeded")
			assert.Equal(t, tt.afterFailure, tt.step.Runs(true), "after a failed step")
		})
	}
}
