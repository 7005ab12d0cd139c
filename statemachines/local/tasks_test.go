package local_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines/local"
)

func echo(_ context.Context, p json.RawMessage) (json.RawMessage, error) { return p, nil }

func TestTaskResources(t *testing.T) {
	tests := []struct {
		name     string
		task     map[string]any
		input    string
		handler  local.Handler
		status   string
		output   string
		errName  string
		errCause string
	}{
		{
			name: "lambda:invoke wraps the output",
			task: map[string]any{"Resource": "arn:aws:states:::lambda:invoke",
				"Parameters": map[string]any{"FunctionName": "fn", "Payload": map[string]any{"v.$": "$.v"}}},
			input: `{"v":1}`, handler: echo, status: local.StatusSucceeded,
			output: `{"ExecutedVersion":"$LATEST","Payload":{"v":1},"StatusCode":200}`,
		},
		{
			name: "lambda:invoke with ResultSelector and ResultPath",
			task: map[string]any{"Resource": "arn:aws:states:::lambda:invoke",
				"Parameters":     map[string]any{"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:fn:live", "Payload.$": "$"},
				"ResultSelector": map[string]any{"got.$": "$.Payload.v"}, "ResultPath": "$.res"},
			input: `{"v":2}`, handler: echo, status: local.StatusSucceeded,
			output: `{"v":2,"res":{"got":2}}`,
		},
		{
			name:  "direct Lambda ARN returns the handler output",
			task:  map[string]any{"Resource": "arn:aws:lambda:local:000000000000:function:fn", "InputPath": "$.in"},
			input: `{"in":{"a":[1,2]}}`, handler: echo, status: local.StatusSucceeded,
			output: `{"a":[1,2]}`,
		},
		{
			name:  "a named error keeps its name and cause",
			task:  map[string]any{"Resource": "arn:aws:lambda:local:000000000000:function:fn"},
			input: `{}`, status: local.StatusFailed, errName: "InfrastructureFail", errCause: "node lost",
			handler: func(context.Context, json.RawMessage) (json.RawMessage, error) {
				return nil, namedError{"InfrastructureFail", "node lost"}
			},
		},
		{
			name:  "NewError names the error too",
			task:  map[string]any{"Resource": "arn:aws:lambda:local:000000000000:function:fn"},
			input: `{}`, status: local.StatusFailed, errName: "Job.Failed", errCause: "exit 1",
			handler: func(context.Context, json.RawMessage) (json.RawMessage, error) {
				return nil, local.NewError("Job.Failed", "exit 1")
			},
		},
		{
			name:  "a plain error is States.TaskFailed",
			task:  map[string]any{"Resource": "arn:aws:lambda:local:000000000000:function:fn"},
			input: `{}`, status: local.StatusFailed, errName: local.ErrorTaskFailed, errCause: "plain failure",
			handler: func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, errPlain },
		},
		{
			name: "Catch gets the handler's error",
			task: map[string]any{"Resource": "arn:aws:lambda:local:000000000000:function:fn",
				"Catch": []any{map[string]any{"ErrorEquals": []any{"States.TaskFailed"}, "ResultPath": "$.err", "Next": "Caught"}}},
			input: `{"a":1}`, status: local.StatusSucceeded,
			output:  `{"a":1,"err":{"Error":"States.TaskFailed","Cause":"plain failure"}}`,
			handler: func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, errPlain },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newEngine(t, local.Config{})
			e.RegisterLambda("fn", tt.handler)
			task := map[string]any{"Type": "Task", "End": true}
			for k, v := range tt.task {
				task[k] = v
			}
			states := map[string]any{"T": task}
			if _, ok := task["Catch"]; ok {
				states["Caught"] = map[string]any{"Type": "Pass", "End": true}
			}
			arn := define(t, e, "m", map[string]any{"StartAt": "T", "States": states})
			d := run(t, e, arn, tt.input)
			require.Equal(t, tt.status, d.Status, "%s %s", d.Error, d.Cause)
			if tt.output != "" {
				assert.JSONEq(t, tt.output, string(d.Output))
			}
			assert.Equal(t, tt.errName, d.Error)
			if tt.errCause != "" {
				assert.Equal(t, tt.errCause, d.Cause)
			}
		})
	}
}

