package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppress records, with its reason, each cdk-nag AwsSolutions finding the
// stack keeps on purpose. Wildcards are suppressed by pattern (appliesTo),
// so a new wildcard that matches none of them still fails TestNagClean.
// arnRegionAccount matches the region and account fields of an ARN as
// cdk-nag prints them: literal, or the pseudo parameters of an
// environment-agnostic stack.
const arnRegionAccount = `([a-z0-9-]+|<AWS::Region>):(\d{12}|<AWS::AccountId>|):`

func suppress(st awscdk.Stack, s Settings, o *Stack) {
	rule := func(id, reason string, appliesTo ...string) *cdknag.NagPackSuppression {
		sup := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
		if len(appliesTo) > 0 {
			list := make([]any, len(appliesTo))
			for i, a := range appliesTo {
				list[i] = &cdknag.RegexAppliesTo{Regex: jsii.String(a)}
			}
			sup.AppliesTo = &list
		}
		return sup
	}
	all := []*cdknag.NagPackSuppression{
		rule("AwsSolutions-SMG4",
			"The GitHub OAuth client secret and webhook secret, and the LDAP search password, are issued by GitHub and the directory: they are rotated there, then stored here; Orbit's signing root key is rotated by an operator (rotating it logs everyone out and voids runner tokens of running builds, which no schedule should do unannounced)."),
		rule("AwsSolutions-APIG4",
			"The HTTP API fronts one handler that authenticates every route itself, as CircleCI's API does: Circle-Token personal tokens, signed session cookies, per-task runner tokens and GitHub webhook signatures (X-Hub-Signature-256). The UI's sign-in page and /health-check must be reachable unauthenticated."),
		rule("AwsSolutions-IAM4",
			"AmazonSSMManagedInstanceCore lets operators reach instances through Session Manager (audited, no SSH keys, no port 22); it is the AWS-maintained minimum for the SSM agent.",
			`/^Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore$/g`),
		rule("AwsSolutions-IAM5",
			"CDK grant helpers on Orbit's own table, bucket and key: object keys (projects/<slug>/…, and for cron the audit log's hourly files under audit-logs/), index names and KMS data-key variants are not known in advance, and the actions are scoped to these resources only.",
			`/^Resource::<Table[0-9A-F]+\.Arn>\/index\/\*$/g`,
			`/^Resource::<Bucket[0-9A-F]+\.Arn>\/\*$/g`,
			`/^Resource::<Bucket[0-9A-F]+\.Arn>\/audit-logs\/\*$/g`,
			`/^Action::s3:(Abort|DeleteObject|GetBucket|GetObject|List)\*$/g`,
			`/^Action::kms:(GenerateDataKey|ReEncrypt)\*$/g`),
		rule("AwsSolutions-IAM5",
			"A Lambda writes to the log streams of its own log group, whose stream names Lambda chooses.",
			`/^Resource::<[A-Za-z]+FunctionLogs[0-9A-F]+\.Arn>:\*$/g`),
		rule("AwsSolutions-IAM5",
			"Invoking the conductor by any version or alias (the state machines' and the scheduler's grants, made by CDK).",
			`/^Resource::<(Conductor|Cron)Function[0-9A-F]+\.Arn>:\*$/g`),
		rule("AwsSolutions-IAM5",
			"Stop and describe executions of Orbit's three machines only; execution names are pipeline, workflow and job ids.",
			`/^Resource::arn:<AWS::Partition>:states:`+arnRegionAccount+`execution:`+s.Name+`-(pipeline|workflow|job):\*$/g`),
		rule("AwsSolutions-IAM5",
			"Instances read the Nomad and orbit binaries from the CDK asset bucket, whose object names are content hashes.",
			`/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-.*\/\*$/g`),
		rule("AwsSolutions-IAM5",
			"The bridge completes and heartbeats the lifecycle actions of the Nomad client Auto Scaling group, named "+s.Name+"-nomad-clients (scale-in drains); the group's ARN carries a generated id.",
			`/^Resource::arn:<AWS::Partition>:autoscaling:`+arnRegionAccount+`autoScalingGroup:\*:autoScalingGroupName\/`+s.Name+`-nomad-clients$/g`),
		rule("AwsSolutions-IAM5",
			"The VM pool launches machine-executor VMs from any AMI (the vmAmi setting or the region's default), into any of the VPC's subnets, with new network interfaces; the instances and volumes it creates must carry this installation's tag (a separate statement).",
			`/^Resource::arn:<AWS::Partition>:ec2:`+arnRegionAccount+`(image|subnet|network-interface)\/\*$/g`),
		rule("AwsSolutions-IAM5",
			"Actions without resource-level permissions (Service Authorization Reference): ec2:Describe* (Nomad's cloud auto-join and the VM pool), states:SendTask* (a task token names its execution), cloudwatch:PutMetricData (limited by a cloudwatch:namespace condition), ses:SendEmail for cron's notification mail (the sender identity is a setting, verified by the operator in SES); and EC2 create/terminate calls limited by tag conditions on this installation.",
			`/^Resource::\*$/g`),
	}
	cdknag.NagSuppressions_AddStackSuppressions(st, &all, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(o.fleet.lifecycleQueue, &[]*cdknag.NagPackSuppression{
		rule("AwsSolutions-SQS3", "Lifecycle notifications are retried by redelivery until the bridge completes their action; once the hook's timeout passes, Auto Scaling applies the default result and the token is void, so a dead-letter queue would only collect expired tokens."),
	}, jsii.Bool(true))
	if s.VM.PublicAccess {
		cdknag.NagSuppressions_AddResourceSuppressions(o.fleet.vmSG, &[]*cdknag.NagPackSuppression{
			rule("AwsSolutions-EC23", "vmPublicAccess=true: the operator chose SSH to machine-executor VMs from anywhere (the seed's \"Allowing Access to VM Service Instances\"); VMs live one job each."),
		}, jsii.Bool(true))
	}
}
