// Package orchestrator is Orbit's port to the engine that runs the pipeline,
// workflow and job state machines: AWS Step Functions (Standard workflows) in
// AWS, statemachines/local in the embedded shape. The conductor starts
// executions and answers the task tokens of their .waitForTaskToken states
// through it; it never learns which engine runs them.
//
//	StartExecution(machine, name, input) ──▶ RUNNING ─┬─▶ SUCCEEDED | FAILED | TIMED_OUT
//	   │ a task state sends its token                 └─▶ ABORTED (StopExecution)
//	   ▼
//	token ──▶ SendTaskHeartbeat*  ──▶ SendTaskSuccess(output) | SendTaskFailure(error, cause)
//	             (each restarts HeartbeatSeconds)   (closes the token: later answers fail)
//
// Contract every driver honours (pinned down by orchestratortest.Run, with
// the errors spelled and meant as in the AWS Step Functions API reference):
//
//   - StartExecution is idempotent by name, as Step Functions Standard is:
//     the same name and the same input as a RUNNING execution of the machine
//     returns that execution's ARN and starts nothing; a different input, or
//     a name whose execution has already finished, gives
//     ErrExecutionAlreadyExists (names are not reusable). So a caller that
//     names each execution after the record it drives (a pipeline, workflow
//     or job id) may retry a start freely. An unknown machine gives
//     ErrStateMachineDoesNotExist, a name outside Step Functions' rules (1–80
//     characters, no whitespace, brackets, wildcards or control characters)
//     ErrInvalidName, an input that is not JSON ErrInvalidExecutionInput.
//   - A task token is open from the moment its state sends it until the
//     first SendTaskSuccess or SendTaskFailure for it, its HeartbeatSeconds
//     or TimeoutSeconds elapsing, or the end of its execution. Answering or
//     heartbeating a closed token gives ErrTaskTimedOut ("the task token has
//     either expired or the task associated with the token has already been
//     closed"), and changes nothing. A string that was never a token gives
//     ErrInvalidToken. ErrTaskDoesNotExist is what AWS documents for an
//     activity that does not exist, and statemachines/local returns it for a
//     well-formed token of an execution it no longer remembers; callers treat
//     the three alike: the answer has nowhere to go (see TaskGone).
//   - SendTaskFailure's error and cause become the task state's error, which
//     Retry and Catch match by name (the job machine retries
//     "InfrastructureFail"); a retried task gets a new token.
//   - SendTaskSuccess's output must be JSON (else ErrInvalidOutput) and
//     becomes the task state's result.
//   - StopExecution aborts a RUNNING execution (status ABORTED, with the
//     error and cause given); its open tokens close. Stopping a finished
//     execution does not change its outcome. An unknown execution gives
//     ErrExecutionDoesNotExist, here and in DescribeExecution.
//   - DescribeExecution reads an execution, running or finished. What it
//     reports after a Send*/Stop call may lag: Step Functions is eventually
//     consistent, so callers that wait for a status poll.
//   - Errors wrap one of the sentinels below (errors.Is) and the driver's own
//     error; errors.As with *Error gives the AWS error code. Throttling is
//     retried inside the driver; an error that reaches the caller is final
//     for that call.
//   - All methods are safe for concurrent use.
package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Orchestrator runs state machines: what the conductor relies on of Step
// Functions. See the package comment for the contract.
type Orchestrator interface {
	// StartExecution starts an execution of the machine stateMachineArn,
	// named name, with input (JSON; empty means {}), and returns its ARN.
	// Idempotent by name for the same input.
	StartExecution(ctx context.Context, stateMachineArn, name string, input json.RawMessage) (string, error)
	// SendTaskSuccess closes the task token with output (JSON) as the
	// task's result.
	SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error
	// SendTaskFailure closes the task token with the error name and cause.
	SendTaskFailure(ctx context.Context, token, errorName, cause string) error
	// SendTaskHeartbeat restarts the HeartbeatSeconds timer of the task
	// waiting on token.
	SendTaskHeartbeat(ctx context.Context, token string) error
	// StopExecution aborts a running execution with the error and cause.
	StopExecution(ctx context.Context, executionArn, errorName, cause string) error
	// DescribeExecution returns an execution's status, input and outcome.
	DescribeExecution(ctx context.Context, executionArn string) (Execution, error)
}

