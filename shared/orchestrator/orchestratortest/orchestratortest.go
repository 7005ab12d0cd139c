// Package orchestratortest is the conformance suite of the orchestrator
// port: every driver (statemachines/local through its adapter, Step
// Functions on moto) runs Run, so the embedded engine cannot drift from Step
// Functions in what the conductor relies on.
//
// The suite's machines use only Pass states and SQS .waitForTaskToken tasks
// (moto runs Lambda tasks only with Docker): each task sends
//
//	{"token": "<$$.Task.Token>", "input": <the state input>}
//
// to the harness's task queue, and the test answers it. It works in real
// time (HeartbeatSeconds and Retry intervals of one or two seconds, as Step
// Functions counts in whole seconds) and waits on conditions with deadlines.
// Subtests run in parallel, each with a fresh harness; a machine is defined
// per execution that finishes, because moto cannot start an execution of a
// machine that has a finished one.
package orchestratortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/orchestrator"
)

// Harness is one driver under test with what the suite needs around it.
type Harness struct {
	// Orchestrator is the driver.
	Orchestrator orchestrator.Orchestrator
	// Define creates a Standard state machine from an ASL definition in
	// which ${TaskQueue} stands for the harness's task queue (an SQS queue
	// URL, a queue registered with the local engine), and returns its ARN.
	// The machine goes away with the test (t.Cleanup).
	Define func(t *testing.T, definition string) string
	// NextTask returns the body of the next message a task state sent to the
	// task queue, waiting until ctx is done.
	NextTask func(ctx context.Context) ([]byte, error)
	// Deviations are the driver's known departures from AWS.
	Deviations Deviations
}

// Deviations are known, documented differences between a driver's engine
// and AWS Step Functions (only moto has any). Where the difference is
// deterministic, the suite checks that it is still there instead of AWS's
// behaviour, so that a flag gone stale fails and gets removed; where it is
// not (RacyStarts, StopWaitsForTask's outcome) it accepts both, and where it
// would leave an execution running forever (NoNameCheck, NoTaskRetry) it
// skips, saying so. Either way it still checks what the conductor relies
// on, such as a late answer changing nothing.
type Deviations struct {
	// ClosedTokens: answers to a closed token are not refused with
	// TaskTimedOut. moto 5.2.1 accepts them while the execution runs (a
	// duplicate sent right behind the first answer may even replace it; a
	// later one is ignored) and answers InvalidToken once it has ended; AWS
	// documents TaskTimedOut ("the task associated with the token has
	// already been closed").
	ClosedTokens bool
	// DroppedCauses: SendTaskFailure's cause and StopExecution's error and
	// cause are not recorded. moto 5.2.1's server does not pass them on.
	DroppedCauses bool
	// NoNameCheck: StartExecution accepts any execution name. moto 5.2.1's
	// engine skips the check that AWS documents as InvalidName. The name
	// checks are skipped (starting such an execution would leave it running).
	NoNameCheck bool
	// RacyStarts: concurrent starts of one name and input may run the
	// execution twice under one ARN (moto 5.2.1 checks the name without a
	// lock); the test then answers both. AWS starts it once.
	RacyStarts bool
	// HeartbeatTimeoutAsTimeout: a missed heartbeat fails the task with
	// States.Timeout. moto 5.2.1; AWS raises States.HeartbeatTimeout.
	HeartbeatTimeoutAsTimeout bool
	// NoTaskRetry: a Retry of a .waitForTaskToken task breaks the task
	// (moto 5.2.1 sends the first attempt's token again and refuses it);
	// the retry test is skipped. AWS gives each attempt a new token.
	NoTaskRetry bool
	// StopWaitsForTask: StopExecution of an execution parked on a task
	// token takes effect only once the token is answered, and the execution
	// then ends ABORTED or, now and then, FAILED (moto 5.2.1); the test
	// answers it. AWS aborts at once and closes the token.
	StopWaitsForTask bool
}

// NewHarness makes a fresh harness for one test, cleaned up with t.Cleanup.
// It fails t when it cannot.
type NewHarness func(t *testing.T) Harness

// patience bounds every wait for something that should happen.
const patience = 30 * time.Second

