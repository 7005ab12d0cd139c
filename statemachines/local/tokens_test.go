package local_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/local/localtest"
)

// tokenMachine defines a machine whose Dispatch task parks on a token that
// the "dispatch" handler publishes on the returned channel.
func tokenMachine(t *testing.T, e *local.Engine) (string, chan string) {
	tokens := make(chan string, 10)
	e.RegisterLambda("dispatch", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		var in struct{ Token string }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, err
		}
		tokens <- in.Token
		return json.RawMessage(`{"queued":true}`), nil
	})
	arn := define(t, e, "job", map[string]any{"StartAt": "Dispatch", "States": map[string]any{
		"Dispatch": map[string]any{
			"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
			"HeartbeatSeconds": 10, "TimeoutSeconds": 100, "ResultPath": "$.result", "End": true,
			"Parameters": map[string]any{"FunctionName": "dispatch",
				"Payload": map[string]any{"Token.$": "$$.Task.Token", "Job.$": "$.job"}},
		},
	}})
	return arn, tokens
}

func startParked(t *testing.T, e *local.Engine, clock *localtest.Clock, machine string, tokens chan string) (string, string) {
	ctx := testCtx(t)
	exec, err := e.StartExecution(ctx, machine, "", json.RawMessage(`{"job":"build"}`))
	require.NoError(t, err)
	var token string
	select {
	case token = <-tokens:
	case <-ctx.Done():
		t.Fatal("no token")
	}
	// Parked: heartbeat and timeout timers are running.
	require.NoError(t, clock.BlockUntil(ctx, 2))
	return exec, token
}

func TestTaskTokens(t *testing.T) {
	tests := []struct {
		name    string
		act     func(t *testing.T, e *local.Engine, clock *localtest.Clock, token string)
		status  string
		output  string
		errName string
	}{
		{
			name: "success",
			act: func(t *testing.T, e *local.Engine, _ *localtest.Clock, token string) {
				require.NoError(t, e.SendTaskSuccess(testCtx(t), token, json.RawMessage(`{"outcome":"success"}`)))
			},
			status: local.StatusSucceeded, output: `{"job":"build","result":{"outcome":"success"}}`,
		},
		{
			name: "failure",
			act: func(t *testing.T, e *local.Engine, _ *localtest.Clock, token string) {
				require.NoError(t, e.SendTaskFailure(testCtx(t), token, "Job.Failed", "step 3 exited 1"))
			},
			status: local.StatusFailed, errName: "Job.Failed",
		},
		{
			name: "heartbeats keep the task alive past HeartbeatSeconds",
			act: func(t *testing.T, e *local.Engine, clock *localtest.Clock, token string) {
				ctx := testCtx(t)
				for i := 0; i < 3; i++ {
					clock.Advance(8 * time.Second)
					require.NoError(t, e.SendTaskHeartbeat(ctx, token))
					want := clock.Now().Add(10 * time.Second)
					waitFor(t, "heartbeat timer reset", func() bool {
						return slices.Equal(clock.Deadlines(), []time.Time{want, epoch.Add(100 * time.Second)})
					})
				}
				require.NoError(t, e.SendTaskSuccess(ctx, token, json.RawMessage(`"late but alive"`)))
			},
			status: local.StatusSucceeded, output: `{"job":"build","result":"late but alive"}`,
		},
		{
			name: "no heartbeat: States.HeartbeatTimeout",
			act: func(t *testing.T, e *local.Engine, clock *localtest.Clock, token string) {
				clock.Advance(10 * time.Second)
			},
			status: local.StatusFailed, errName: local.ErrorHeartbeatTimeout,
		},
		{
			name: "heartbeats but no answer: States.Timeout",
			act: func(t *testing.T, e *local.Engine, clock *localtest.Clock, token string) {
				ctx := testCtx(t)
				for i := 0; i < 11; i++ { // up to 99s
					clock.Advance(9 * time.Second)
					require.NoError(t, e.SendTaskHeartbeat(ctx, token))
					want := clock.Now().Add(10 * time.Second)
					waitFor(t, "heartbeat timer reset", func() bool {
						expect := []time.Time{want, epoch.Add(100 * time.Second)}
						slices.SortFunc(expect, time.Time.Compare)
						return slices.Equal(clock.Deadlines(), expect)
					})
				}
				clock.Advance(time.Second)
			},
			status: local.StatusFailed, errName: local.ErrorTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, clock := newEngine(t, local.Config{})
			machine, tokens := tokenMachine(t, e)
			exec, token := startParked(t, e, clock, machine, tokens)
			tt.act(t, e, clock, token)
			ctx := testCtx(t)
			d, err := e.WaitExecution(ctx, exec)
			require.NoError(t, err)
			require.Equal(t, tt.status, d.Status, "%s: %s", d.Error, d.Cause)
			assert.Equal(t, tt.errName, d.Error)
			if tt.output != "" {
				assert.JSONEq(t, tt.output, string(d.Output))
			}
			// The token is closed now, whichever way the task ended.
			assert.ErrorIs(t, e.SendTaskSuccess(ctx, token, json.RawMessage(`{}`)), local.ErrTaskTimedOut)
			assert.ErrorIs(t, e.SendTaskHeartbeat(ctx, token), local.ErrTaskTimedOut)
		})
	}
}

