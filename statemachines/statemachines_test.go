package statemachines_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines"
	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/local/localtest"
)

// fakeConductor plays the conductor for the job machine: it records the
// tokens Dispatch hands it and the input Finish gets, and answers each
// dispatch with what the test says the job's tasks did.
type fakeConductor struct {
	t       *testing.T
	engine  *local.Engine
	outcome func(attempt int) (errName string, success json.RawMessage) // "" errName: success

	mu         sync.Mutex
	dispatches int
	finish     json.RawMessage
}

func (f *fakeConductor) handle(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
	var req struct {
		Action    string          `json:"action"`
		TaskToken string          `json:"task_token"`
		Input     json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, err
	}
	switch req.Action {
	case "dispatch":
		f.mu.Lock()
		f.dispatches++
		attempt := f.dispatches
		f.mu.Unlock()
		errName, out := f.outcome(attempt)
		if out == nil && errName == "" {
			break // never answered: the job runs until its timeout
		}
		// The state parks on its token before it calls the conductor, so
		// the answer may come at once (a job canceled before it ran).
		var err error
		if errName != "" {
			err = f.engine.SendTaskFailure(ctx, req.TaskToken, errName, "the allocation was lost")
		} else {
			err = f.engine.SendTaskSuccess(ctx, req.TaskToken, out)
		}
		assert.NoError(f.t, err)
	case "finish_job":
		f.mu.Lock()
		f.finish = req.Input
		f.mu.Unlock()
	}
	return json.RawMessage(`{"ok":true}`), nil
}

func TestJobMachine(t *testing.T) {
	success := json.RawMessage(`{"status":"success"}`)
	tests := []struct {
		name       string
		outcome    func(attempt int) (string, json.RawMessage)
		dispatches int
		// result or error is what Finish sees.
		result string
		error  string
	}{
		{name: "success", outcome: func(int) (string, json.RawMessage) { return "", success },
			dispatches: 1, result: `{"status":"success"}`},
		{name: "a failed job is an outcome, not an error", outcome: func(int) (string, json.RawMessage) {
			return "", json.RawMessage(`{"status":"failed","message":"exit 1"}`)
		}, dispatches: 1, result: `{"status":"failed","message":"exit 1"}`},
		{name: "infrastructure failure retried, then success", outcome: func(a int) (string, json.RawMessage) {
			if a == 1 {
				return "InfrastructureFail", nil
			}
			return "", success
		}, dispatches: 2, result: `{"status":"success"}`},
		{name: "infrastructure failure retried twice, then caught", outcome: func(int) (string, json.RawMessage) {
			return "InfrastructureFail", nil
		}, dispatches: 3, error: "InfrastructureFail"},
		{name: "timeout", outcome: func(int) (string, json.RawMessage) { return "", nil },
			dispatches: 1, error: "States.Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := localtest.NewClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
			engine, err := local.New(local.Config{Clock: clock})
			require.NoError(t, err)
			t.Cleanup(engine.Close)
			f := &fakeConductor{t: t, engine: engine, outcome: tt.outcome}
			engine.RegisterLambda("conductor", f.handle)
			arn, err := engine.Define(statemachines.JobMachine, statemachines.Job, map[string]string{statemachines.ConductorFunction: "conductor"})
			require.NoError(t, err)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// Fire the retry back-offs (1 s) at once; fire the job timeout
			// (60 s) only when the test expects it and the job has been
			// dispatched, so it never races the dispatch or an answer.
			expectTimeout := tt.error == "States.Timeout"
			fireLong := func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return expectTimeout && f.dispatches > 0
			}
			go func() {
				for ctx.Err() == nil {
					if next, ok := clock.Next(); ok && (next.Sub(clock.Now()) <= 5*time.Second || fireLong()) {
						clock.AdvanceToNext()
						continue
					}
					time.Sleep(time.Millisecond)
				}
			}()
			exec, err := engine.StartExecution(ctx, arn, "job-1",
				json.RawMessage(`{"workflow_id":"w","job_name":"build","job_id":"j","timeout_seconds":60}`))
			require.NoError(t, err)
			d, err := engine.WaitExecution(ctx, exec)
			require.NoError(t, err)
			assert.Equal(t, local.StatusSucceeded, d.Status, "%s: %s", d.Error, d.Cause)

			f.mu.Lock()
			defer f.mu.Unlock()
			assert.Equal(t, tt.dispatches, f.dispatches)
			var in struct {
				WorkflowID string          `json:"workflow_id"`
				JobName    string          `json:"job_name"`
				Result     json.RawMessage `json:"result"`
				Error      *struct{ Error, Cause string }
			}
			require.NoError(t, json.Unmarshal(f.finish, &in), string(f.finish))
			assert.Equal(t, "w", in.WorkflowID)
			assert.Equal(t, "build", in.JobName)
			if tt.result != "" {
				assert.JSONEq(t, tt.result, string(in.Result))
				assert.Nil(t, in.Error)
			} else {
				require.NotNil(t, in.Error, string(f.finish))
				assert.Equal(t, tt.error, in.Error.Error)
			}
		})
	}
}
