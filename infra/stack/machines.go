package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/orbit-ci/orbit/statemachines"
)

// machines are the three Step Functions state machines, from the very
// definitions statemachines/local runs in the embedded shape.
type machines struct {
	pipeline, workflow, job awsstepfunctions.StateMachine
}

// all lists them in a fixed order.
func (m *machines) all() []awsstepfunctions.StateMachine {
	return []awsstepfunctions.StateMachine{m.pipeline, m.workflow, m.job}
}

// Substitutions returns the DefinitionSubstitutions of every definition:
// each ${key} in statemachines/*.asl.json and the value CDK puts there.
// Every placeholder a definition holds must have a value (the tests check
// both ways).
func Substitutions(conductorArn *string) map[string]*string {
	return map[string]*string{statemachines.ConductorFunction: conductorArn}
}

func newMachines(st awscdk.Stack, s Settings, d *data, conductor awslambda.IFunction) *machines {
	m := &machines{}
	make := func(id, suffix string, def []byte) awsstepfunctions.StateMachine {
		logs := awslogs.NewLogGroup(st, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
			// The /aws/vendedlogs/ prefix keeps Step Functions' log
			// delivery under the resource policy size limit.
			LogGroupName:  jsii.String(fmt.Sprintf("/aws/vendedlogs/states/%s-%s", s.Name, suffix)),
			Retention:     logRetention(s.RetentionDays),
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		sm := awsstepfunctions.NewStateMachine(st, jsii.String(id), &awsstepfunctions.StateMachineProps{
			StateMachineName:        jsii.String(s.Name + "-" + suffix),
			StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
			DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(string(def))),
			DefinitionSubstitutions: ptrMap(Substitutions(conductor.FunctionArn())),
			TracingEnabled:          jsii.Bool(true),
			Logs: &awsstepfunctions.LogOptions{
				Destination: logs,
				Level:       awsstepfunctions.LogLevel_ALL,
				// The state between states is ids only (statemachines'
				// package comment), never secrets or output.
				IncludeExecutionData: jsii.Bool(true),
			},
		})
		conductor.GrantInvoke(sm)
		return sm
	}
	m.pipeline = make("PipelineMachine", "pipeline", statemachines.Pipeline)
	m.workflow = make("WorkflowMachine", "workflow", statemachines.Workflow)
	m.job = make("JobMachine", "job", statemachines.Job)
	return m
}

func ptrMap(m map[string]*string) *map[string]*string { return &m }
