package compose

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/orchestrator"
	"github.com/orbit-ci/orbit/shared/orchestrator/sfnorch"
)

// stepFunctions is the aws shape's orchestrator: the Step Functions driver
// of the orchestrator port (held to the same conformance suite as
// statemachines/local), on the machines the CDK app deployed.
func (a *Assembly) stepFunctions() (orchestrator.Orchestrator, conductor.Machines, error) {
	m := conductor.Machines{Pipeline: a.cfg.AWS.PipelineMachine, Workflow: a.cfg.AWS.WorkflowMachine, Job: a.cfg.AWS.JobMachine}
	if err := missing("the state machines", "ORBIT_PIPELINE_MACHINE", m.Pipeline, "ORBIT_WORKFLOW_MACHINE", m.Workflow, "ORBIT_JOB_MACHINE", m.Job); err != nil {
		return nil, m, err
	}
	// arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME
	parts := strings.Split(m.Pipeline, ":")
	if len(parts) != 7 || parts[2] != "states" || parts[5] != "stateMachine" {
		return nil, m, fmt.Errorf("ORBIT_PIPELINE_MACHINE=%q: want a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)", m.Pipeline)
	}
	client := sfn.NewFromConfig(*a.awsCfg, func(o *sfn.Options) {
		if e := a.cfg.AWS.StepFunctionsEndpoint; e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	o, err := sfnorch.New(sfnorch.Config{Partition: parts[1], Region: parts[3], Account: parts[4]}, client)
	if err != nil {
		return nil, m, fmt.Errorf("ORBIT_PIPELINE_MACHINE: %w", err)
	}
	return o, m, nil
}
