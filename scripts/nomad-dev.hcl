# Nomad dev agent configuration for Orbit's embedded shape and tests:
# the host executor runs the build agent with raw_exec (no Docker here).
plugin "raw_exec" {
  config {
    enabled = true
  }
}

client {
  gc_max_allocs = 500
}
