package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines/local"
)

func TestStartExecutionIdempotent(t *testing.T) {
	e, clock := newEngine(t, local.Config{})
	arn := define(t, e, "m", map[string]any{"StartAt": "W", "States": map[string]any{
		"W": map[string]any{"Type": "Wait", "Seconds": 10, "End": true}}})
	ctx := testCtx(t)
	first, err := e.StartExecution(ctx, arn, "pipeline-1", json.RawMessage(`{"a": 1}`))
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:states:local:000000000000:execution:m:pipeline-1", first)

	again, err := e.StartExecution(ctx, arn, "pipeline-1", json.RawMessage(`{"a":1}`))
	require.NoError(t, err, "same name and input while running")
	assert.Equal(t, first, again)

	_, err = e.StartExecution(ctx, arn, "pipeline-1", json.RawMessage(`{"a":2}`))
	assert.ErrorIs(t, err, local.ErrExecutionAlreadyExists, "same name, other input")

	require.NoError(t, clock.BlockUntil(ctx, 1))
	clock.AdvanceToNext()
	d, err := e.WaitExecution(ctx, first)
	require.NoError(t, err)
	require.Equal(t, local.StatusSucceeded, d.Status)
	_, err = e.StartExecution(ctx, arn, "pipeline-1", json.RawMessage(`{"a":1}`))
	assert.ErrorIs(t, err, local.ErrExecutionAlreadyExists, "a closed execution's name cannot be reused, as in Step Functions")
}

func TestStartExecutionErrors(t *testing.T) {
	e, _ := newEngine(t, local.Config{})
	arn := define(t, e, "m", map[string]any{"StartAt": "P", "States": map[string]any{"P": map[string]any{"Type": "Pass", "End": true}}})
	ctx := testCtx(t)
	_, err := e.StartExecution(ctx, arn+"x", "", nil)
	assert.ErrorIs(t, err, local.ErrStateMachineDoesNotExist)
	_, err = e.StartExecution(ctx, arn, "bad name", nil)
	assert.ErrorIs(t, err, local.ErrInvalidName)
	_, err = e.StartExecution(ctx, arn, "", json.RawMessage(`{`))
	assert.ErrorIs(t, err, local.ErrInvalidExecutionInput)
	_, err = e.DescribeExecution(ctx, "arn:aws:states:local:000000000000:execution:m:none")
	assert.ErrorIs(t, err, local.ErrExecutionDoesNotExist)
}

