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