// Run runs the conformance suite against the driver newHarness makes.
func Run(t *testing.T, newHarness NewHarness) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"StartIsIdempotentByName", testStartIdempotent},
		{"ConcurrentStartsMakeOneExecution", testConcurrentStarts},
		{"SuccessClosesTheToken", testSuccess},
		{"FailureIsTheTaskError", testFailure},
		{"RetriedTaskGetsANewToken", testRetryNewToken},
		{"HeartbeatsKeepATaskOpen", testHeartbeatKeepsOpen},
		{"MissedHeartbeatTimesOut", testHeartbeatTimeout},
		{"StopAbortsAndClosesTokens", testStop},
		{"InvalidTokens", testInvalidTokens},
		{"UnknownMachinesAndExecutions", testUnknown},
		{"InvalidStartRequests", testInvalidStart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newHarness(t))
		})
	}
}

// callbackTask is the part every suite machine's Wait state shares: send
// the token and the state input to the task queue, wait for the answer.
const callbackTask = `"Type": "Task",
      "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
      "Parameters": {"QueueUrl": "${TaskQueue}", "MessageBody": {"token.$": "$$.Task.Token", "input.$": "$"}},`

// The suite's machines.
var (
	// waitMachine parks on one task and adds its result to the input.
	waitMachine = `{"StartAt": "Wait", "States": {
    "Wait": {` + callbackTask + `
      "ResultPath": "$.result",
      "Next": "Done"
    },
    "Done": {"Type": "Pass", "End": true}
  }}`
	// catchMachine records the task's error in its output.
	catchMachine = `{"StartAt": "Wait", "States": {
    "Wait": {` + callbackTask + `
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
      "End": true
    },
    "Caught": {"Type": "Pass", "End": true}
  }}`
	// retryMachine retries InfrastructureFail once, like the job machine.
	retryMachine = `{"StartAt": "Wait", "States": {
    "Wait": {` + callbackTask + `
      "Retry": [{"ErrorEquals": ["InfrastructureFail"], "IntervalSeconds": 1, "MaxAttempts": 1, "BackoffRate": 1}],
      "ResultPath": "$.result",
      "End": true
    }
  }}`
	// heartbeatMachine's task must hear from its worker every 4 seconds
	// (generous: moto_server is one Python process on a busy machine).
	heartbeatMachine = `{"StartAt": "Wait", "States": {
    "Wait": {` + callbackTask + `
      "HeartbeatSeconds": 4,
      "ResultPath": "$.result",
      "End": true
    }
  }}`
)

// task is one message of a task state.
type task struct {
	Token string          `json:"token"`
	Input json.RawMessage `json:"input"`
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*patience)
	t.Cleanup(cancel)
	return ctx
}

// uniqueName returns an execution name no other run uses.
func uniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// nextTask waits for the next task message.
func nextTask(t *testing.T, h Harness) task {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	body, err := h.NextTask(ctx)
	require.NoError(t, err, "no task message within %s", patience)
	var tk task
	require.NoError(t, json.Unmarshal(body, &tk), "task message %s", body)
	require.NotEmpty(t, tk.Token, "task message without a token: %s", body)
	return tk
}

// start starts an execution and requires it to start.
func start(t *testing.T, h Harness, machine, name, input string) string {
	t.Helper()
	arn, err := h.Orchestrator.StartExecution(testContext(t), machine, name, json.RawMessage(input))
	require.NoError(t, err, "start %s", name)
	require.NotEmpty(t, arn)
	return arn
}

