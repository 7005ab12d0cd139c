package stack

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/shared/hostmetrics/dockermetrics"
)

// TestHostMetrics: every fleet instance's user data installs and starts
// the CloudWatch agent with the hosts' configuration (behind the proxy
// when there is one), each role may publish only in its own namespace,
// the bridge tells the VM pool the VMs' namespace, and the host alarms
// watch the agent's metric names.
func TestHostMetrics(t *testing.T) {
	var uds int
	var bridgeUD string
	for id, lt := range ofType("AWS::EC2::LaunchTemplate") {
		data := lt.Properties["LaunchTemplateData"].(map[string]any)
		if _, ok := data["UserData"]; !ok {
			continue // the VM template: the pool gives each VM its user data
		}
		ud := flatten(data["UserData"])
		uds++
		if strings.HasPrefix(id, "BridgesTemplate") {
			bridgeUD = ud
		}
		for _, want := range []string{"dnf install -y amazon-cloudwatch-agent", `"namespace": "Orbit/hosts"`,
			`"AutoScalingGroupName": "${aws:AutoScalingGroupName}"`, "amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s",
			`http_proxy = "http://proxy.internal:3128"`, `"mem"`, `"disk"`} {
			assert.Contains(t, ud, want, id)
		}
	}
	assert.Equal(t, 3, uds, "servers, clients and bridges")

	namespaces := map[string][]string{}
	for id, p := range ofType("AWS::IAM::Policy") {
		for _, st := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			m := st.(map[string]any)
			if !contains(asList(m["Action"]), "cloudwatch:PutMetricData") {
				continue
			}
			cond, _ := json.Marshal(m["Condition"])
			namespaces[strings.SplitN(id, "Role", 2)[0]] = append(namespaces[strings.SplitN(id, "Role", 2)[0]], string(cond))
		}
	}
	for _, role := range []string{"NomadServers", "NomadClients", "Bridges"} {
		assert.Contains(t, strings.Join(namespaces[role], " "), `"cloudwatch:namespace":"Orbit/hosts"`, role)
	}
	assert.Equal(t, []string{`{"StringEquals":{"cloudwatch:namespace":"Orbit/vms"}}`}, namespaces["Vm"], "the VMs publish in theirs only")
	assert.Contains(t, bridgeUD, "ORBIT_VM_HOST_METRICS_NAMESPACE=Orbit/vms", "the pool's VMs run the agent")

	byName := map[string]map[string]any{}
	for _, a := range ofType("AWS::CloudWatch::Alarm") {
		if name, ok := a.Properties["AlarmName"].(string); ok {
			byName[name] = a.Properties
		}
	}
	for _, tc := range []struct{ name, namespace, metric string }{
		{"orbit-NomadClientDisk", "Orbit/hosts", "disk_used_percent"},
		{"orbit-NomadClientMemory", "Orbit/hosts", "mem_used_percent"},
		{"orbit-NomadClientCpu", "Orbit/hosts", "cpu_usage_active"},
		{"orbit-VmDisk", "Orbit/vms", "disk_used_percent"},
	} {
		a, ok := byName[tc.name]
		require.True(t, ok, tc.name)
		assert.Equal(t, tc.namespace, a["Namespace"], tc.name)
		assert.Equal(t, tc.metric, a["MetricName"], tc.name)
		assert.NotEmpty(t, a["AlarmActions"], tc.name)
	}
	dims, _ := json.Marshal(byName["orbit-NomadClientDisk"]["Dimensions"])
	assert.Contains(t, string(dims), `"Value":"orbit-nomad-clients"`, "per client group")
}