func TestSQSSendMessage(t *testing.T) {
	e, _ := newEngine(t, local.Config{})
	q := newSender()
	e.RegisterQueue("http://localhost:4566/000000000000/run-queue", q)
	arn := define(t, e, "m", map[string]any{"StartAt": "Obj", "States": map[string]any{
		"Obj": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "ResultPath": "$.sent", "Next": "Str",
			"Parameters": map[string]any{"QueueUrl": "run-queue", "MessageBody": map[string]any{"job.$": "$.job"}}},
		"Str": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "ResultPath": null, "End": true,
			"Parameters": map[string]any{"QueueUrl": "http://localhost:4566/000000000000/run-queue", "MessageBody.$": "$.job"}},
	}})
	d := run(t, e, arn, `{"job":"build"}`)
	require.Equal(t, local.StatusSucceeded, d.Status, d.Cause)
	require.Len(t, q.msgs, 2)
	assert.JSONEq(t, `{"job":"build"}`, string(q.msgs[0]))
	assert.Equal(t, "build", string(q.msgs[1]), "a string body is sent as is")
	var out struct{ Sent map[string]any }
	require.NoError(t, json.Unmarshal(d.Output, &out))
	assert.Contains(t, out.Sent, "MD5OfMessageBody")
	assert.Contains(t, out.Sent, "MessageId")
}

var null any

func TestSQSWaitForTaskToken(t *testing.T) {
	e, _ := newEngine(t, local.Config{})
	q := newSender()
	e.RegisterQueue("jobs", q)
	arn := define(t, e, "m", map[string]any{"StartAt": "Send", "States": map[string]any{
		"Send": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": true,
			"Parameters": map[string]any{"QueueUrl": "jobs", "MessageBody": map[string]any{"token.$": "$$.Task.Token"}}},
	}})
	ctx := testCtx(t)
	exec, err := e.StartExecution(ctx, arn, "x", nil)
	require.NoError(t, err)
	var msg struct{ Token string }
	require.NoError(t, json.Unmarshal(<-q.ch, &msg))
	require.NoError(t, e.SendTaskSuccess(ctx, msg.Token, json.RawMessage(`{"done":true}`)))
	d, err := e.WaitExecution(ctx, exec)
	require.NoError(t, err)
	assert.Equal(t, local.StatusSucceeded, d.Status)
	assert.JSONEq(t, `{"done":true}`, string(d.Output))
}

func TestStartExecutionTask(t *testing.T) {
	e, clock := newEngine(t, local.Config{})
	autoAdvance(t, clock)
	child := define(t, e, "child", map[string]any{"StartAt": "W", "States": map[string]any{
		"W": map[string]any{"Type": "Wait", "Seconds": 5, "Next": "P"},
		"P": map[string]any{"Type": "Pass", "Parameters": map[string]any{"doubled.$": "States.MathAdd($.n, $.n)"}, "End": true},
	}})
	failing := define(t, e, "failing", map[string]any{"StartAt": "F", "States": map[string]any{
		"F": map[string]any{"Type": "Fail", "Error": "ChildError", "Cause": "no"}}})
	parent := define(t, e, "parent", map[string]any{"StartAt": "Sync", "States": map[string]any{
		"Sync": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "ResultSelector": map[string]any{"out.$": "$.Output", "status.$": "$.Status"}, "ResultPath": "$.sync", "Next": "Async",
			"Parameters": map[string]any{"StateMachineArn": child, "Input": map[string]any{"n.$": "$.n"}}},
		"Async": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution", "ResultPath": "$.async", "Next": "Failing",
			"Parameters": map[string]any{"StateMachineArn": child, "Name": "async-child", "Input": map[string]any{"n": 1}}},
		"Failing": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": true,
			"Catch":      []any{map[string]any{"ErrorEquals": []any{"States.TaskFailed"}, "ResultPath": "$.caught", "Next": "Done"}},
			"Parameters": map[string]any{"StateMachineArn": failing}},
		"Done": map[string]any{"Type": "Succeed"},
	}})
	d := run(t, e, parent, `{"n":21}`)
	require.Equal(t, local.StatusSucceeded, d.Status, "%s: %s", d.Error, d.Cause)
	var out struct {
		Sync   map[string]any
		Async  map[string]any
		Caught map[string]any
	}
	require.NoError(t, json.Unmarshal(d.Output, &out))
	assert.Equal(t, map[string]any{"out": map[string]any{"doubled": 42.0}, "status": "SUCCEEDED"}, out.Sync)
	assert.Equal(t, "arn:aws:states:local:000000000000:execution:child:async-child", out.Async["ExecutionArn"])
	assert.Equal(t, local.ErrorTaskFailed, out.Caught["Error"])
	assert.Contains(t, out.Caught["Cause"], `"Status":"FAILED"`)
}

