// Package stack is Orbit's AWS installation as one CDK stack:
//
//	HTTP API ──▶ Lambda api ──┐            EventBridge Scheduler (1/min) ──▶ Lambda cron
//	                          ├──▶ DynamoDB table (PK/SK, GSI1, GSI2, TTL, PITR)
//	Step Functions            │    S3 bucket (versioned, SSE-KMS, lifecycle)
//	pipeline/workflow/job ──▶ Lambda conductor ──▶ SQS run queue (+ DLQ)
//	                                                   │
//	VPC, private subnets:                              ▼
//	  Nomad servers (3) ◀── bridge instances (2, one active by lease: orbit bridge)
//	  Nomad clients (ASG: working-hours floor, drain on scale-in) ── builds
//	  machine / remote Docker VMs (launched by the bridge's VM pool)
//	KMS key (contexts, bucket, queues, secrets) · Secrets Manager (GitHub, LDAP,
//	signing) · CloudWatch dashboard and alarms ──▶ SNS topic
//
// Settings come from the CDK context (SettingsFromContext); the deployable
// files (Lambda zips, the orbit and Nomad binaries) from Artifacts, which
// fail the synth with the make target to run when one is missing.
// cdk-nag's AwsSolutions checks run on the stack; every suppression says why.
package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Artifacts are the files a deploy uploads.
type Artifacts struct {
	// LambdaDir holds <function>.zip for each of Functions (`make lambdas`).
	LambdaDir string
	// OrbitBinary is orbit for linux/amd64, run by the bridge (`make dist`).
	OrbitBinary string
	// AgentBinary is orbit-agent for linux/amd64, the build agent Nomad
	// starts on the clients for every task (`make dist`).
	AgentBinary string
	// NomadBinary is Nomad 1.6.0 for linux/amd64 (`make tools`).
	NomadBinary string
}

// DefaultArtifacts are where the Makefile puts them, relative to root (the
// repository).
func DefaultArtifacts(root string) Artifacts {
	return Artifacts{
		LambdaDir:   filepath.Join(root, "bin", "lambdas"),
		OrbitBinary: filepath.Join(root, "bin", "dist", "orbit-linux-amd64"),
		AgentBinary: filepath.Join(root, "bin", "dist", "orbit-agent-linux-amd64"),
		NomadBinary: filepath.Join(root, "bin", "nomad"),
	}
}

// Check says which artifacts are missing and how to build them.
func (a Artifacts) Check() error {
	var errs []error
	missing := func(path, target string) {
		if st, err := os.Stat(path); err != nil || st.IsDir() || st.Size() == 0 {
			errs = append(errs, fmt.Errorf("%s is missing: run `make %s` first (or `make deploy`, which builds everything)", path, target))
		}
	}
	for _, name := range Functions {
		missing(filepath.Join(a.LambdaDir, name+".zip"), "lambdas")
	}
	missing(a.OrbitBinary, "dist")
	missing(a.AgentBinary, "dist")
	missing(a.NomadBinary, "tools")
	return errors.Join(errs...)
}

// Stack is the synthesized installation with the constructs tests and
// operators look for.
type Stack struct {
	awscdk.Stack
	data      *data
	functions *functions
	machines  *machines
	fleet     *fleet
}

// New builds the stack. It fails, naming what to do, when an artifact is
// missing; settings must come from SettingsFromContext.
func New(scope constructs.Construct, id string, s Settings, a Artifacts) (*Stack, error) {
	if err := a.Check(); err != nil {
		return nil, fmt.Errorf("orbit infra: deployable files:\n%w", err)
	}
	var env *awscdk.Environment
	if s.Region != "" {
		env = &awscdk.Environment{Region: jsii.String(s.Region)}
		if s.Account != "" {
			env.Account = jsii.String(s.Account)
		}
	}
	st := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		Env:         env,
		Description: jsii.String("Orbit CI (" + s.Name + "): control plane on Lambda/Step Functions/DynamoDB/SQS/S3, builds on Nomad"),
		Tags:        &map[string]*string{"orbit:installation": jsii.String(s.Name)},
	})
	out := &Stack{Stack: st}
	out.data = newData(st, s)
	alarmTopic := awssns.NewTopic(st, jsii.String("AlarmTopic"), &awssns.TopicProps{
		TopicName:   jsii.String(s.Name + "-alarms"),
		DisplayName: jsii.String("Orbit " + s.Name + " alarms"),
		EnforceSSL:  jsii.Bool(true),
		MasterKey:   out.data.key,
	})
	if s.AlarmEmail != "" {
		alarmTopic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(s.AlarmEmail), nil))
	}
	// CloudWatch alarms and Auto Scaling notifications publish to the
	// encrypted topic.
	for _, svc := range []string{"cloudwatch.amazonaws.com", "autoscaling.amazonaws.com"} {
		out.data.key.GrantEncryptDecrypt(awsiam.NewServicePrincipal(jsii.String(svc), nil))
	}

	arns := newMachineArns(st, s)
	out.functions = newFunctions(st, s, a, out.data, arns)
	grantFunctions(st, out.functions, out.data, arns)
	out.machines = newMachines(st, s, out.data, out.functions.conductor)
	fl, err := newFleet(st, s, a, out.data, out.functions, arns, alarmTopic)
	if err != nil {
		return nil, err
	}
	out.fleet = fl
	newMonitoring(st, s, out, alarmTopic)

	for k, v := range map[string]*string{
		"ApiUrl": out.functions.url, "TableName": out.data.table.TableName(), "BucketName": out.data.bucket.BucketName(),
		"RunQueueUrl": out.data.runQueue.QueueUrl(), "GitHubSecretArn": out.data.github.SecretArn(),
		"PipelineMachineArn": out.machines.pipeline.StateMachineArn(),
	} {
		awscdk.NewCfnOutput(st, jsii.String(k), &awscdk.CfnOutputProps{Value: v})
	}
	awscdk.Aspects_Of(st).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	suppress(st, s, out)
	return out, nil
}

// App builds the CDK app main runs: settings from the context, artifacts
// from root. Errors name the setting or the make target.
func App(app awscdk.App, root string) error {
	s, err := SettingsFromContext(func(key string) (any, bool) {
		v := app.Node().TryGetContext(jsii.String(key))
		return v, v != nil
	}, os.Getenv)
	if err != nil {
		return err
	}
	_, err = New(app, stackID(s), s, DefaultArtifacts(root))
	return err
}

// stackID is the CloudFormation stack's name: "Orbit" for the default
// installation, "Orbit-<name>" for another.
func stackID(s Settings) string {
	if s.Name == "orbit" {
		return "Orbit"
	}
	return "Orbit-" + strings.ToLower(s.Name)
}
