package ec2pool

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool"
	"github.com/orbit-ci/orbit/shared/hostmetrics"
)

// A VM's user data is a MIME multipart document for cloud-init: a
// cloud-config part that runs the script on every boot (a preallocated VM
// boots twice: once to warm up, once with its task), and the script. The
// script's environment block is the lease's Request.Env, written to a file
// only root reads; it is the one place the task's token is kept, and
// Leases reads it back (DescribeInstanceAttribute userData) so a restarted
// bridge re-learns its tasks. It never goes into tags or logs.
//
//	every task VM: start the CloudWatch agent and `orbit docker-metrics`
//	               in the background when the pool has HostMetricsNamespace
//	               (shared/hostmetrics, hostmetrics/dockermetrics)
//	machine:       mount the DLC volume (if any) at /var/lib/docker,
//	               (rerun with SSH: find the VM's address for the ssh line)
//	               run `orbit agent` with the env, power off
//	remote docker: mount the DLC volume, start dockerd on :2376 with the
//	               env's TLS material (DOCKER_TLS_*), stay up until released
//	warm:          power off at once (InstanceInitiatedShutdownBehavior
//	               stop): the pool starts it with a task's user data later

// envBegin and envEnd delimit the environment block.
const (
	envBegin = "cat > /run/orbit/agent.env <<'ORBIT_ENV_END'\n"
	envEnd   = "\nORBIT_ENV_END\n"
	boundary = "//orbit-vm//"
	// DockerPort is the remote Docker engine's TLS port.
	DockerPort = 2376
)

// Environment variables of the script besides Request.Env.
const (
	// EnvDLCDevice names the DLC volume's device ("" without DLC).
	EnvDLCDevice = "ORBIT_DLC_DEVICE"
	// EnvPurpose is the lease's purpose.
	EnvPurpose = "ORBIT_VM_PURPOSE"
)

// script is what every VM's user data shares.
type script struct {
	agentPath string
	// metrics is the CloudWatch agent's configuration (shared/hostmetrics;
	// "" for no host metrics).
	metrics string
	// metricsNamespace is the host metrics' namespace, where `orbit
	// docker-metrics` sends the Docker ones too ("" with metrics "").
	metricsNamespace string
}

// userData renders the user data of a VM for r (r.Env may be empty for a
// warm VM: purpose "warm"), without host metrics.
func userData(agentPath string, purpose string, env map[string]string) (string, error) {
	return script{agentPath: agentPath}.userData(purpose, env)
}

// cwEnd closes the CloudWatch agent's configuration in the script.
const cwEnd = "ORBIT_CW_END"