func TestExecutionTimeout(t *testing.T) {
	e, clock := newEngine(t, local.Config{})
	arn := define(t, e, "m", map[string]any{"TimeoutSeconds": 30, "StartAt": "W", "States": map[string]any{
		"W": map[string]any{"Type": "Wait", "Seconds": 60, "End": true}}})
	ctx := testCtx(t)
	exec, err := e.StartExecution(ctx, arn, "", nil)
	require.NoError(t, err)
	require.NoError(t, clock.BlockUntil(ctx, 2)) // watchdog + wait
	clock.Advance(30 * 1e9)
	d, err := e.WaitExecution(ctx, exec)
	require.NoError(t, err)
	assert.Equal(t, local.StatusTimedOut, d.Status)
	assert.Equal(t, local.ErrorTimeout, d.Error)
}

func TestHistory(t *testing.T) {
	e, _ := newEngine(t, local.Config{})
	e.RegisterLambda("fn", echo)
	arn := define(t, e, "m", map[string]any{"StartAt": "P", "States": map[string]any{
		"P": map[string]any{"Type": "Pass", "Next": "T"},
		"T": map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:fn", "Next": "F"},
		"F": map[string]any{"Type": "Fail", "Error": "E"},
	}})
	d := run(t, e, arn, `{}`)
	h, err := e.History(testCtx(t), d.ExecutionArn)
	require.NoError(t, err)
	var types []string
	for i, ev := range h {
		types = append(types, ev.Type)
		assert.Equal(t, int64(i+1), ev.ID)
	}
	assert.Equal(t, []string{"ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered",
		"TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "FailStateEntered", "ExecutionFailed"}, types)
}

func TestTaskTimeout(t *testing.T) {
	tests := []struct {
		name string
		task map[string]any
	}{
		{"TimeoutSeconds", map[string]any{"TimeoutSeconds": 30}},
		{"TimeoutSecondsPath", map[string]any{"TimeoutSecondsPath": "$.timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, clock := newEngine(t, local.Config{})
			cancelled := make(chan struct{})
			e.RegisterLambda("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
				<-ctx.Done()
				close(cancelled)
				return nil, ctx.Err()
			})
			task := map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:slow", "End": true}
			for k, v := range tt.task {
				task[k] = v
			}
			arn := define(t, e, "m", map[string]any{"StartAt": "T", "States": map[string]any{"T": task}})
			ctx := testCtx(t)
			exec, err := e.StartExecution(ctx, arn, "", json.RawMessage(`{"timeout":30}`))
			require.NoError(t, err)
			require.NoError(t, clock.BlockUntil(ctx, 1))
			next, _ := clock.Next()
			assert.Equal(t, epoch.Add(30*time.Second), next)
			clock.AdvanceToNext()
			d, err := e.WaitExecution(ctx, exec)
			require.NoError(t, err)
			assert.Equal(t, local.StatusFailed, d.Status)
			assert.Equal(t, local.ErrorTimeout, d.Error)
			<-cancelled // the handler's context is cancelled
		})
	}
}

func TestClosedEngine(t *testing.T) {
	e, _ := newEngine(t, local.Config{})
	arn := define(t, e, "m", map[string]any{"StartAt": "P", "States": map[string]any{"P": map[string]any{"Type": "Pass", "End": true}}})
	e.Close()
	_, err := e.StartExecution(testCtx(t), arn, "", nil)
	assert.ErrorIs(t, err, local.ErrClosed)
}
