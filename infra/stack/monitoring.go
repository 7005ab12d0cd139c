package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// Metric names the bridge reports (shared/metrics; no dimensions), as
// CircleCI Server's nomad-metrics container named them.
const (
	metricPollFailure = "circle.nomad.server_agent.poll_failure"
	metricJobsPending = "circle.nomad.server_agent.jobs.pending"
	metricJobsRunning = "circle.nomad.server_agent.jobs.running"
	// The VM pool's (nomadbridge/vmpool/ec2pool, gc.go).
	metricVMStaleFound = "circle.vm_service.gc.stale_found"
	metricVMVolumes    = "circle.vm_service.dlc.volumes"
	metricVMInUse      = "circle.vm_service.vms.in_use"
	metricVMWarm       = "circle.vm_service.vms.warm"
)

// Alarm thresholds.
const (
	// queueAgeSeconds: the seed promises "less than one second of
	// queuing"; SQS reports the oldest message's age in whole seconds each
	// minute, so an age above 1 s for three minutes running means tasks
	// wait for the bridge or for capacity.
	queueAgeSeconds = 1
	queueAgeMinutes = 3
	// pendingMinutes: Nomad jobs pending this long found no client (the
	// fleet is at its maximum or clients cannot start).
	pendingMinutes = 10
	// api5xxPer5Min and lambdaErrorsPer5Min tolerate a stray failure
	// (clients retry), not a pattern.
	api5xxPer5Min       = 5
	lambdaErrorsPer5Min = 5
	// staleVMsPer15Min: vm-gc stopping VMs now and then is its job (a
	// bridge restarted mid-release); several in a quarter hour mean leases
	// are lost (the bridge cannot release, or VMs outlive their jobs).
	staleVMsPer15Min = 3
	// dlcVolumes: the seed has no bound on DLC volumes and advises alerting
	// on their count; each costs its size in EBS every month.
	dlcVolumes = 100
)