// Status is an execution's status, as Step Functions spells it.
type Status string

// Execution statuses.
const (
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusTimedOut  Status = "TIMED_OUT"
	StatusAborted   Status = "ABORTED"
)

// Finished reports whether the status is final.
func (s Status) Finished() bool { return s != StatusRunning && s != "" }

// Execution is what DescribeExecution reports.
type Execution struct {
	ExecutionArn    string
	StateMachineArn string
	Name            string
	Status          Status
	// Input is the execution's input (compact JSON).
	Input json.RawMessage
	// Output is the execution's output, SUCCEEDED only.
	Output json.RawMessage
	// Error and Cause say why a FAILED, TIMED_OUT or ABORTED execution
	// ended.
	Error, Cause string
	StartDate    time.Time
	// StopDate is zero while the execution runs.
	StopDate time.Time
}

// Error is an error of the Step Functions API. Its Code is the exception
// name of the API reference (ErrorCode, like smithy's APIError).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrorCode returns the API exception name.
func (e *Error) ErrorCode() string { return e.Code }

// Sentinel errors, named after the Step Functions API exceptions. Drivers
// wrap them with their own error (see Wrap); test with errors.Is.
var (
	ErrExecutionAlreadyExists   = &Error{"ExecutionAlreadyExists", "execution already exists"}
	ErrExecutionDoesNotExist    = &Error{"ExecutionDoesNotExist", "execution does not exist"}
	ErrStateMachineDoesNotExist = &Error{"StateMachineDoesNotExist", "state machine does not exist"}
	ErrInvalidName              = &Error{"InvalidName", "invalid name"}
	ErrInvalidArn               = &Error{"InvalidArn", "invalid ARN"}
	ErrInvalidExecutionInput    = &Error{"InvalidExecutionInput", "invalid execution input"}
	ErrInvalidOutput            = &Error{"InvalidOutput", "invalid task output"}
	ErrInvalidToken             = &Error{"InvalidToken", "invalid task token"}
	ErrTaskDoesNotExist         = &Error{"TaskDoesNotExist", "task does not exist"}
	ErrTaskTimedOut             = &Error{"TaskTimedOut", "task timed out or already closed"}
	ErrExecutionLimitExceeded   = &Error{"ExecutionLimitExceeded", "execution limit exceeded"}
)

// Sentinels lists every sentinel, for drivers that map error codes.
var Sentinels = []*Error{
	ErrExecutionAlreadyExists, ErrExecutionDoesNotExist, ErrStateMachineDoesNotExist,
	ErrInvalidName, ErrInvalidArn, ErrInvalidExecutionInput, ErrInvalidOutput,
	ErrInvalidToken, ErrTaskDoesNotExist, ErrTaskTimedOut, ErrExecutionLimitExceeded,
}

// Wrap returns err matching sentinel as well (errors.Is and errors.As), with
// err's message. It is how drivers classify their own errors.
func Wrap(sentinel *Error, err error) error {
	if err == nil {
		return nil
	}
	return &classified{sentinel: sentinel, err: err}
}

type classified struct {
	sentinel *Error
	err      error
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.sentinel, c.err} }

// TaskGone reports whether err says a task token can no longer be answered
// (closed, timed out, unknown): retrying the answer cannot help.
func TaskGone(err error) bool {
	return errors.Is(err, ErrTaskTimedOut) || errors.Is(err, ErrTaskDoesNotExist) || errors.Is(err, ErrInvalidToken)
}
