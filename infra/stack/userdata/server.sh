# A Nomad server: three of them elect a leader; they find each other by the
# tag their Auto Scaling group puts on them.
cat >/etc/nomad.d/server.hcl <<'HCL'
server {
  enabled          = true
  bootstrap_expect = 3
  server_join {
    retry_join = ["provider=aws tag_key={{.JoinTagKey}} tag_value={{.ServerTag}} addr_type=private_v4"]
  }
}
HCL
systemctl daemon-reload
systemctl enable --now nomad
