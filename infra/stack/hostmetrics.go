package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/orbit-ci/orbit/shared/hostmetrics"
	"github.com/orbit-ci/orbit/shared/hostmetrics/dockermetrics"
)

// Host metrics, the seed's fleet monitoring: every Nomad server, client
// and bridge runs the CloudWatch agent (common.sh) with CPU, memory,
// disk, disk I/O and network metrics in <metricsNamespace>/hosts, per
// instance and per Auto Scaling group; the VM service's VMs do the same
// in <metricsNamespace>/vms (ec2pool's user data), aggregated over all
// VMs. The configuration is shared/hostmetrics', so the names below are
// what the agents send. The agent has no Docker input on plain EC2, so the
// clients (client.sh's orbit-docker-metrics.service) and the VMs run
// `orbit docker-metrics` (shared/hostmetrics/dockermetrics) in the same
// namespaces: per instance, and per client group or over all VMs.

// Alarm thresholds on host metrics (percent), each held for three
// five-minute periods.
const (
	clientDiskPercent   = 85 // images and workspaces fill a client's disk
	clientMemoryPercent = 95
	clientCPUPercent    = 90 // the fleet is saturated: scaling lags or is at its maximum
	vmDiskPercent       = 90 // a VM's root or DLC volume is full
)

func hostNamespace(s Settings) string { return s.MetricsNamespace + "/hosts" }
func vmNamespace(s Settings) string   { return s.MetricsNamespace + "/vms" }

// hostAgentConfig is the agent configuration of the fleet's instances.
func hostAgentConfig(s Settings) (string, error) {
	return hostmetrics.AgentConfig(hostmetrics.Options{Namespace: hostNamespace(s), AutoScaling: true,
		AggregateBy: [][]string{{hostmetrics.ASGDimension}}})
}

// grantHostMetrics lets a role's agent publish in namespace (and read the
// instance's Auto Scaling group from its tags).
func grantHostMetrics(role awsiam.IRole, namespace string, asg bool) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("cloudwatch:PutMetricData"),
		Resources:  jsii.Strings("*"), // PutMetricData takes no resource; the namespace is the condition
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": namespace}},
	}))
	if asg {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("ec2:DescribeTags"), Resources: jsii.Strings("*"),
		}))
	}
}

// hostAlarms are the alarms on the hosts' metrics; alarm makes one, as
// newMonitoring's does.
func hostAlarms(s Settings, fl *fleet, alarm func(id, desc string, m awscloudwatch.IMetric, threshold float64, periods int,
	missing awscloudwatch.TreatMissingData) awscloudwatch.Alarm) []awscloudwatch.IMetric {
	five := awscdk.Duration_Minutes(jsii.Number(5))
	client := func(name, stat string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(hostNamespace(s)), MetricName: jsii.String(name), Statistic: jsii.String(stat), Period: five,
			DimensionsMap: &map[string]*string{hostmetrics.ASGDimension: jsii.String(fl.clientGroupName)},
		})
	}
	vm := func(name string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(vmNamespace(s)), MetricName: jsii.String(name), Statistic: jsii.String("Maximum"), Period: five,
		})
	}
	notMissing := awscloudwatch.TreatMissingData_NOT_BREACHING
	disk, mem, cpu := client(hostmetrics.DiskUsed, "Maximum"), client(hostmetrics.MemUsed, "Maximum"), client(hostmetrics.CPUActive, "Average")
	alarm("NomadClientDisk", "A Nomad client's disk is nearly full (images, workspaces): builds will fail to pull or write; prune images or raise the clients' volume size.",
		disk, clientDiskPercent, 3, notMissing)
	alarm("NomadClientMemory", "A Nomad client's memory is nearly exhausted: builds risk the OOM killer; check resource classes against the instance type.",
		mem, clientMemoryPercent, 3, notMissing)
	alarm("NomadClientCpu", "The Nomad clients' CPU is saturated on average: scaling lags the demand or the group is at nomadClientMax.",
		cpu, clientCPUPercent, 3, notMissing)
	vmDisk := vm(hostmetrics.DiskUsed)
	alarm("VmDisk", "A machine or remote Docker VM's disk (root or DLC volume) is nearly full: jobs on it fail to write; raise the VM or DLC volume size.",
		vmDisk, vmDiskPercent, 3, notMissing)
	return []awscloudwatch.IMetric{cpu, mem, disk, vm(hostmetrics.CPUActive), vm(hostmetrics.MemUsed), vmDisk}
}

// dockerGraphs are the dashboard's Docker row: running containers, their
// CPU and their memory, per client (average over the group, and the
// busiest) and per VM (average over all VMs), as dockermetrics records them.
func dockerGraphs(s Settings, fl *fleet) (containers, cpu, mem []awscloudwatch.IMetric) {
	five := awscdk.Duration_Minutes(jsii.Number(5))
	client := func(name, stat, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(hostNamespace(s)), MetricName: jsii.String(name), Statistic: jsii.String(stat), Period: five,
			DimensionsMap: &map[string]*string{hostmetrics.ASGDimension: jsii.String(fl.clientGroupName)}, Label: jsii.String(label),
		})
	}
	vm := func(name, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(vmNamespace(s)), MetricName: jsii.String(name), Statistic: jsii.String("Average"), Period: five,
			Label: jsii.String(label),
		})
	}
	containers = []awscloudwatch.IMetric{
		client(dockermetrics.ContainersRunning, "Average", "per client"), client(dockermetrics.ContainersRunning, "Maximum", "busiest client"),
		vm(dockermetrics.ContainersRunning, "per VM"),
	}
	cpu = []awscloudwatch.IMetric{
		client(dockermetrics.CPUUsage, "Average", "per client"), client(dockermetrics.CPUUsage, "Maximum", "busiest client"),
		vm(dockermetrics.CPUUsage, "per VM"),
	}
	mem = []awscloudwatch.IMetric{
		client(dockermetrics.MemUsage, "Average", "used per client"), client(dockermetrics.MemLimit, "Average", "limit per client"),
		vm(dockermetrics.MemUsage, "used per VM"),
	}
	return containers, cpu, mem
}