func TestTaskTokenErrors(t *testing.T) {
	e, clock := newEngine(t, local.Config{})
	machine, tokens := tokenMachine(t, e)
	_, token := startParked(t, e, clock, machine, tokens)
	ctx := testCtx(t)
	foreign := base64.RawURLEncoding.EncodeToString([]byte("arn:aws:states:local:000000000000:execution:job:nope|1|00"))
	// The same execution with another task nonce: its last two hex digits
	// changed (to "ff", or to "00" when they are "ff": 1 run in 256).
	raw := mustDecode(t, token)
	other := "ff"
	if string(raw[len(raw)-2:]) == other {
		other = "00"
	}
	sibling := base64.RawURLEncoding.EncodeToString(append(raw[:len(raw)-2:len(raw)-2], other...))
	require.NotEqual(t, token, sibling)
	tests := []struct {
		name  string
		call  func() error
		error error
	}{
		{"malformed token", func() error { return e.SendTaskSuccess(ctx, "not a token!", json.RawMessage(`{}`)) }, local.ErrInvalidToken},
		{"base64 but not ours", func() error { return e.SendTaskHeartbeat(ctx, base64.RawURLEncoding.EncodeToString([]byte("hello"))) }, local.ErrInvalidToken},
		{"unknown execution", func() error { return e.SendTaskFailure(ctx, foreign, "E", "c") }, local.ErrTaskDoesNotExist},
		{"unknown task of a running execution", func() error { return e.SendTaskHeartbeat(ctx, sibling) }, local.ErrTaskDoesNotExist},
		{"invalid output", func() error { return e.SendTaskSuccess(ctx, token, json.RawMessage(`{nope`)) }, local.ErrInvalidOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.call(), tt.error)
		})
	}
}

func mustDecode(t *testing.T, token string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	return b
}

func TestStopParkedExecution(t *testing.T) {
	e, clock := newEngine(t, local.Config{})
	machine, tokens := tokenMachine(t, e)
	exec, token := startParked(t, e, clock, machine, tokens)
	ctx := testCtx(t)
	require.NoError(t, e.StopExecution(ctx, exec, "Workflow.Canceled", "canceled by user"))
	d, err := e.DescribeExecution(ctx, exec)
	require.NoError(t, err)
	assert.Equal(t, local.StatusAborted, d.Status)
	assert.Equal(t, "Workflow.Canceled", d.Error)
	assert.Equal(t, "canceled by user", d.Cause)
	assert.False(t, d.StopDate.IsZero())
	assert.ErrorIs(t, e.SendTaskSuccess(ctx, token, json.RawMessage(`{}`)), local.ErrTaskTimedOut)
	require.NoError(t, e.StopExecution(ctx, exec, "Again", ""), "stopping a finished execution is a no-op")
	h, err := e.History(ctx, exec)
	require.NoError(t, err)
	assert.Equal(t, "ExecutionAborted", h[len(h)-1].Type)
	// The goroutine lets go of its timers.
	waitFor(t, "timers stopped", func() bool { return clock.Pending() == 0 })
}
