package main

// Benchmarks of the embedded shape: BenchmarkDispatchOverhead (trigger →
// first step started, bare Nomad vs Orbit cold vs warm) is in
// bench_dispatch_test.go, BenchmarkOutputLatency in bench_exec_test.go.
