package local_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/local/localtest"
)

// flaky is a handler failing with the given error names in turn, then
// succeeding; it records the fake time of each call.
type flaky struct {
	clock *localtest.Clock
	mu    sync.Mutex
	errs  []string
	calls []time.Time
}

func (f *flaky) handle(context.Context, json.RawMessage) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, f.clock.Now())
	if n := len(f.calls); n <= len(f.errs) {
		return nil, namedError{f.errs[n-1], "attempt failed"}
	}
	return json.RawMessage(`"ok"`), nil
}

func (f *flaky) intervals() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(f.calls); i++ {
		out = append(out, f.calls[i].Sub(f.calls[i-1]))
	}
	return out
}

func TestRetryTiming(t *testing.T) {
	s := time.Second
	tests := []struct {
		name      string
		retry     []any
		errs      []string
		status    string
		errName   string
		intervals []time.Duration
	}{
		{
			name:  "defaults: 1s, backoff 2, 3 attempts",
			retry: []any{map[string]any{"ErrorEquals": []any{"E"}}},
			errs:  []string{"E", "E", "E", "E"}, status: local.StatusFailed, errName: "E",
			intervals: []time.Duration{1 * s, 2 * s, 4 * s},
		},
		{
			name:  "backoff capped by MaxDelaySeconds",
			retry: []any{map[string]any{"ErrorEquals": []any{"E"}, "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 4, "MaxDelaySeconds": 10}},
			errs:  []string{"E", "E", "E", "E"}, status: local.StatusSucceeded,
			intervals: []time.Duration{2 * s, 6 * s, 10 * s, 10 * s},
		},
		{
			name:  "fractional BackoffRate",
			retry: []any{map[string]any{"ErrorEquals": []any{"E"}, "IntervalSeconds": 4, "BackoffRate": 1.5, "MaxAttempts": 3}},
			errs:  []string{"E", "E", "E"}, status: local.StatusSucceeded,
			intervals: []time.Duration{4 * s, 6 * s, 9 * s},
		},
		{
			name:  "MaxAttempts 0 never retries",
			retry: []any{map[string]any{"ErrorEquals": []any{"E"}, "MaxAttempts": 0}},
			errs:  []string{"E"}, status: local.StatusFailed, errName: "E",
		},
		{
			name: "counters are per retrier",
			retry: []any{
				map[string]any{"ErrorEquals": []any{"A"}, "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1},
				map[string]any{"ErrorEquals": []any{"States.ALL"}, "IntervalSeconds": 5, "MaxAttempts": 1},
			},
			errs: []string{"A", "B", "A", "A"}, status: local.StatusFailed, errName: "A",
			intervals: []time.Duration{1 * s, 5 * s, 1 * s},
		},
		{
			name:  "States.TaskFailed does not retry States.Timeout",
			retry: []any{map[string]any{"ErrorEquals": []any{"States.TaskFailed"}}},
			errs:  []string{"States.Timeout"}, status: local.StatusFailed, errName: local.ErrorTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, clock := newEngine(t, local.Config{})
			f := &flaky{clock: clock, errs: tt.errs}
			e.RegisterLambda("flaky", f.handle)
			arn := define(t, e, "m", map[string]any{"StartAt": "T", "States": map[string]any{
				"T": map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:flaky", "Retry": tt.retry, "End": true}}})
			autoAdvance(t, clock) // jumps exactly to each back-off's deadline
			d := run(t, e, arn, `{}`)
			require.Equal(t, tt.status, d.Status, d.Cause)
			assert.Equal(t, tt.errName, d.Error)
			assert.Equal(t, tt.intervals, f.intervals())
		})
	}
}

func TestRetryFullJitter(t *testing.T) {
	e, clock := newEngine(t, local.Config{})
	autoAdvance(t, clock)
	f := &flaky{clock: clock, errs: []string{"E", "E", "E", "E", "E"}}
	e.RegisterLambda("flaky", f.handle)
	arn := define(t, e, "m", map[string]any{"StartAt": "T", "States": map[string]any{
		"T": map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:flaky", "End": true,
			"Retry": []any{map[string]any{"ErrorEquals": []any{"E"}, "IntervalSeconds": 10, "MaxAttempts": 5, "JitterStrategy": "FULL"}}}}})
	d := run(t, e, arn, `{}`)
	require.Equal(t, local.StatusSucceeded, d.Status)
	for i, iv := range f.intervals() {
		limit := 10 * time.Second << i
		assert.LessOrEqual(t, iv, limit, "retry %d", i+1)
	}
}

func TestRetryCountersResetOnReentry(t *testing.T) {
	e, clock := newEngine(t, local.Config{})
	autoAdvance(t, clock)
	// Fails, retried once, succeeds; then the loop enters T again, which
	// must get its one retry again.
	f := &flaky{clock: clock, errs: []string{"E", "X", "E"}}
	e.RegisterLambda("flaky", func(ctx context.Context, p json.RawMessage) (json.RawMessage, error) {
		out, err := f.handle(ctx, p)
		if err != nil && err.(namedError).name == "X" {
			return json.RawMessage(`"ok"`), nil
		}
		return out, err
	})
	arn := define(t, e, "m", map[string]any{"StartAt": "T", "States": map[string]any{
		"T": map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:flaky", "ResultPath": null, "Next": "Again?",
			"Retry": []any{map[string]any{"ErrorEquals": []any{"E"}, "MaxAttempts": 1}}},
		"Again?": map[string]any{"Type": "Choice", "Default": "Count",
			"Choices": []any{map[string]any{"Variable": "$.loops", "NumericEquals": 1, "Next": "Done"}}},
		"Count": map[string]any{"Type": "Pass", "Result": 1, "ResultPath": "$.loops", "Next": "T"},
		"Done":  map[string]any{"Type": "Succeed"},
	}})
	d := run(t, e, arn, `{"loops":0}`)
	require.Equal(t, local.StatusSucceeded, d.Status, "%s: %s", d.Error, d.Cause)
	assert.Len(t, f.calls, 4)
}
