// Package statemachines holds Orbit's three Step Functions definitions, the
// same bytes for AWS (the CDK app substitutes ${ConductorFunction} with the
// conductor Lambda's ARN) and for the embedded shape (statemachines/local runs
// them with a Go handler registered under that name).
//
//	pipeline: FetchConfig ─▶ Compile ─▶ CreateWorkflows ─▶ Done
//	              └──────────┴─ config errors: pipeline "errored" ─▶ Done
//	workflow: Start ─▶ WaitForCompletion (token on the workflow) ─▶ Finalize
//	job:      Dispatch (token on the job; Retry InfrastructureFail ×2;
//	          TimeoutSecondsPath = job timeout; no HeartbeatSeconds, so a
//	          task queued while Nomad is down waits) ─▶ Finish
//	          (a cancel completes the token with {"status":"canceled"};
//	          States.Timeout and an exhausted retry are caught into Finish)
//
// Every task calls the conductor with {"action": …, ids…}; the state passed
// between states is only ids, everything else lives in the store.
package statemachines

import _ "embed"

// Definitions, as Amazon States Language JSON.
var (
	//go:embed pipeline.asl.json
	Pipeline []byte
	//go:embed workflow.asl.json
	Workflow []byte
	//go:embed job.asl.json
	Job []byte
)

// ConductorFunction is the substitution key for the conductor's function
// name or ARN in the definitions.
const ConductorFunction = "ConductorFunction"

// Names of the machines, as deployed.
const (
	PipelineMachine = "orbit-pipeline"
	WorkflowMachine = "orbit-workflow"
	JobMachine      = "orbit-job"
)

// All maps machine names to definitions.
func All() map[string][]byte {
	return map[string][]byte{PipelineMachine: Pipeline, WorkflowMachine: Workflow, JobMachine: Job}
}
