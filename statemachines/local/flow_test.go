package local_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines/local"
)

// TestFirstFailureCancelsSiblings checks that when one Parallel branch or
// Map iteration fails, the others' handlers see their context cancelled.
func TestFirstFailureCancelsSiblings(t *testing.T) {
	blocker := map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:block", "End": true}
	failer := map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:fail", "End": true}
	tests := []struct {
		name  string
		state map[string]any
		input string
	}{
		{"parallel", map[string]any{"Type": "Parallel", "End": true, "Branches": []any{
			map[string]any{"StartAt": "B", "States": map[string]any{"B": blocker}},
			map[string]any{"StartAt": "F", "States": map[string]any{"F": failer}},
		}}, `{}`},
		{"map", map[string]any{"Type": "Map", "End": true, "ItemProcessor": map[string]any{"StartAt": "C", "States": map[string]any{
			"C": map[string]any{"Type": "Choice", "Choices": []any{map[string]any{"Variable": "$", "StringEquals": "fail", "Next": "F"}}, "Default": "B"},
			"B": blocker, "F": failer,
		}}}, `["block","block","fail","block"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEngine(t, local.Config{})
			started := make(chan struct{}, 10)
			cancelled := make(chan struct{}, 10)
			e.RegisterLambda("block", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
				started <- struct{}{}
				<-ctx.Done()
				cancelled <- struct{}{}
				return nil, ctx.Err()
			})
			e.RegisterLambda("fail", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				<-started // fail once a sibling is running
				return nil, namedError{"Sibling.Failed", "boom"}
			})
			arn := define(t, e, "m", map[string]any{"StartAt": "S", "States": map[string]any{"S": tt.state}})
			d := run(t, e, arn, tt.input)
			require.Equal(t, local.StatusFailed, d.Status)
			assert.Equal(t, "Sibling.Failed", d.Error)
			assert.Equal(t, "boom", d.Cause)
			<-cancelled
		})
	}
}

func TestMapMaxConcurrency(t *testing.T) {
	e, _ := newEngine(t, local.Config{})
	running, peak := 0, 0
	mu := make(chan struct{}, 1)
	mu <- struct{}{}
	release := make(chan struct{})
	e.RegisterLambda("work", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		<-mu
		running++
		peak = max(peak, running)
		mu <- struct{}{}
		<-release
		<-mu
		running--
		mu <- struct{}{}
		return p, nil
	})
	arn := define(t, e, "m", map[string]any{"StartAt": "M", "States": map[string]any{"M": map[string]any{
		"Type": "Map", "MaxConcurrency": 3, "End": true,
		"ItemProcessor": map[string]any{"StartAt": "W", "States": map[string]any{
			"W": map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:work", "End": true}}}}}})
	go func() {
		for range 10 {
			release <- struct{}{}
		}
	}()
	d := run(t, e, arn, `[0,1,2,3,4,5,6,7,8,9]`)
	require.Equal(t, local.StatusSucceeded, d.Status, d.Cause)
	assert.JSONEq(t, `[0,1,2,3,4,5,6,7,8,9]`, string(d.Output))
	assert.LessOrEqual(t, peak, 3)
}

func TestStopPropagatesToSyncChild(t *testing.T) {
	e, clock := newEngine(t, local.Config{})
	child := define(t, e, "child", map[string]any{"StartAt": "W", "States": map[string]any{
		"W": map[string]any{"Type": "Wait", "Seconds": 100, "End": true}}})
	parent := define(t, e, "parent", map[string]any{"StartAt": "Run", "States": map[string]any{
		"Run": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": true,
			"Parameters": map[string]any{"StateMachineArn": child, "Name": "the-child"}}}})
	ctx := testCtx(t)
	exec, err := e.StartExecution(ctx, parent, "", nil)
	require.NoError(t, err)
	require.NoError(t, clock.BlockUntil(ctx, 1))
	require.NoError(t, e.StopExecution(ctx, exec, "Canceled", ""))
	d, err := e.WaitExecution(ctx, "arn:aws:states:local:000000000000:execution:child:the-child")
	require.NoError(t, err)
	assert.Equal(t, local.StatusAborted, d.Status)
}
