# A bridge instance: `orbit bridge` beside a local Nomad agent in client mode
# that runs nothing (its own node pool, every driver denied) and gives the
# bridge a Nomad API on 127.0.0.1 that follows the servers as they change.
# Two instances run; a lease in DynamoDB keeps one active.
cat >/etc/nomad.d/client.hcl <<'HCL'
client {
  enabled   = true
  node_pool = "orbit-bridge"
  server_join {
    retry_join = ["provider=aws tag_key={{.JoinTagKey}} tag_value={{.ServerTag}} addr_type=private_v4"]
  }
  options = {
    "driver.denylist" = "docker,exec,raw_exec,java,qemu"
  }
}
HCL
cat >/etc/orbit/bridge.env <<'ENV'
{{range .BridgeEnv}}{{.}}
{{end}}ENV
cat >/etc/systemd/system/orbit-bridge.service <<'UNIT'
[Unit]
Description=Orbit bridge: run queue to Nomad
After=nomad.service
Wants=nomad.service

[Service]
EnvironmentFile=/etc/orbit/bridge.env
EnvironmentFile=-/etc/orbit/proxy.env
ExecStart=/usr/local/bin/orbit bridge
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now nomad orbit-bridge
