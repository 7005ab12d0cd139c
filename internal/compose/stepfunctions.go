package compose

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/orbit-ci/orbit/shared/conductor"
)

// stepFunctions is the aws shape's orchestrator slot: the conductor's
// Orchestrator on the Step Functions API. It is the minimal adapter until
// the Step Functions driver of shared/orchestrator (held to the
// orchestrator conformance suite) replaces it here, and only here.
func (a *Assembly) stepFunctions() (conductor.Orchestrator, conductor.Machines, error) {
	m := conductor.Machines{Pipeline: a.cfg.AWS.PipelineMachine, Workflow: a.cfg.AWS.WorkflowMachine, Job: a.cfg.AWS.JobMachine}
	if err := missing("the state machines", "ORBIT_PIPELINE_MACHINE", m.Pipeline, "ORBIT_WORKFLOW_MACHINE", m.Workflow, "ORBIT_JOB_MACHINE", m.Job); err != nil {
		return nil, m, err
	}
	client := sfn.NewFromConfig(*a.awsCfg, func(o *sfn.Options) {
		if e := a.cfg.AWS.StepFunctionsEndpoint; e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	return sfnOrchestrator{client}, m, nil
}

// sfnOrchestrator adapts *sfn.Client to conductor.Orchestrator.
type sfnOrchestrator struct{ c *sfn.Client }

var _ conductor.Orchestrator = sfnOrchestrator{}

func (o sfnOrchestrator) StartExecution(ctx context.Context, machine, name string, input json.RawMessage) (string, error) {
	out, err := o.c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &machine, Name: &name, Input: aws.String(string(input))})
	if err != nil {
		return "", fmt.Errorf("start execution %s of %s: %w", name, machine, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

func (o sfnOrchestrator) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	_, err := o.c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: aws.String(string(output))})
	return err
}

func (o sfnOrchestrator) SendTaskFailure(ctx context.Context, token, errorName, cause string) error {
	_, err := o.c.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: &token, Error: &errorName, Cause: &cause})
	return err
}

func (o sfnOrchestrator) SendTaskHeartbeat(ctx context.Context, token string) error {
	_, err := o.c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: &token})
	return err
}