func TestDefineValidation(t *testing.T) {
	pass := map[string]any{"Type": "Pass", "End": true}
	tests := []struct {
		name string
		def  map[string]any
		want string
	}{
		{"unknown state type", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Bogus", "End": true}}},
			`state "S": unknown state type Bogus`},
		{"Next target missing", map[string]any{"StartAt": "A", "States": map[string]any{"A": map[string]any{"Type": "Pass", "Next": "Nope"}}},
			`state "A": Next "Nope" is not a state`},
		{"StartAt missing", map[string]any{"StartAt": "X", "States": map[string]any{"A": pass}},
			`StartAt "X" is not a state`},
		{"unreachable state", map[string]any{"StartAt": "A", "States": map[string]any{"A": pass, "Orphan": pass}},
			`state "Orphan": state is not reachable from StartAt "A"`},
		{"neither End nor Next", map[string]any{"StartAt": "A", "States": map[string]any{"A": map[string]any{"Type": "Pass"}}},
			`state "A": a Pass state needs exactly one of Next or "End": true`},
		{"both End and Next", map[string]any{"StartAt": "A", "States": map[string]any{"A": map[string]any{"Type": "Pass", "End": true, "Next": "A"}}},
			`state "A": a Pass state needs exactly one of Next`},
		{"States.ALL not last in Retry", map[string]any{"StartAt": "T", "States": map[string]any{"T": map[string]any{
			"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:f", "End": true,
			"Retry": []any{map[string]any{"ErrorEquals": []any{"States.ALL"}}, map[string]any{"ErrorEquals": []any{"E"}}}}}},
			`state "T" Retry[0]: States.ALL must appear alone in the last ErrorEquals`},
		{"States.ALL not alone in Catch", map[string]any{"StartAt": "T", "States": map[string]any{"T": map[string]any{
			"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:f", "End": true,
			"Catch": []any{map[string]any{"ErrorEquals": []any{"E", "States.ALL"}, "Next": "T"}}}}},
			`state "T" Catch[0]: States.ALL must appear alone in the last ErrorEquals`},
		{"bad InputPath", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Pass", "End": true, "InputPath": "$.a b"}}},
			`state "S": InputPath: invalid JSONPath "$.a b"`},
		{"path without $", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Pass", "End": true, "OutputPath": "a.b"}}},
			`state "S": OutputPath: invalid JSONPath "a.b": must start with $`},
		{"indefinite ResultPath", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}}},
			`state "S": ResultPath: invalid reference path`},
		{"bad Parameters path", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Pass", "End": true, "Parameters": map[string]any{"x.$": "$["}}}},
			`state "S": Parameters: field "x.$": invalid JSONPath`},
		{"unknown intrinsic", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Pass", "End": true, "Parameters": map[string]any{"x.$": "States.Nope(1)"}}}},
			`state "S": Parameters: field "x.$": invalid intrinsic function "States.Nope(1)": unknown function "States.Nope"`},
		{"intrinsic arity", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Pass", "End": true, "Parameters": map[string]any{"x.$": "States.MathAdd(1)"}}}},
			`States.MathAdd takes 2 arguments, got 1`},
		{"unknown resource", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Task", "End": true, "Resource": "arn:aws:states:::dynamodb:putItem"}}},
			`state "S": unsupported resource "arn:aws:states:::dynamodb:putItem"`},
		{"waitForTaskToken without the token", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Task", "End": true,
			"Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "Parameters": map[string]any{"FunctionName": "f"}}}},
			`state "S": resource "arn:aws:states:::lambda:invoke.waitForTaskToken": Parameters must pass $$.Task.Token`},
		{"lambda:invoke without FunctionName", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Task", "End": true,
			"Resource": "arn:aws:states:::lambda:invoke"}}},
			`state "S": resource "arn:aws:states:::lambda:invoke" needs Parameters.FunctionName`},
		{"unknown field", map[string]any{"StartAt": "S", "States": map[string]any{"S": map[string]any{"Type": "Pass", "End": true, "Resuls": 1}}},
			`state "S": field "Resuls" is not supported by a Pass state`},
		{"choice rule without Next", map[string]any{"StartAt": "C", "States": map[string]any{"C": map[string]any{"Type": "Choice", "Default": "P",
			"Choices": []any{map[string]any{"Variable": "$.a", "StringEquals": "x"}}}, "P": pass}},
			`state "C": choice 0: choice rule has no Next`},
		{"choice operand type", map[string]any{"StartAt": "C", "States": map[string]any{"C": map[string]any{"Type": "Choice",
			"Choices": []any{map[string]any{"Variable": "$.a", "NumericEquals": "1", "Next": "P"}}}, "P": pass}},
			`state "C": choice 0: NumericEquals needs a number operand`},
		{"Choice Default missing", map[string]any{"StartAt": "C", "States": map[string]any{"C": map[string]any{"Type": "Choice", "Default": "Gone",
			"Choices": []any{map[string]any{"Variable": "$.a", "IsNull": true, "Next": "P"}}}, "P": pass}},
			`state "C": Default "Gone" is not a state`},
		{"Wait with two durations", map[string]any{"StartAt": "W", "States": map[string]any{"W": map[string]any{"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}}},
			`state "W": a Wait state needs exactly one of Seconds`},
		{"error inside a Parallel branch", map[string]any{"StartAt": "P", "States": map[string]any{"P": map[string]any{"Type": "Parallel", "End": true,
			"Branches": []any{map[string]any{"StartAt": "X", "States": map[string]any{"X": map[string]any{"Type": "Pass", "Next": "Y"}}}}}}},
			`state "P" branch 0 state "X": Next "Y" is not a state`},
		{"Next across scopes", map[string]any{"StartAt": "M", "States": map[string]any{"M": map[string]any{"Type": "Map", "Next": "After",
			"ItemProcessor": map[string]any{"StartAt": "X", "States": map[string]any{"X": map[string]any{"Type": "Pass", "Next": "After"}}}}, "After": pass}},
			`state "M" ItemProcessor state "X": Next "After" is not a state`},
		{"HeartbeatSeconds not below TimeoutSeconds", map[string]any{"StartAt": "T", "States": map[string]any{"T": map[string]any{
			"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:f", "End": true, "TimeoutSeconds": 10, "HeartbeatSeconds": 10}}},
			`state "T": HeartbeatSeconds must be smaller than TimeoutSeconds`},
	}
	e, _ := newEngine(t, local.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.def)
			require.NoError(t, err)
			_, err = e.Define("m", data, nil)
			require.ErrorIs(t, err, local.ErrInvalidDefinition)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestDefineSubstitutionsAndRegistrations(t *testing.T) {
	e, _ := newEngine(t, local.Config{})
	def := `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${ConductorArn}","Payload.$":"$"},"Next":"Q"},
		"Q":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","Parameters":{"QueueUrl":"${RunQueueUrl}","MessageBody.$":"$"},"End":true}}}`
	arn, err := e.Define("pipeline", []byte(def), map[string]string{
		"ConductorArn": "arn:aws:lambda:local:000000000000:function:conductor",
		"RunQueueUrl":  "http://localhost/000000000000/run-queue",
	})
	require.NoError(t, err, "resources may be registered after Define")
	ctx := testCtx(t)
	_, err = e.StartExecution(ctx, arn, "", nil)
	require.ErrorIs(t, err, local.ErrInvalidDefinition)
	assert.Contains(t, err.Error(), `state "Q": queue "http://localhost/000000000000/run-queue" is not registered`)

	e.RegisterQueue("run-queue", newSender())
	_, err = e.StartExecution(ctx, arn, "", nil)
	require.ErrorIs(t, err, local.ErrInvalidDefinition)
	assert.Contains(t, err.Error(), `state "T": Lambda function "arn:aws:lambda:local:000000000000:function:conductor" is not registered`)

	e.RegisterLambda("conductor", echo)
	d := run(t, e, arn, `{"x":1}`)
	assert.Equal(t, local.StatusSucceeded, d.Status, d.Cause)
}

// TestConcurrentExecutions runs 200 executions at once (run it with -race):
// a Map of Lambda tasks, a Parallel with a Wait, and a token task answered
// from another goroutine.
func TestConcurrentExecutions(t *testing.T) {
	e, clock := newEngine(t, local.Config{})
	autoAdvance(t, clock)
	e.RegisterLambda("square", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		var n int
		if err := json.Unmarshal(p, &n); err != nil {
			return nil, err
		}
		return json.RawMessage(fmt.Sprint(n * n)), nil
	})
	tokens := make(chan string, 200)
	e.RegisterLambda("park", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		var in struct{ Token string }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, err
		}
		tokens <- in.Token
		return nil, nil
	})
	arn := define(t, e, "m", map[string]any{"StartAt": "Squares", "States": map[string]any{
		"Squares": map[string]any{"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.squares", "Next": "Both",
			"ItemProcessor": map[string]any{"StartAt": "Sq", "States": map[string]any{
				"Sq": map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:square", "End": true}}}},
		"Both": map[string]any{"Type": "Parallel", "ResultPath": "$.both", "Next": "Park", "Branches": []any{
			map[string]any{"StartAt": "W", "States": map[string]any{"W": map[string]any{"Type": "Wait", "Seconds": 3, "End": true}}},
			map[string]any{"StartAt": "P", "States": map[string]any{"P": map[string]any{"Type": "Pass", "Result": "p", "End": true}}}}},
		"Park": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "ResultPath": "$.answer", "OutputPath": "$.answer", "End": true,
			"Parameters": map[string]any{"FunctionName": "park", "Payload": map[string]any{"Token.$": "$$.Task.Token"}}},
	}})
	go func() {
		for tok := range tokens {
			go func() { _ = e.SendTaskSuccess(context.Background(), tok, json.RawMessage(`{"ok":true}`)) }()
		}
	}()
	t.Cleanup(func() { close(tokens) })
	const n = 200
	ctx := testCtx(t)
	var wg sync.WaitGroup
	results := make([]local.Execution, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exec, err := e.StartExecution(ctx, arn, fmt.Sprintf("exec-%d", i), json.RawMessage(fmt.Sprintf(`{"items":[%d,%d,3]}`, i, i+1)))
			if err != nil {
				errs[i] = err
				return
			}
			results[i], errs[i] = e.WaitExecution(ctx, exec)
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, local.StatusSucceeded, results[i].Status, "%d: %s %s", i, results[i].Error, results[i].Cause)
		assert.JSONEq(t, `{"ok":true}`, string(results[i].Output))
	}
	h, err := e.History(ctx, results[7].ExecutionArn)
	require.NoError(t, err)
	var squares string
	for _, ev := range h {
		if ev.Type == "MapStateExited" {
			squares = string(ev.Output)
		}
	}
	assert.JSONEq(t, `{"items":[7,8,3],"squares":[49,64,9]}`, squares)
}