// waitFinished polls until the execution has finished and returns it.
func waitFinished(t *testing.T, h Harness, arn string) orchestrator.Execution {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		x, err := h.Orchestrator.DescribeExecution(testContext(t), arn)
		require.NoError(t, err, "describe %s", arn)
		if x.Status.Finished() {
			return x
		}
		require.True(t, time.Now().Before(deadline), "%s still %s after %s", arn, x.Status, patience)
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// describe reads an execution.
func describe(t *testing.T, h Harness, arn string) orchestrator.Execution {
	t.Helper()
	x, err := h.Orchestrator.DescribeExecution(testContext(t), arn)
	require.NoError(t, err, "describe %s", arn)
	return x
}

// assertClosed checks that all three answers to a closed token are refused
// as AWS refuses them and change nothing of the execution.
func assertClosed(t *testing.T, h Harness, tk task, arn string) {
	t.Helper()
	ctx := testContext(t)
	before := describe(t, h, arn)
	errs := map[string]error{
		"SendTaskSuccess":   h.Orchestrator.SendTaskSuccess(ctx, tk.Token, json.RawMessage(`{"late":true}`)),
		"SendTaskFailure":   h.Orchestrator.SendTaskFailure(ctx, tk.Token, "Late", "too late"),
		"SendTaskHeartbeat": h.Orchestrator.SendTaskHeartbeat(ctx, tk.Token),
	}
	for call, err := range errs {
		if h.Deviations.ClosedTokens {
			assert.NotErrorIs(t, err, orchestrator.ErrTaskTimedOut,
				"%s of a closed token: the driver now answers TaskTimedOut as AWS does; remove Deviations.ClosedTokens", call)
			continue
		}
		assert.ErrorIs(t, err, orchestrator.ErrTaskTimedOut, "%s of a closed token", call)
		var apiErr *orchestrator.Error
		if assert.ErrorAs(t, err, &apiErr, call) {
			assert.Equal(t, "TaskTimedOut", apiErr.ErrorCode(), call)
		}
	}
	after := describe(t, h, arn)
	assert.Equal(t, before.Status, after.Status, "a late answer changed the execution")
	assert.JSONEq(t, jsonOr(before.Output), jsonOr(after.Output), "a late answer changed the output")
}

func jsonOr(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}

// assertCause checks a recorded cause, or that the driver still drops it.
func assertCause(t *testing.T, h Harness, want, got, what string) {
	t.Helper()
	if h.Deviations.DroppedCauses {
		assert.NotEqual(t, want, got, "%s: the driver now records it; remove Deviations.DroppedCauses", what)
		return
	}
	assert.Equal(t, want, got, what)
}

func testStartIdempotent(t *testing.T, h Harness) {
	ctx := testContext(t)
	m := h.Define(t, waitMachine)
	name, input := uniqueName("idem"), `{"pipeline":"p-1","n":1}`
	arn := start(t, h, m, name, input)
	again, err := h.Orchestrator.StartExecution(ctx, m, name, json.RawMessage(input))
	require.NoError(t, err, "the same name and input as a running execution")
	assert.Equal(t, arn, again)

	_, err = h.Orchestrator.StartExecution(ctx, m, name, json.RawMessage(`{"pipeline":"p-2","n":1}`))
	assert.ErrorIs(t, err, orchestrator.ErrExecutionAlreadyExists, "the same name with another input")
	var apiErr *orchestrator.Error
	if assert.ErrorAs(t, err, &apiErr) {
		assert.Equal(t, "ExecutionAlreadyExists", apiErr.ErrorCode())
	}

	x := describe(t, h, arn)
	assert.Equal(t, orchestrator.StatusRunning, x.Status)
	assert.Equal(t, name, x.Name)
	assert.Equal(t, m, x.StateMachineArn)
	assert.Equal(t, arn, x.ExecutionArn)
	assert.JSONEq(t, input, string(x.Input))
	assert.False(t, x.StartDate.IsZero(), "StartDate")
	assert.True(t, x.StopDate.IsZero(), "StopDate of a running execution")

	tk := nextTask(t, h)
	assert.JSONEq(t, input, string(tk.Input))
	require.NoError(t, h.Orchestrator.SendTaskSuccess(ctx, tk.Token, json.RawMessage(`{}`)))
	require.Equal(t, orchestrator.StatusSucceeded, waitFinished(t, h, arn).Status)

	_, err = h.Orchestrator.StartExecution(ctx, m, name, json.RawMessage(input))
	assert.ErrorIs(t, err, orchestrator.ErrExecutionAlreadyExists, "the name of a finished execution")
}

func testConcurrentStarts(t *testing.T, h Harness) {
	ctx := testContext(t)
	m := h.Define(t, waitMachine)
	name, input := uniqueName("race"), `{"job":"build"}`
	const n = 6
	arns := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			arn, err := h.Orchestrator.StartExecution(ctx, m, name, json.RawMessage(input))
			arns <- arn
			errs <- err
		}()
	}
	var first string
	for range n {
		require.NoError(t, <-errs)
		arn := <-arns
		if first == "" {
			first = arn
		}
		assert.Equal(t, first, arn, "every start of one name and input gives one execution")
	}
	tk := nextTask(t, h)
	require.NoError(t, h.Orchestrator.SendTaskSuccess(ctx, tk.Token, json.RawMessage(`{}`)))
	if h.Deviations.RacyStarts {
		answerTwinsUntilFinished(t, h, first)
		assert.Equal(t, orchestrator.StatusSucceeded, describe(t, h, first).Status)
		return
	}
	assert.Equal(t, orchestrator.StatusSucceeded, waitFinished(t, h, first).Status)
	// One execution sent one task message: a second would be waiting by
	// now, since the first was answered after every start had returned.
	quiet, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	body, err := h.NextTask(quiet)
	assert.Error(t, err, "a second task message: %s", body)
}

