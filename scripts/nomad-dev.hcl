# Nomad dev agent configuration for Orbit's embedded shape and tests:
# the host executor runs the build agent with raw_exec (no Docker here).
plugin "raw_exec" {
  config {
    enabled = true
  }
}

client {
  gc_max_allocs = 500
  # Dynamic ports come from CircleCI's SSH range: a job rerun with SSH
  # listens on one (nomadbridge/jobspec_ssh.go).
  min_dynamic_port = 64535
  max_dynamic_port = 65535
}

server {
  # Orbit purges each build's Nomad job once its outcome is reported; Nomad
  # keeps the job's evaluations and allocations until its garbage collection
  # (batch evaluations: 24 h by default), and the bridge's allocation watch
  # reads every one of them on each change. Collect them after minutes.
  # (the same stanza as nomadagent.ServerGC)
  job_gc_interval         = "1m"
  job_gc_threshold        = "5m"
  eval_gc_threshold       = "5m"
  batch_eval_gc_threshold = "5m"
}
