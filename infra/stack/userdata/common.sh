# Common to every Orbit instance (Amazon Linux 2023, x86_64): installs the
# Nomad 1.6.0 and orbit binaries shipped as stack assets (no download from
# outside AWS at boot), writes Nomad's configuration and starts it.
set -euo pipefail
exec > >(tee -a /var/log/orbit-user-data.log) 2>&1
{{if .HTTPProxy}}
cat >/etc/profile.d/orbit-proxy.sh <<'PROXY'
export HTTP_PROXY={{.HTTPProxy}} HTTPS_PROXY={{.HTTPProxy}} NO_PROXY={{.NoProxy}}
export http_proxy={{.HTTPProxy}} https_proxy={{.HTTPProxy}} no_proxy={{.NoProxy}}
PROXY
. /etc/profile.d/orbit-proxy.sh
{{end}}
aws s3 cp --only-show-errors "{{.NomadURL}}" /usr/local/bin/nomad
aws s3 cp --only-show-errors "{{.OrbitURL}}" /usr/local/bin/orbit
aws s3 cp --only-show-errors "{{.AgentURL}}" /usr/local/bin/orbit-agent
chmod 0755 /usr/local/bin/nomad /usr/local/bin/orbit /usr/local/bin/orbit-agent
mkdir -p /etc/nomad.d /opt/nomad /etc/orbit

cat >/etc/nomad.d/base.hcl <<'HCL'
datacenter = "{{.Region}}"
region     = "global"
data_dir   = "/opt/nomad"
bind_addr  = "0.0.0.0"
advertise {
  http = "{{"{{"}} GetPrivateIP {{"}}"}}"
  rpc  = "{{"{{"}} GetPrivateIP {{"}}"}}"
  serf = "{{"{{"}} GetPrivateIP {{"}}"}}"
}
telemetry {
  publish_allocation_metrics = true
  publish_node_metrics       = true
}
HCL

cat >/etc/systemd/system/nomad.service <<'UNIT'
[Unit]
Description=Nomad agent
Wants=network-online.target
After=network-online.target

[Service]
EnvironmentFile=-/etc/orbit/proxy.env
ExecStart=/usr/local/bin/nomad agent -config /etc/nomad.d
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
KillSignal=SIGINT
Restart=on-failure
RestartSec=2
LimitNOFILE=65536
TasksMax=infinity

[Install]
WantedBy=multi-user.target
UNIT

# Host metrics (shared/hostmetrics; infra/stack/hostmetrics.go): the
# CloudWatch agent with CPU, memory, disk, disk I/O and network metrics.
dnf install -y amazon-cloudwatch-agent
mkdir -p "$(dirname {{.HostMetricsPath}})"
cat >{{.HostMetricsPath}} <<'CWAGENT'
{{.HostMetricsConfig}}
CWAGENT
{{if .HTTPProxy}}
cat >/opt/aws/amazon-cloudwatch-agent/etc/common-config.toml <<'TOML'
[proxy]
http_proxy = "{{.HTTPProxy}}"
https_proxy = "{{.HTTPProxy}}"
no_proxy = "{{.NoProxy}}"
TOML
{{end}}
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:{{.HostMetricsPath}}
{{if .HTTPProxy}}
printf 'HTTP_PROXY=%s\nHTTPS_PROXY=%s\nNO_PROXY=%s\n' '{{.HTTPProxy}}' '{{.HTTPProxy}}' '{{.NoProxy}}' >/etc/orbit/proxy.env
{{end}}