// answerTwinsUntilFinished answers every further task message (the twins
// of Deviations.RacyStarts) until the execution arn has finished.
func answerTwinsUntilFinished(t *testing.T, h Harness, arn string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !describe(t, h, arn).Status.Finished() {
		require.True(t, time.Now().Before(deadline), "%s still running after %s", arn, patience)
		wait, cancel := context.WithTimeout(t.Context(), time.Second)
		body, err := h.NextTask(wait)
		cancel()
		if err != nil {
			continue
		}
		var twin task
		require.NoError(t, json.Unmarshal(body, &twin))
		require.NoError(t, h.Orchestrator.SendTaskSuccess(testContext(t), twin.Token, json.RawMessage(`{}`)))
		t.Log("concurrent starts ran the execution twice (Deviations.RacyStarts)")
	}
}

func testSuccess(t *testing.T, h Harness) {
	ctx := testContext(t)
	m := h.Define(t, waitMachine)
	arn := start(t, h, m, uniqueName("ok"), `{"job":"test"}`)
	tk := nextTask(t, h)

	err := h.Orchestrator.SendTaskSuccess(ctx, tk.Token, json.RawMessage(`{not json`))
	assert.ErrorIs(t, err, orchestrator.ErrInvalidOutput, "output that is not JSON")
	assert.Equal(t, orchestrator.StatusRunning, describe(t, h, arn).Status, "a refused answer leaves the task open")

	require.NoError(t, h.Orchestrator.SendTaskSuccess(ctx, tk.Token, json.RawMessage(`{"status":"success","n":2}`)))
	// A duplicate answer right behind the first (a redelivered event) is
	// refused, and the first answer stands.
	err = h.Orchestrator.SendTaskSuccess(ctx, tk.Token, json.RawMessage(`{"status":"duplicate"}`))
	if h.Deviations.ClosedTokens {
		assert.NotErrorIs(t, err, orchestrator.ErrTaskTimedOut, "remove Deviations.ClosedTokens")
	} else {
		assert.ErrorIs(t, err, orchestrator.ErrTaskTimedOut, "a second answer")
	}
	x := waitFinished(t, h, arn)
	require.Equal(t, orchestrator.StatusSucceeded, x.Status, "error %q cause %q", x.Error, x.Cause)
	if h.Deviations.ClosedTokens && strings.Contains(string(x.Output), "duplicate") {
		t.Log("the duplicate answer replaced the first (Deviations.ClosedTokens)")
	} else {
		assert.JSONEq(t, `{"job":"test","result":{"status":"success","n":2}}`, string(x.Output))
	}
	assert.False(t, x.StopDate.IsZero(), "StopDate of a finished execution")
	assertClosed(t, h, tk, arn)
}

func testFailure(t *testing.T, h Harness) {
	tests := []struct {
		name    string
		machine string
		check   func(t *testing.T, x orchestrator.Execution)
	}{
		{"uncaught fails the execution", waitMachine, func(t *testing.T, x orchestrator.Execution) {
			require.Equal(t, orchestrator.StatusFailed, x.Status)
			assert.Equal(t, "InfrastructureFail", x.Error)
			assertCause(t, h, "node lost", x.Cause, "the execution's cause")
		}},
		{"caught by name", catchMachine, func(t *testing.T, x orchestrator.Execution) {
			require.Equal(t, orchestrator.StatusSucceeded, x.Status, "error %q cause %q", x.Error, x.Cause)
			var out struct {
				Job   string `json:"job"`
				Error struct{ Error, Cause string }
			}
			require.NoError(t, json.Unmarshal(x.Output, &out), "%s", x.Output)
			assert.Equal(t, "deploy", out.Job)
			assert.Equal(t, "InfrastructureFail", out.Error.Error)
			assertCause(t, h, "node lost", out.Error.Cause, "the caught cause")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := h.Define(t, tc.machine)
			arn := start(t, h, m, uniqueName("fail"), `{"job":"deploy"}`)
			tk := nextTask(t, h)
			require.NoError(t, h.Orchestrator.SendTaskFailure(testContext(t), tk.Token, "InfrastructureFail", "node lost"))
			tc.check(t, waitFinished(t, h, arn))
			assertClosed(t, h, tk, arn)
		})
	}
}

