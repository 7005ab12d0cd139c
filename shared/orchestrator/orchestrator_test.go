package orchestrator_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/orchestrator"
)

func TestWrapClassifies(t *testing.T) {
	cause := errors.New("send task success: TaskTimedOut: Provided task does not exist anymore")
	err := fmt.Errorf("release job j-1: %w", orchestrator.Wrap(orchestrator.ErrTaskTimedOut, cause))
	assert.ErrorIs(t, err, orchestrator.ErrTaskTimedOut)
	assert.ErrorIs(t, err, cause, "the driver's error stays in the chain")
	assert.NotErrorIs(t, err, orchestrator.ErrInvalidToken)
	assert.Equal(t, "release job j-1: "+cause.Error(), err.Error(), "the message is the driver's")
	var apiErr *orchestrator.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "TaskTimedOut", apiErr.ErrorCode())
	assert.NoError(t, orchestrator.Wrap(orchestrator.ErrTaskTimedOut, nil))
}

func TestTaskGone(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"closed", orchestrator.Wrap(orchestrator.ErrTaskTimedOut, errors.New("x")), true},
		{"unknown task", orchestrator.Wrap(orchestrator.ErrTaskDoesNotExist, errors.New("x")), true},
		{"not a token", orchestrator.Wrap(orchestrator.ErrInvalidToken, errors.New("x")), true},
		{"throttled", errors.New("ThrottlingException"), false},
		{"bad output", orchestrator.Wrap(orchestrator.ErrInvalidOutput, errors.New("x")), false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, orchestrator.TaskGone(tc.err))
		})
	}
}

func TestSentinelsHaveDistinctCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range orchestrator.Sentinels {
		assert.False(t, seen[s.Code], "code %s twice", s.Code)
		seen[s.Code] = true
		assert.NotEmpty(t, s.Error())
	}
}

func TestStatusFinished(t *testing.T) {
	tests := []struct {
		status orchestrator.Status
		want   bool
	}{
		{orchestrator.StatusRunning, false},
		{"", false},
		{orchestrator.StatusSucceeded, true},
		{orchestrator.StatusFailed, true},
		{orchestrator.StatusTimedOut, true},
		{orchestrator.StatusAborted, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			assert.Equal(t, tc.want, tc.status.Finished())
		})
	}
}
