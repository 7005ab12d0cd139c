package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscalinghooktargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// Scale-in without killing builds, and scaling the client group:
//
//	scale-in (schedule, demand, operator) ──▶ lifecycle hook "drain"
//	     (Terminating:Wait, HeartbeatTimeout 10 min, default CONTINUE)
//	     ──▶ SQS lifecycle queue ──▶ the active bridge (nomadbridge/scalein):
//	         drain the node, heartbeat, CompleteLifecycleAction once no build runs
//	working hours ──▶ scheduled actions raise the floor to WorkingMin and drop it
//	demand (optional) ──▶ step scaling on run-queue depth + Nomad jobs pending,
//	     never below the group's floor (MinCapacity, or WorkingMin by day)

// lifecycleQueueVisibility is the lifecycle queue's default visibility;
// the bridge sets its own per receive and extends it with each heartbeat.
const lifecycleQueueVisibility = 600 // seconds

// newScaleIn adds the drain hook to the client group, with its queue.
func newScaleIn(st awscdk.Stack, s Settings, d *data, fl *fleet) {
	fl.lifecycleQueue = awssqs.NewQueue(st, jsii.String("LifecycleQueue"), &awssqs.QueueProps{
		QueueName:         jsii.String(s.Name + "-lifecycle"),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(lifecycleQueueVisibility)),
		// A notification outlives its action by at most the hook's global
		// timeout (100 × 10 min); after that Auto Scaling has moved on.
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(1)),
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: d.key,
		DataKeyReuse:        awscdk.Duration_Hours(jsii.Number(1)),
		EnforceSSL:          jsii.Bool(true),
	})
	fl.clients.AddLifecycleHook(jsii.String("DrainHook"), &awsautoscaling.BasicLifecycleHookProps{
		LifecycleHookName:   jsii.String(fl.hookName),
		LifecycleTransition: awsautoscaling.LifecycleTransition_INSTANCE_TERMINATING,
		DefaultResult:       awsautoscaling.DefaultResult_CONTINUE,
		HeartbeatTimeout:    awscdk.Duration_Minutes(jsii.Number(hookHeartbeat)),
		NotificationTarget:  awsautoscalinghooktargets.NewQueueHook(fl.lifecycleQueue),
	})
}

// grantScaleIn lets the bridge consume the lifecycle queue and complete
// the client group's actions.
func grantScaleIn(st awscdk.Stack, fl *fleet) {
	role := fl.bridges.Role()
	fl.lifecycleQueue.GrantConsumeMessages(role)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"),
		Resources: jsii.Strings(*st.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("autoscaling"), Resource: jsii.String("autoScalingGroup"),
			ResourceName: jsii.String("*:autoScalingGroupName/" + fl.clientGroupName),
			ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
		})),
	}))
}

// scaleClients adds the working-hours schedule and, when enabled, demand
// scaling to the client group.
func scaleClients(st awscdk.Stack, s Settings, d *data, fl *fleet) {
	c := s.NomadClients
	if c.WorkingMin > c.Min {
		// Working hours: raise the floor in the morning, drop it at night
		// (the drain hook lets running builds finish).
		fl.clients.ScaleOnSchedule(jsii.String("WorkingHoursStart"), &awsautoscaling.BasicScheduledActionProps{
			Schedule:    awsautoscaling.Schedule_Expression(jsii.String(c.WorkingHoursStart)),
			MinCapacity: jsii.Number(float64(c.WorkingMin)),
			TimeZone:    jsii.String(c.TimeZone),
		})
		fl.clients.ScaleOnSchedule(jsii.String("WorkingHoursEnd"), &awsautoscaling.BasicScheduledActionProps{
			Schedule:    awsautoscaling.Schedule_Expression(jsii.String(c.WorkingHoursEnd)),
			MinCapacity: jsii.Number(float64(c.Min)),
			TimeZone:    jsii.String(c.TimeZone),
		})
	}
	if !c.DemandScaling {
		return
	}
	// Work waiting for a client: tasks not yet handed to Nomad plus Nomad
	// jobs no client could place (the bridge's pending gauge).
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	backlog := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Label:      jsii.String("Tasks waiting for a Nomad client"),
		Expression: jsii.String("FILL(queued, 0) + FILL(pending, 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"queued": d.runQueue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: minute}),
			"pending": awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(s.MetricsNamespace),
				MetricName: jsii.String(metricJobsPending), Statistic: jsii.String("Maximum"), Period: minute}),
		},
		Period: minute,
	})
	per := float64(c.TasksPerClient)
	// Out: one client per TasksPerClient tasks waiting, after two minutes.
	fl.clients.ScaleOnMetric(jsii.String("DemandScaleOut"), &awsautoscaling.BasicStepScalingPolicyProps{
		Metric: backlog,
		ScalingSteps: &[]*awsautoscaling.ScalingInterval{
			{Upper: jsii.Number(1), Change: jsii.Number(0)},
			{Lower: jsii.Number(1), Upper: jsii.Number(2 * per), Change: jsii.Number(1)},
			{Lower: jsii.Number(2 * per), Upper: jsii.Number(4 * per), Change: jsii.Number(2)},
			{Lower: jsii.Number(4 * per), Change: jsii.Number(4)},
		},
		AdjustmentType:          awsautoscaling.AdjustmentType_CHANGE_IN_CAPACITY,
		EvaluationPeriods:       jsii.Number(2),
		EstimatedInstanceWarmup: awscdk.Duration_Minutes(jsii.Number(5)),
	})
	// In: one client at a time once nothing waited for ScaleInMinutes (the
	// alarm stays in alarm, so one more leaves each time the policy runs
	// again); the drain hook lets its builds finish, and the floor stays.
	fl.clients.ScaleOnMetric(jsii.String("DemandScaleIn"), &awsautoscaling.BasicStepScalingPolicyProps{
		Metric: backlog,
		ScalingSteps: &[]*awsautoscaling.ScalingInterval{
			{Upper: jsii.Number(0.5), Change: jsii.Number(-1)},
			{Lower: jsii.Number(0.5), Change: jsii.Number(0)},
		},
		AdjustmentType:    awsautoscaling.AdjustmentType_CHANGE_IN_CAPACITY,
		EvaluationPeriods: jsii.Number(float64(c.ScaleInMinutes)),
	})
}