func (sc script) userData(purpose string, env map[string]string) (string, error) {
	agentPath := sc.agentPath
	var b strings.Builder
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\nMIME-Version: 1.0\n\n", boundary)
	fmt.Fprintf(&b, "--%s\nContent-Type: text/cloud-config; charset=\"us-ascii\"\n\n#cloud-config\ncloud_final_modules:\n- [scripts-user, always]\n\n", boundary)
	fmt.Fprintf(&b, "--%s\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n", boundary)
	b.WriteString("#!/bin/bash\n# Orbit VM (" + purpose + "): see nomadbridge/vmpool/ec2pool/userdata.go\nset -eu\numask 077\n")
	if purpose == "warm" {
		b.WriteString("# Warmed up: stop until a task claims this VM.\nshutdown -h now\n")
		fmt.Fprintf(&b, "--%s--\n", boundary)
		return b.String(), nil
	}
	b.WriteString("mkdir -p /run/orbit\n")
	b.WriteString(envBegin)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !validName(k) {
			return "", fmt.Errorf("environment variable name %q: want letters, digits and _", k)
		}
		v := env[k]
		if strings.Contains("\n"+v+"\n", envEnd) {
			return "", fmt.Errorf("environment variable %s: its value holds the block's end marker", k)
		}
		b.WriteString("export " + k + "=" + shellQuote(v) + "\n")
	}
	b.WriteString(strings.TrimPrefix(envEnd, "\n"))
	b.WriteString(". /run/orbit/agent.env\n")
	b.WriteString(`imds() {
  t=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token) &&
    curl -fsS -H "X-aws-ec2-metadata-token: $t" "http://169.254.169.254/latest/meta-data/$1"
}
`)
	b.WriteString(`if [ -n "${ORBIT_DLC_DEVICE:-}" ]; then
  for i in $(seq 300); do [ -e "$ORBIT_DLC_DEVICE" ] && break; sleep 1; done
  blkid "$ORBIT_DLC_DEVICE" >/dev/null 2>&1 || mkfs.ext4 -q "$ORBIT_DLC_DEVICE"
  systemctl stop docker || true
  mkdir -p /var/lib/docker && mount "$ORBIT_DLC_DEVICE" /var/lib/docker
  systemctl start docker || true
fi
`)
	if sc.metrics != "" {
		if strings.Contains(sc.metrics, cwEnd) {
			return "", errors.New("host metrics configuration holds the script's end marker")
		}
		// In the background: the job does not wait for the agent.
		fmt.Fprintf(&b, `# Host metrics (shared/hostmetrics): the CloudWatch agent, in the background.
(
  set +e
  ctl=/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
  if [ ! -x "$ctl" ]; then
    region=$(imds placement/region)
    curl -fsS -o /tmp/amazon-cloudwatch-agent.deb \
      "https://amazoncloudwatch-agent-$region.s3.$region.amazonaws.com/ubuntu/$(dpkg --print-architecture)/latest/amazon-cloudwatch-agent.deb" &&
      dpkg -i -E /tmp/amazon-cloudwatch-agent.deb
  fi
  mkdir -p "$(dirname %[1]s)"
  cat > %[1]s <<'%[2]s'
%[3]s
%[2]s
  "$ctl" -a fetch-config -m ec2 -s -c file:%[1]s
) >/var/log/orbit-host-metrics.log 2>&1 &
`, hostmetrics.ConfigPath, cwEnd, sc.metrics)
	}
	if sc.metricsNamespace != "" {
		// The CloudWatch agent has no Docker input on plain EC2: the
		// Docker metrics come from orbit itself, per VM and over all VMs.
		// It waits for dockerd (a remote Docker VM starts its own below).
		fmt.Fprintf(&b, `# Docker host metrics (shared/hostmetrics/dockermetrics), in the background.
(
  set +e
  AWS_REGION=$(imds placement/region) exec %s docker-metrics --namespace %s \
    --docker-host unix:///var/run/docker.sock --dimension InstanceId="$(imds instance-id)" --aggregate all --log-format json
) >/var/log/orbit-docker-metrics.log 2>&1 &
`, shellQuote(agentPath), shellQuote(sc.metricsNamespace))
	}
	switch vmpool.Purpose(purpose) {
	case vmpool.RemoteDocker:
		fmt.Fprintf(&b, `install -d -m 0700 /etc/docker/orbit
printf '%%s' "$DOCKER_TLS_CA" > /etc/docker/orbit/ca.pem
printf '%%s' "$DOCKER_TLS_CERT" > /etc/docker/orbit/cert.pem
printf '%%s' "$DOCKER_TLS_KEY" > /etc/docker/orbit/key.pem
systemctl stop docker || true
exec dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:%d --tlsverify \
  --tlscacert /etc/docker/orbit/ca.pem --tlscert /etc/docker/orbit/cert.pem --tlskey /etc/docker/orbit/key.pem
`, DockerPort)
	default:
		// A rerun with SSH: the ssh line names the VM's public address (its
		// private one when it has none), from the instance metadata.
		b.WriteString(`if [ -n "${ORBIT_SSH_ADDR:-}" ] && [ -z "${ORBIT_SSH_HOST:-}" ]; then
  ORBIT_SSH_HOST=$(imds public-ipv4 || imds local-ipv4 || true)
  export ORBIT_SSH_HOST
fi
`)
		b.WriteString("status=0\n" + shellQuote(agentPath) + " agent || status=$?\necho \"orbit agent exited with $status\"\nshutdown -h now\n")
	}
	fmt.Fprintf(&b, "--%s--\n", boundary)
	return b.String(), nil
}

// ParseEnv reads the environment block back from user data: what Leases
// returns as Request.Env (and what a VM simulator runs the agent with).
// User data without a block (a warm VM) has none.
func ParseEnv(userData string) (map[string]string, error) {
	i := strings.Index(userData, envBegin)
	if i < 0 {
		return nil, nil
	}
	block := userData[i+len(envBegin):]
	j := strings.Index("\n"+block, envEnd)
	if j < 0 {
		return nil, errors.New("user data: environment block not closed")
	}
	block = block[:max(j-1, 0)]
	env := map[string]string{}
	for rest := block; rest != ""; {
		line, ok := strings.CutPrefix(rest, "export ")
		if !ok {
			return nil, fmt.Errorf("user data: environment block: want export at %.20q", rest)
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok || !validName(name) {
			return nil, fmt.Errorf("user data: environment block: bad name at %.20q", line)
		}
		v, tail, err := shellUnquote(val)
		if err != nil {
			return nil, fmt.Errorf("user data: environment variable %s: %w", name, err)
		}
		env[name] = v
		rest = strings.TrimPrefix(tail, "\n")
	}
	return env, nil
}

func validName(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range k {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// shellQuote quotes s for a POSIX shell: 'it'\”s'.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellUnquote reads what shellQuote wrote at the start of s, up to the end
// of the line; it returns the value and what follows.
func shellUnquote(s string) (string, string, error) {
	var b strings.Builder
	for {
		switch {
		case strings.HasPrefix(s, "'"):
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return "", "", errors.New("unterminated quote")
			}
			b.WriteString(s[1 : 1+end])
			s = s[2+end:]
		case strings.HasPrefix(s, `\'`):
			b.WriteByte('\'')
			s = s[2:]
		case s == "" || s[0] == '\n':
			return b.String(), s, nil
		default:
			return "", "", fmt.Errorf("unexpected %q after a quoted value", s[0])
		}
	}
}
