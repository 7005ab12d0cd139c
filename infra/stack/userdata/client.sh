# A Nomad client for builds: the docker driver with bind mounts (the build
# agent is mounted from /usr/local/bin/orbit), 2 vCPU and 4 GiB reserved for
# coordination (the seed's reservation), and Nomad's dynamic ports in the
# seed's range for SSH into builds (64535–65535). Scale-in drains the node
# from the bridge (the group's lifecycle hook; nomadbridge/scalein).
dnf install -y docker
systemctl enable --now docker
cat >/etc/nomad.d/client.hcl <<'HCL'
client {
  enabled    = true
  node_class = "build"
  server_join {
    retry_join = ["provider=aws tag_key={{.JoinTagKey}} tag_value={{.ServerTag}} addr_type=private_v4"]
  }
  reserved {
    cores  = "0-1"
    memory = 4096
  }
  min_dynamic_port = {{.SSHFirstPort}}
  max_dynamic_port = {{.SSHLastPort}}
  options = {
    "driver.denylist" = "java,qemu"
  }
}
plugin "docker" {
  config {
    volumes {
      enabled = true
    }
  }
}
HCL

systemctl daemon-reload
systemctl enable --now nomad

# Docker host metrics (shared/hostmetrics/dockermetrics; infra/stack/hostmetrics.go):
# the CloudWatch agent has no Docker input on plain EC2, so orbit sends the
# running containers' CPU, memory, network and block I/O itself, per client
# and per group, in the hosts' namespace.
imds_token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
instance_id=$(curl -fsS -H "X-aws-ec2-metadata-token: $imds_token" http://169.254.169.254/latest/meta-data/instance-id)
cat >/etc/systemd/system/orbit-docker-metrics.service <<UNIT
[Unit]
Description=Orbit Docker host metrics (orbit docker-metrics)
Wants=docker.service
After=docker.service network-online.target

[Service]
EnvironmentFile=-/etc/orbit/proxy.env
Environment=AWS_REGION={{.Region}}
ExecStart=/usr/local/bin/orbit docker-metrics --namespace {{.HostMetricsNamespace}} --docker-host unix:///var/run/docker.sock --dimension InstanceId=$instance_id --dimension {{.ASGDimension}}={{.ClientGroupName}} --aggregate {{.ASGDimension}} --log-format json
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now orbit-docker-metrics
