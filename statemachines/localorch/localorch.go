// Package localorch makes statemachines/local the embedded driver of the
// orchestrator port (shared/orchestrator).
//
// It is an adapter, not a second engine: *local.Engine already has the
// port's methods, but statemachines/local imports nothing of Orbit (DESIGN:
// it declares its own small types), so its DescribeExecution returns a
// local.Execution and its errors are local's sentinels. This package, which
// may import both, converts the one and classifies the other; it decides
// nothing. It lives beside local rather than in shared/orchestrator because
// nothing in shared/ may import statemachines/local.
package localorch

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/orbit-ci/orbit/shared/orchestrator"
	"github.com/orbit-ci/orbit/statemachines/local"
)

var _ orchestrator.Orchestrator = (*Orchestrator)(nil)

// Orchestrator is a local.Engine seen through the orchestrator port.
type Orchestrator struct {
	engine *local.Engine
}

// New returns the port over engine, which the caller defines machines in,
// registers handlers with and closes.
func New(engine *local.Engine) (*Orchestrator, error) {
	if engine == nil {
		return nil, errors.New("localorch: nil engine")
	}
	return &Orchestrator{engine: engine}, nil
}

// StartExecution implements orchestrator.Orchestrator.
func (o *Orchestrator) StartExecution(ctx context.Context, stateMachineArn, name string, input json.RawMessage) (string, error) {
	arn, err := o.engine.StartExecution(ctx, stateMachineArn, name, input)
	return arn, classify(err)
}

// SendTaskSuccess implements orchestrator.Orchestrator.
func (o *Orchestrator) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	return classify(o.engine.SendTaskSuccess(ctx, token, output))
}

// SendTaskFailure implements orchestrator.Orchestrator.
func (o *Orchestrator) SendTaskFailure(ctx context.Context, token, errorName, cause string) error {
	return classify(o.engine.SendTaskFailure(ctx, token, errorName, cause))
}

// SendTaskHeartbeat implements orchestrator.Orchestrator.
func (o *Orchestrator) SendTaskHeartbeat(ctx context.Context, token string) error {
	return classify(o.engine.SendTaskHeartbeat(ctx, token))
}

// StopExecution implements orchestrator.Orchestrator.
func (o *Orchestrator) StopExecution(ctx context.Context, executionArn, errorName, cause string) error {
	return classify(o.engine.StopExecution(ctx, executionArn, errorName, cause))
}

// DescribeExecution implements orchestrator.Orchestrator.
func (o *Orchestrator) DescribeExecution(ctx context.Context, executionArn string) (orchestrator.Execution, error) {
	x, err := o.engine.DescribeExecution(ctx, executionArn)
	if err != nil {
		return orchestrator.Execution{}, classify(err)
	}
	return orchestrator.Execution{
		ExecutionArn:    x.ExecutionArn,
		StateMachineArn: x.StateMachineArn,
		Name:            x.Name,
		Status:          orchestrator.Status(x.Status),
		Input:           x.Input,
		Output:          x.Output,
		Error:           x.Error,
		Cause:           x.Cause,
		StartDate:       x.StartDate,
		StopDate:        x.StopDate,
	}, nil
}

// sentinels pairs local's errors with the port's, which carry the same
// Step Functions names.
var sentinels = []struct {
	local error
	port  *orchestrator.Error
}{
	{local.ErrExecutionAlreadyExists, orchestrator.ErrExecutionAlreadyExists},
	{local.ErrExecutionDoesNotExist, orchestrator.ErrExecutionDoesNotExist},
	{local.ErrStateMachineDoesNotExist, orchestrator.ErrStateMachineDoesNotExist},
	{local.ErrInvalidName, orchestrator.ErrInvalidName},
	{local.ErrInvalidExecutionInput, orchestrator.ErrInvalidExecutionInput},
	{local.ErrInvalidOutput, orchestrator.ErrInvalidOutput},
	{local.ErrInvalidToken, orchestrator.ErrInvalidToken},
	{local.ErrTaskDoesNotExist, orchestrator.ErrTaskDoesNotExist},
	{local.ErrTaskTimedOut, orchestrator.ErrTaskTimedOut},
}

// classify makes err match the port's sentinel for local's.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if errors.Is(err, s.local) {
			return orchestrator.Wrap(s.port, err)
		}
	}
	return err
}