func newMonitoring(st awscdk.Stack, s Settings, o *Stack, topic awssns.ITopic) {
	action := awscloudwatchactions.NewSnsAction(topic)
	alarm := func(id, desc string, m awscloudwatch.IMetric, threshold float64, periods int, missing awscloudwatch.TreatMissingData) awscloudwatch.Alarm {
		a := awscloudwatch.NewAlarm(st, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(s.Name + "-" + id),
			AlarmDescription:   jsii.String(desc),
			Metric:             m,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(float64(periods)),
			DatapointsToAlarm:  jsii.Number(float64(periods)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   missing,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
		return a
	}
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	five := awscdk.Duration_Minutes(jsii.Number(5))
	orbit := func(name, stat string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(s.MetricsNamespace), MetricName: jsii.String(name),
			Statistic: jsii.String(stat), Period: minute,
		})
	}
	notMissing := awscloudwatch.TreatMissingData_NOT_BREACHING

	d, f, m := o.data, o.functions, o.machines
	queueAge := d.runQueue.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: minute})
	alarm("RunQueueAge", "Tasks wait on the run queue more than a second (the seed: less than one second of queuing): is the active bridge running, are Nomad clients at their maximum?",
		queueAge, queueAgeSeconds+1, queueAgeMinutes, notMissing)
	alarm("NomadPollFailure", "The bridge could not poll Nomad ("+metricPollFailure+" is 1), or it reports nothing (missing data breaches: no bridge is active).",
		orbit(metricPollFailure, "Maximum"), 1, 3, awscloudwatch.TreatMissingData_BREACHING)
	alarm("NomadJobsPending", "Nomad jobs stayed pending: no client can place them (fleet at nomadClientMax, or clients unhealthy).",
		orbit(metricJobsPending, "Minimum"), 1, pendingMinutes, notMissing)
	alarm("DeadLetterQueue", "Run-queue messages were dead-lettered after repeated failed dispatches: inspect them in the DLQ.",
		d.deadLetter.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: minute}), 1, 1, notMissing)
	for _, sm := range []struct {
		id string
		m  interface {
			MetricFailed(*awscloudwatch.MetricOptions) awscloudwatch.Metric
			MetricTimedOut(*awscloudwatch.MetricOptions) awscloudwatch.Metric
		}
	}{{"Pipeline", m.pipeline}, {"Workflow", m.workflow}, {"Job", m.job}} {
		sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}
		alarm(sm.id+"ExecutionsFailed", "The "+sm.id+" state machine had failed executions: the conductor failed past its retries (see the execution's history).",
			sm.m.MetricFailed(sum), 1, 1, notMissing)
		alarm(sm.id+"ExecutionsTimedOut", "The "+sm.id+" state machine had executions time out.",
			sm.m.MetricTimedOut(sum), 1, 1, notMissing)
	}
	alarm("VmStaleFound", "vm-gc keeps finding VMs whose task ended or that ran too long: the bridge loses track of its leases (see the bridge's log for release errors).",
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(s.MetricsNamespace), MetricName: jsii.String(metricVMStaleFound),
			Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(15))}), staleVMsPer15Min, 1, notMissing)
	alarm("DlcVolumes", "Docker layer caching volumes pile up: lower ORBIT_DLC_RETENTION or ORBIT_DLC_MAX_PER_PROJECT, or check that vm-gc runs.",
		orbit(metricVMVolumes, "Maximum"), dlcVolumes, 5, notMissing)
	alarm("Api5xx", "The HTTP API answered 5xx (the api Lambda failed or timed out).",
		f.httpAPI.MetricServerError(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}), api5xxPer5Min, 1, notMissing)
	fns := []struct {
		id string
		fn interface {
			MetricErrors(*awscloudwatch.MetricOptions) awscloudwatch.Metric
			MetricThrottles(*awscloudwatch.MetricOptions) awscloudwatch.Metric
			MetricDuration(*awscloudwatch.MetricOptions) awscloudwatch.Metric
			MetricInvocations(*awscloudwatch.MetricOptions) awscloudwatch.Metric
		}
	}{{"Api", f.api}, {"Conductor", f.conductor}, {"Cron", f.cron}}
	for _, fn := range fns {
		sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}
		alarm(fn.id+"LambdaErrors", "The "+fn.id+" Lambda returned errors.", fn.fn.MetricErrors(sum), lambdaErrorsPer5Min, 1, notMissing)
		alarm(fn.id+"LambdaThrottles", "The "+fn.id+" Lambda was throttled: raise the account's concurrency limit.", fn.fn.MetricThrottles(sum), 1, 1, notMissing)
	}

	hosts := hostAlarms(s, o.fleet, alarm)

	dash := awscloudwatch.NewDashboard(st, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(s.Name),
	})
	graph := func(title string, ms ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &ms, Width: jsii.Number(8),
		})
	}
	var lambdaErrs, lambdaDur, lambdaInv []awscloudwatch.IMetric
	for _, fn := range fns {
		lambdaErrs = append(lambdaErrs, fn.fn.MetricErrors(nil), fn.fn.MetricThrottles(nil))
		lambdaDur = append(lambdaDur, fn.fn.MetricDuration(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99")}))
		lambdaInv = append(lambdaInv, fn.fn.MetricInvocations(nil))
	}
	dash.AddWidgets(
		graph("Run queue: oldest message (s)", queueAge),
		graph("Run queue: depth", d.runQueue.MetricApproximateNumberOfMessagesVisible(nil), d.deadLetter.MetricApproximateNumberOfMessagesVisible(nil)),
		graph("Nomad jobs", orbit(metricJobsPending, "Maximum"), orbit(metricJobsRunning, "Maximum"), orbit(metricPollFailure, "Maximum")),
	)
	dash.AddWidgets(
		graph("VMs", orbit(metricVMInUse, "Maximum"), orbit(metricVMWarm, "Maximum"), orbit(metricVMStaleFound, "Sum")),
		graph("DLC volumes", orbit(metricVMVolumes, "Maximum")),
		graph("Hosts (%): Nomad clients and VMs, CPU, memory, disk", hosts...),
	)
	containers, dockerCPU, dockerMem := dockerGraphs(s, o.fleet)
	dash.AddWidgets(
		graph("Docker: running containers", containers...),
		graph("Docker: containers' CPU (% of one CPU)", dockerCPU...),
		graph("Docker: containers' memory (bytes)", dockerMem...),
	)
	dash.AddWidgets(
		graph("Executions started", m.pipeline.MetricStarted(nil), m.workflow.MetricStarted(nil), m.job.MetricStarted(nil)),
		graph("Executions failed", m.pipeline.MetricFailed(nil), m.workflow.MetricFailed(nil), m.job.MetricFailed(nil)),
		graph("API: requests and 5xx", f.httpAPI.MetricCount(nil), f.httpAPI.MetricServerError(nil), f.httpAPI.MetricClientError(nil)),
	)
	dash.AddWidgets(
		graph("Lambda invocations", lambdaInv...),
		graph("Lambda p99 duration", lambdaDur...),
		graph("Lambda errors and throttles", lambdaErrs...),
	)
}