func testRetryNewToken(t *testing.T, h Harness) {
	if h.Deviations.NoTaskRetry {
		t.Skip("the driver's engine cannot retry a .waitForTaskToken task (Deviations.NoTaskRetry)")
	}
	ctx := testContext(t)
	m := h.Define(t, retryMachine)
	arn := start(t, h, m, uniqueName("retry"), `{"attempt":0}`)
	first := nextTask(t, h)
	require.NoError(t, h.Orchestrator.SendTaskFailure(ctx, first.Token, "InfrastructureFail", "lost"))
	second := nextTask(t, h)
	assert.NotEqual(t, first.Token, second.Token, "a retried task has a new token")
	assert.JSONEq(t, `{"attempt":0}`, string(second.Input), "a retry gets the state's input again")
	assertClosed(t, h, first, arn) // the first attempt's token is closed while the second waits
	require.NoError(t, h.Orchestrator.SendTaskSuccess(ctx, second.Token, json.RawMessage(`"done"`)))
	x := waitFinished(t, h, arn)
	require.Equal(t, orchestrator.StatusSucceeded, x.Status, "error %q cause %q", x.Error, x.Cause)
	assert.JSONEq(t, `{"attempt":0,"result":"done"}`, string(x.Output))
}

func testHeartbeatKeepsOpen(t *testing.T, h Harness) {
	ctx := testContext(t)
	m := h.Define(t, heartbeatMachine)
	arn := start(t, h, m, uniqueName("beat"), `{}`)
	tk := nextTask(t, h)
	// Beat every quarter second for longer than HeartbeatSeconds.
	var longest time.Duration // between two answered beats, for the failure message
	last := time.Now()
	for until := last.Add(5 * time.Second); time.Now().Before(until); {
		require.NoError(t, h.Orchestrator.SendTaskHeartbeat(ctx, tk.Token))
		longest, last = max(longest, time.Since(last)), time.Now()
		time.Sleep(250 * time.Millisecond) // the worker's heartbeat period
	}
	x := describe(t, h, arn)
	require.Equal(t, orchestrator.StatusRunning, x.Status,
		"heartbeats keep the task open (error %q; longest gap between beats %s)", x.Error, longest)
	require.NoError(t, h.Orchestrator.SendTaskSuccess(ctx, tk.Token, json.RawMessage(`1`)))
	x = waitFinished(t, h, arn)
	require.Equal(t, orchestrator.StatusSucceeded, x.Status, "error %q cause %q", x.Error, x.Cause)
	assert.JSONEq(t, `{"result":1}`, string(x.Output))
}

func testHeartbeatTimeout(t *testing.T, h Harness) {
	m := h.Define(t, heartbeatMachine)
	arn := start(t, h, m, uniqueName("silent"), `{}`)
	tk := nextTask(t, h)
	x := waitFinished(t, h, arn)
	require.Equal(t, orchestrator.StatusFailed, x.Status)
	if h.Deviations.HeartbeatTimeoutAsTimeout {
		assert.Equal(t, "States.Timeout", x.Error, "remove Deviations.HeartbeatTimeoutAsTimeout")
	} else {
		assert.Equal(t, "States.HeartbeatTimeout", x.Error)
	}
	assertClosed(t, h, tk, arn)
}

