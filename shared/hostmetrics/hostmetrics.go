// Package hostmetrics writes the CloudWatch agent's configuration for
// Orbit's hosts, the seed's fleet monitoring (host metrics of the Nomad
// clients and of the VM service's VMs, as its telegraf shipped them): CPU,
// memory, disk, disk I/O and network, every minute, in one namespace per
// kind of host. The CDK app's user data (Nomad servers, clients, bridges)
// and ec2pool's VM user data both install the agent with this file, so the
// metric names the CDK app's alarms read are the ones the hosts send.
//
// Metric names (the agent's): cpu_usage_active, cpu_usage_iowait,
// mem_used_percent, disk_used_percent, diskio_io_time, net_bytes_sent,
// net_bytes_recv; each with the host's InstanceId (and
// AutoScalingGroupName), and aggregated as Options.AggregateBy says.
//
// Docker: the agent has no Docker input on plain EC2, so the Docker host
// metrics (docker.*) come from Orbit's own collector, dockermetrics, which
// reads dockerd with dockerstats; `orbit docker-metrics` runs it in the
// same namespaces.
package hostmetrics

import (
	"encoding/json"
	"errors"
	"slices"
)

// Metric names the alarms use.
const (
	CPUActive    = "cpu_usage_active"
	MemUsed      = "mem_used_percent"
	DiskUsed     = "disk_used_percent"
	ASGDimension = "AutoScalingGroupName"
)

// ConfigPath is where the user data writes the configuration.
const ConfigPath = "/opt/aws/amazon-cloudwatch-agent/etc/orbit.json"

// Options configures the agent of one kind of host.
type Options struct {
	// Namespace of the metrics (required), e.g. "Orbit/hosts".
	Namespace string
	// AutoScaling adds the AutoScalingGroupName dimension (hosts of an
	// Auto Scaling group; the agent reads it with ec2:DescribeTags).
	AutoScaling bool
	// AggregateBy are the dimension sets the agent also sends aggregates
	// for: [] for one series over every host of the namespace,
	// [AutoScalingGroupName] per group. Default: one aggregate over all.
	AggregateBy [][]string
	// DiskPaths are the mount points whose use is measured (default "/";
	// VMs add /var/lib/docker, the DLC volume).
	DiskPaths []string
}

// AgentConfig is the agent's JSON configuration.
func AgentConfig(o Options) (string, error) {
	if o.Namespace == "" {
		return "", errors.New("hostmetrics: a namespace is required")
	}
	dims := map[string]string{"InstanceId": "${aws:InstanceId}", "InstanceType": "${aws:InstanceType}"}
	if o.AutoScaling {
		dims[ASGDimension] = "${aws:AutoScalingGroupName}"
	}
	agg := o.AggregateBy
	if agg == nil {
		agg = [][]string{{}}
	}
	paths := o.DiskPaths
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	cfg := map[string]any{
		"agent": map[string]any{"metrics_collection_interval": 60, "run_as_user": "root"},
		"metrics": map[string]any{
			"namespace":              o.Namespace,
			"append_dimensions":      dims,
			"aggregation_dimensions": agg,
			"metrics_collected": map[string]any{
				"cpu":    map[string]any{"measurement": []string{"usage_active", "usage_iowait"}, "totalcpu": true},
				"mem":    map[string]any{"measurement": []string{"used_percent"}},
				"disk":   map[string]any{"measurement": []string{"used_percent"}, "resources": slices.Clone(paths), "drop_device": true},
				"diskio": map[string]any{"measurement": []string{"io_time"}},
				"net":    map[string]any{"measurement": []string{"bytes_sent", "bytes_recv"}},
			},
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	return string(b), nil
}