// TestVMAccess: with vmPublicAccess the VMs' group admits SSH on the VM
// service's port (not 22), the bridge names it as the pool's SSH group,
// and the VMs start in public subnets; the VM template sets no group of
// its own (the pool puts them on the VM's interface).
func TestVMAccess(t *testing.T) {
	var port22, sshPort bool
	for _, sg := range ofType("AWS::EC2::SecurityGroup") {
		for _, r := range asAnyList(sg.Properties["SecurityGroupIngress"]) {
			m := r.(map[string]any)
			port22 = port22 || m["FromPort"] == float64(22)
			sshPort = sshPort || (m["FromPort"] == float64(vmpool.SSHPort) && m["ToPort"] == float64(vmpool.SSHPort))
		}
	}
	for _, sg := range ofType("AWS::EC2::SecurityGroupIngress") {
		port22 = port22 || sg.Properties["FromPort"] == float64(22)
		sshPort = sshPort || sg.Properties["FromPort"] == float64(vmpool.SSHPort)
	}
	assert.True(t, sshPort, "SSH into VMs on vmpool.SSHPort")
	assert.False(t, port22, "nothing admits port 22")
	for _, lt := range ofType("AWS::EC2::LaunchTemplate") {
		if lt.Properties["LaunchTemplateName"] == "orbit-vm" {
			data, _ := json.Marshal(lt.Properties["LaunchTemplateData"])
			assert.NotContains(t, string(data), "SecurityGroupIds")
		}
	}
	for id, lt := range ofType("AWS::EC2::LaunchTemplate") {
		if strings.HasPrefix(id, "BridgesTemplate") {
			ud := flatten(lt.Properties["LaunchTemplateData"].(map[string]any)["UserData"])
			assert.Contains(t, ud, "ORBIT_VM_SSH_SECURITY_GROUP_ID=")
		}
	}
}

// TestDockerMetrics: the Nomad clients run `orbit docker-metrics` as a
// systemd unit in the hosts' namespace, per instance and per group (the
// servers and bridges run no Docker jobs, so not there), its user data is
// valid bash, and the dashboard has a Docker row on the collector's names
// for the clients and the VMs.
func TestDockerMetrics(t *testing.T) {
	var clientUD string
	for id, lt := range ofType("AWS::EC2::LaunchTemplate") {
		data := lt.Properties["LaunchTemplateData"].(map[string]any)
		if _, ok := data["UserData"]; !ok {
			continue
		}
		ud := flatten(data["UserData"])
		if strings.HasPrefix(id, "NomadClientsTemplate") {
			clientUD = ud
			continue
		}
		assert.NotContains(t, ud, "orbit-docker-metrics", id)
	}
	require.NotEmpty(t, clientUD)
	for _, want := range []string{
		"cat >/etc/systemd/system/orbit-docker-metrics.service <<UNIT\n",
		"Wants=docker.service\n",
		"Environment=AWS_REGION=eu-west-1\n",
		"EnvironmentFile=-/etc/orbit/proxy.env\n",
		"ExecStart=/usr/local/bin/orbit docker-metrics --namespace Orbit/hosts --docker-host unix:///var/run/docker.sock " +
			"--dimension InstanceId=$instance_id --dimension AutoScalingGroupName=orbit-nomad-clients --aggregate AutoScalingGroupName --log-format json\n",
		"systemctl enable --now orbit-docker-metrics\n",
	} {
		assert.Contains(t, clientUD, want)
	}
	out, err := exec.Command("bash", "-n", "-c", clientUD).CombinedOutput()
	assert.NoError(t, err, "client user data: %s", out)

	var body string
	for _, d := range ofType("AWS::CloudWatch::Dashboard") {
		body = flatten(d.Properties["DashboardBody"])
	}
	for _, want := range []string{
		`"title":"Docker: running containers"`,
		`["Orbit/hosts","` + dockermetrics.ContainersRunning + `","AutoScalingGroupName","orbit-nomad-clients"`,
		`["Orbit/vms","` + dockermetrics.ContainersRunning + `"`,
		`["Orbit/hosts","` + dockermetrics.CPUUsage + `","AutoScalingGroupName","orbit-nomad-clients"`,
		`["Orbit/hosts","` + dockermetrics.MemUsage + `","AutoScalingGroupName","orbit-nomad-clients"`,
		`["Orbit/hosts","` + dockermetrics.MemLimit + `","AutoScalingGroupName","orbit-nomad-clients"`,
	} {
		assert.Contains(t, body, want)
	}
}
