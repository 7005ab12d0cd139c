# A Nomad client for builds: the docker driver with bind mounts (the build
# agent is mounted from /usr/local/bin/orbit), 2 vCPU and 4 GiB reserved for
# coordination (the seed's reservation), and a watcher that drains the node
# when its Auto Scaling group terminates it.
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

# Scale-in: the group's termination lifecycle hook holds the instance in
# Terminating:Wait, which the metadata service reports as the target
# lifecycle state "Terminated". The watcher then drains the node (running
# builds finish, no new ones come), keeps the hook alive with heartbeats
# while they run, and completes the lifecycle action once none runs.
cat >/usr/local/bin/orbit-lifecycle <<'SCRIPT'
#!/usr/bin/env bash
set -uo pipefail
imds() {
  local token
  token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token) || return 1
  curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}
instance=$(imds instance-id)
while [[ "$(imds autoscaling/target-lifecycle-state || true)" != "Terminated" ]]; do sleep 5; done
echo "termination requested: draining $(hostname)"
NOMAD_ADDR=http://127.0.0.1:4646 /usr/local/bin/orbit admin nodes drain "$(hostname)" --deadline {{.DrainDeadline}} --wait &
drain=$!
while kill -0 "$drain" 2>/dev/null; do
  aws autoscaling record-lifecycle-action-heartbeat --region {{.Region}} \
    --auto-scaling-group-name {{.ClientGroup}} --lifecycle-hook-name {{.HookName}} --instance-id "$instance" || true
  for _ in $(seq 60); do kill -0 "$drain" 2>/dev/null || break; sleep 5; done
done
wait "$drain"; echo "drain finished with status $?"
aws autoscaling complete-lifecycle-action --region {{.Region}} \
  --auto-scaling-group-name {{.ClientGroup}} --lifecycle-hook-name {{.HookName}} \
  --instance-id "$instance" --lifecycle-action-result CONTINUE
SCRIPT
chmod 0755 /usr/local/bin/orbit-lifecycle
cat >/etc/systemd/system/orbit-lifecycle.service <<'UNIT'
[Unit]
Description=Orbit: drain this Nomad client when its Auto Scaling group terminates it
After=nomad.service

[Service]
ExecStart=/usr/local/bin/orbit-lifecycle
Restart=on-failure
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now nomad orbit-lifecycle
