package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// machineArns are the state machines' ARNs, formatted from their names:
// the definitions reference the conductor, so the conductor's environment
// and policy cannot reference the machines without a dependency cycle.
type machineArns struct {
	pipeline, workflow, job *string
	// executions of each, for Stop/DescribeExecution.
	executions []*string
}

func newMachineArns(st awscdk.Stack, s Settings) machineArns {
	arn := func(kind, name string) *string {
		return st.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("states"), Resource: jsii.String(kind),
			ResourceName: jsii.String(name), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		})
	}
	m := machineArns{
		pipeline: arn("stateMachine", s.Name+"-pipeline"),
		workflow: arn("stateMachine", s.Name+"-workflow"),
		job:      arn("stateMachine", s.Name+"-job"),
	}
	for _, n := range []string{"pipeline", "workflow", "job"} {
		m.executions = append(m.executions, arn("execution", s.Name+"-"+n+":*"))
	}
	return m
}

func (m machineArns) env(env map[string]*string) {
	env[EnvPipelineMachine], env[EnvWorkflowMachine], env[EnvJobMachine] = m.pipeline, m.workflow, m.job
}

// grantFunctions gives each Lambda what it does and nothing else:
//
//	api        store rw, blobs rw (presigns uploads/downloads), key (contexts),
//	           secrets (signing, GitHub, LDAP), start/stop/describe executions,
//	           task responses (the runner API completes job tokens), run queue send
//	conductor  store rw, blobs rw (config, test results), key, signing + GitHub
//	           secrets, start executions, task responses, run queue send
//	cron       store rw (schedules, pipeline numbers), start pipeline executions,
//	           signing + GitHub secrets (fetching config of scheduled pipelines),
//	           blobs rw under audit-logs/ only (the audit log's hourly files),
//	           ses:SendEmail (queued notification mail), key decrypt (outbound
//	           webhooks' signing secrets, opened to sign each delivery)
//
// auditPrefix is where shared/audit writes its files.
const auditPrefix = "audit-logs/"

func grantFunctions(st awscdk.Stack, f *functions, d *data, m machineArns) {
	for _, name := range Functions {
		role := f.roles[name]
		d.table.GrantReadWriteData(role)
		d.signing.GrantRead(role, nil)
		d.github.GrantRead(role, nil)
		switch name {
		case FunctionAPI, FunctionConductor:
			d.bucket.GrantReadWrite(role, nil)
			d.key.GrantEncryptDecrypt(role)
			d.runQueue.GrantSendMessages(role)
			role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("states:StartExecution"),
				Resources: &[]*string{m.pipeline, m.workflow, m.job},
			}))
			role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("states:StopExecution", "states:DescribeExecution"),
				Resources: &m.executions,
			}))
			role.AddToPolicy(taskResponses())
			if name == FunctionAPI && d.ldap != nil {
				d.ldap.GrantRead(role, nil)
			}
		case FunctionCron:
			role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("states:StartExecution"),
				Resources: &[]*string{m.pipeline},
			}))
			// Once a minute cron flushes the audit outbox into the hourly
			// files and sends queued mail: the audit prefix only, and SES.
			d.bucket.GrantReadWrite(role, jsii.String(auditPrefix+"*"))
			role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("ses:SendEmail"),
				Resources: jsii.Strings("*"),
			}))
			// ...and delivers the outbound webhooks, signed with secrets it
			// only opens.
			d.key.GrantDecrypt(role)
		}
	}
}

// taskResponses are the task-token calls. The Service Authorization
// Reference lists no resource type for them (a token names its execution),
// so "*" is the only resource they take.
func taskResponses() awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"),
		Resources: jsii.Strings("*"),
	})
}
