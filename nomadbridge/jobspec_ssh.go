package nomadbridge

import "github.com/hashicorp/nomad/api"

// SSHPortLabel labels the port of a job rerun with SSH. It is a dynamic
// port: Nomad picks a free one from the client's dynamic port range, which
// Orbit's clients set to CircleCI's 64535–65535 (min_dynamic_port and
// max_dynamic_port: infra's client.sh, scripts/nomad-dev.hcl, the embedded
// dev agent). Nomad, not the bridge, chooses, because only Nomad knows which
// ports of a client are free; a static port the bridge picked could collide
// with another job's and leave the job unplaceable. The agent reads it from
// NOMAD_IP_ssh and NOMAD_PORT_ssh.
const SSHPortLabel = "ssh"

// addSSHPort gives the group the SSH port: on the docker executor's bridge
// network (mapped to the same port number in the group's namespace, where
// the agent listens on all addresses), else with host networking (raw_exec
// and exec listen on the client's address). Nomad takes one network per
// group.
func addSSHPort(group *api.TaskGroup) {
	port := api.Port{Label: SSHPortLabel}
	if len(group.Networks) > 0 {
		group.Networks[0].DynamicPorts = append(group.Networks[0].DynamicPorts, port)
		return
	}
	group.Networks = []*api.NetworkResource{{DynamicPorts: []api.Port{port}}}
}
