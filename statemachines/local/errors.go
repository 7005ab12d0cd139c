package local

import (
	"context"
	"errors"
	"fmt"
)

// Error names of the Amazon States Language, spelled as AWS spells them.
const (
	ErrorAll                             = "States.ALL"
	ErrorTimeout                         = "States.Timeout"
	ErrorHeartbeatTimeout                = "States.HeartbeatTimeout"
	ErrorTaskFailed                      = "States.TaskFailed"
	ErrorRuntime                         = "States.Runtime"
	ErrorNoChoiceMatched                 = "States.NoChoiceMatched"
	ErrorPermissions                     = "States.Permissions"
	ErrorResultPathMatchFailure          = "States.ResultPathMatchFailure"
	ErrorParameterPathFailure            = "States.ParameterPathFailure"
	ErrorIntrinsicFailure                = "States.IntrinsicFailure"
	ErrorItemReaderFailure               = "States.ItemReaderFailure"
	ErrorExceedToleratedFailureThreshold = "States.ExceedToleratedFailureThreshold"
	ErrorBranchFailed                    = "States.BranchFailed"
	ErrorDataLimitExceeded               = "States.DataLimitExceeded"
)

// Sentinel errors of the Engine's API, mirroring the Step Functions API's
// exceptions of the same names so that callers can treat both alike.
var (
	ErrInvalidDefinition        = errors.New("invalid state machine definition")
	ErrStateMachineDoesNotExist = errors.New("state machine does not exist")
	ErrExecutionDoesNotExist    = errors.New("execution does not exist")
	ErrExecutionAlreadyExists   = errors.New("execution already exists")
	ErrInvalidExecutionInput    = errors.New("invalid execution input")
	ErrInvalidName              = errors.New("invalid name")
	ErrTaskDoesNotExist         = errors.New("task does not exist")
	ErrTaskTimedOut             = errors.New("task timed out")
	ErrInvalidToken             = errors.New("invalid task token")
	ErrInvalidOutput            = errors.New("invalid task output")
	ErrClosed                   = errors.New("engine closed")
)

// NewError returns an error that fails a task with the given ASL error name
// and cause, for Handlers: NewError("InfrastructureFail", "node lost").
func NewError(name, cause string) error { return &statesError{name: name, cause: cause} }

// statesError is an ASL error (name + cause) raised inside an execution.
type statesError struct {
	name, cause string
}

func (e *statesError) Error() string {
	if e.cause == "" {
		return e.name
	}
	return e.name + ": " + e.cause
}

// ErrorName is the ASL error name, as Lambda's errorType.
func (e *statesError) ErrorName() string { return e.name }

// Cause is the ASL error cause.
func (e *statesError) Cause() string { return e.cause }

func failf(name, format string, args ...any) *statesError {
	return &statesError{name: name, cause: fmt.Sprintf(format, args...)}
}

// asStatesError turns a handler's error into an ASL error: a type with
// ErrorName() keeps its name, anything else is States.TaskFailed.
func asStatesError(err error) *statesError {
	var se *statesError
	if errors.As(err, &se) {
		return se
	}
	var named interface{ ErrorName() string }
	if errors.As(err, &named) {
		cause := err.Error()
		if c, ok := named.(interface{ Cause() string }); ok {
			cause = c.Cause()
		}
		return &statesError{name: named.ErrorName(), cause: cause}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &statesError{name: ErrorTimeout, cause: err.Error()}
	}
	return &statesError{name: ErrorTaskFailed, cause: err.Error()}
}

// errorMatches reports whether an ErrorEquals list matches name. States.ALL
// matches everything but States.Runtime and States.DataLimitExceeded (they are
// terminal); States.TaskFailed matches everything but States.Timeout and those.
func errorMatches(list []string, name string) bool {
	terminal := name == ErrorRuntime || name == ErrorDataLimitExceeded
	for _, e := range list {
		switch {
		case e == name && !terminal:
			return true
		case e == ErrorAll && !terminal:
			return true
		case e == ErrorTaskFailed && !terminal && name != ErrorTimeout:
			return true
		}
	}
	return false
}
