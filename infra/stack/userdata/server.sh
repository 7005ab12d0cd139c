# A Nomad server: three of them elect a leader; they find each other by the
# tag their Auto Scaling group puts on them.
cat >/etc/nomad.d/server.hcl <<'HCL'
server {
  enabled          = true
  bootstrap_expect = 3
  # Orbit purges each build's job once its outcome is reported; collect its
  # evaluations and allocations after minutes, not Nomad's 24 h for batch
  # evaluations: the bridge's allocation watch reads every one on each change.
  job_gc_interval         = "1m"
  job_gc_threshold        = "5m"
  eval_gc_threshold       = "5m"
  batch_eval_gc_threshold = "5m"
  server_join {
    retry_join = ["provider=aws tag_key={{.JoinTagKey}} tag_value={{.ServerTag}} addr_type=private_v4"]
  }
}
HCL
systemctl daemon-reload
systemctl enable --now nomad