func testStop(t *testing.T, h Harness) {
	ctx := testContext(t)
	m := h.Define(t, waitMachine)
	arn := start(t, h, m, uniqueName("stop"), `{}`)
	tk := nextTask(t, h)
	require.NoError(t, h.Orchestrator.StopExecution(ctx, arn, "Canceled", "canceled by a user"))
	if h.Deviations.StopWaitsForTask {
		assert.Equal(t, orchestrator.StatusRunning, describe(t, h, arn).Status, "remove Deviations.StopWaitsForTask")
		require.NoError(t, h.Orchestrator.SendTaskSuccess(ctx, tk.Token, json.RawMessage(`{}`)))
	}
	x := waitFinished(t, h, arn)
	if h.Deviations.StopWaitsForTask && x.Status == orchestrator.StatusFailed {
		t.Logf("the stopped execution ended FAILED (%s), not ABORTED (Deviations.StopWaitsForTask)", x.Error)
	} else {
		require.Equal(t, orchestrator.StatusAborted, x.Status)
		assertCause(t, h, "Canceled", x.Error, "the stop's error")
		assertCause(t, h, "canceled by a user", x.Cause, "the stop's cause")
	}
	assertClosed(t, h, tk, arn)

	err := h.Orchestrator.StopExecution(ctx, arn, "Again", "stopped twice")
	if err != nil {
		assert.NotErrorIs(t, err, orchestrator.ErrExecutionDoesNotExist, "the execution exists")
	}
	again := describe(t, h, arn)
	assert.Equal(t, x.Status, again.Status, "stopping a finished execution keeps its outcome")
	assert.Equal(t, x.Error, again.Error)
}

func testInvalidTokens(t *testing.T, h Harness) {
	ctx := testContext(t)
	h.Define(t, waitMachine) // the suite's state: a driver may need a machine
	tokens := []struct {
		name, token string
	}{
		{"made up", "orbit-" + uniqueName("made-up-token")},
		{"not base64", "!!! not a token !!!"},
	}
	for _, tc := range tokens {
		t.Run(tc.name, func(t *testing.T) {
			for call, err := range map[string]error{
				"SendTaskSuccess":   h.Orchestrator.SendTaskSuccess(ctx, tc.token, json.RawMessage(`{}`)),
				"SendTaskFailure":   h.Orchestrator.SendTaskFailure(ctx, tc.token, "E", "c"),
				"SendTaskHeartbeat": h.Orchestrator.SendTaskHeartbeat(ctx, tc.token),
			} {
				assert.ErrorIs(t, err, orchestrator.ErrInvalidToken, call)
				assert.True(t, orchestrator.TaskGone(err), call)
			}
		})
	}
}

// executionArnOf makes the ARN an execution named name of machine would
// have: arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME.
func executionArnOf(t *testing.T, machine, name string) string {
	t.Helper()
	before, after, ok := strings.Cut(machine, ":stateMachine:")
	require.True(t, ok, "a state machine ARN: %s", machine)
	return before + ":execution:" + after + ":" + name
}

func testUnknown(t *testing.T, h Harness) {
	ctx := testContext(t)
	m := h.Define(t, waitMachine)
	missing := executionArnOf(t, m, uniqueName("missing"))
	_, err := h.Orchestrator.DescribeExecution(ctx, missing)
	assert.ErrorIs(t, err, orchestrator.ErrExecutionDoesNotExist, "describe")
	err = h.Orchestrator.StopExecution(ctx, missing, "E", "c")
	assert.ErrorIs(t, err, orchestrator.ErrExecutionDoesNotExist, "stop")
	_, err = h.Orchestrator.StartExecution(ctx, m+"-missing", uniqueName("x"), json.RawMessage(`{}`))
	assert.ErrorIs(t, err, orchestrator.ErrStateMachineDoesNotExist, "start on a machine that does not exist")
}

func testInvalidStart(t *testing.T, h Harness) {
	m := h.Define(t, waitMachine)
	tests := []struct {
		name      string
		execName  string
		input     string
		want      *orchestrator.Error
		deviation bool
	}{
		{"input not JSON", uniqueName("bad-input"), `{"open":`, orchestrator.ErrInvalidExecutionInput, false},
		{"name with a space", "two words", `{}`, orchestrator.ErrInvalidName, h.Deviations.NoNameCheck},
		{"name with a slash", "a/b", `{}`, orchestrator.ErrInvalidName, h.Deviations.NoNameCheck},
		{"name too long", strings.Repeat("n", 81), `{}`, orchestrator.ErrInvalidName, h.Deviations.NoNameCheck},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.deviation {
				t.Skip("the driver's engine does not check execution names (Deviations.NoNameCheck)")
			}
			arn, err := h.Orchestrator.StartExecution(testContext(t), m, tc.execName, json.RawMessage(tc.input))
			assert.ErrorIs(t, err, tc.want, "started %s", arn)
			var apiErr *orchestrator.Error
			if assert.ErrorAs(t, err, &apiErr) {
				assert.Equal(t, tc.want.Code, apiErr.ErrorCode())
			}
			assert.NotContains(t, fmt.Sprint(err), "%!", "a well-formed message")
		})
	}
}
