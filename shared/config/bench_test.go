package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// largeConfig generates a 2.1 config of about the given number of lines,
// in the shape of the corpus's large files: pipeline parameters, executors,
// parameterized commands calling commands, parameterized jobs, and
// workflows with matrices, requires and filters.
func largeConfig(lines int) []byte {
	var b strings.Builder
	b.WriteString(`version: 2.1
parameters:
  go-version: {type: string, default: "1.22"}
  nightly: {type: boolean, default: false}
executors:
  go:
    parameters:
      version: {type: string, default: << pipeline.parameters.go-version >>}
      size: {type: enum, enum: [small, medium, large], default: medium}
    docker:
      - image: cimg/go:<< parameters.version >>
      - image: postgres:16
        environment: {POSTGRES_PASSWORD: secret}
    resource_class: << parameters.size >>
    working_directory: ~/src
commands:
  restore:
    parameters:
      key: {type: string}
    steps:
      - restore_cache:
          keys: ["<< parameters.key >>-{{ checksum \"go.sum\" }}", "<< parameters.key >>-"]
  save:
    parameters:
      key: {type: string}
    steps:
      - save_cache:
          key: << parameters.key >>-{{ checksum "go.sum" }}
          paths: [~/go/pkg/mod]
`)
	n := 0
	for strings.Count(b.String(), "\n") < lines*4/10 {
		fmt.Fprintf(&b, `  step-%[1]d:
    parameters:
      target: {type: string, default: all}
      race: {type: boolean, default: false}
      extra: {type: steps, default: []}
    steps:
      - restore: {key: c%[1]d}
      - run:
          name: Build << parameters.target >> (%[1]d)
          command: |
            go build ./<< parameters.target >>/...
            go test << parameters.target >> -run 'Test%[1]d'
      - when:
          condition: << parameters.race >>
          steps:
            - run: go test -race ./<< parameters.target >>/...
      - steps: << parameters.extra >>
      - save: {key: c%[1]d}
`, n)
		n++
	}
	b.WriteString("jobs:\n")
	jobs := 0
	for strings.Count(b.String(), "\n") < lines*8/10 {
		fmt.Fprintf(&b, `  job-%[1]d:
    parameters:
      os: {type: string, default: linux}
      shard: {type: integer, default: 1}
    executor: {name: go, size: large}
    parallelism: << parameters.shard >>
    environment: {JOB: "%[1]d", OS: << parameters.os >>}
    steps:
      - checkout
      - step-%[2]d: {target: pkg%[1]d, race: true}
      - step-%[3]d:
          extra:
            - run: echo << parameters.os >>
            - store_test_results: {path: reports}
`, jobs, jobs%n, (jobs+1)%n)
		jobs++
	}
	b.WriteString(`workflows:
  nightly:
    when: << pipeline.parameters.nightly >>
    jobs:
      - job-0:
          filters: {branches: {only: main}}
  ci:
    jobs:
`)
	for i := 0; strings.Count(b.String(), "\n") < lines; i++ {
		fmt.Fprintf(&b, `      - job-%[1]d:
          name: job-%[1]d-<< matrix.os >>-<< matrix.shard >>-%[2]d
          matrix:
            alias: group-%[2]d
            parameters:
              os: [linux, mac]
              shard: [1, 2]
`, i%jobs, i)
		if i > 0 {
			fmt.Fprintf(&b, "          requires: [group-%d]\n", i-1)
		}
	}
	return []byte(b.String())
}

// BenchmarkCompileLarge compiles a generated 1,500-line config with
// matrices and commands (the acceptance bound is 20 ms per Compile).
func BenchmarkCompileLarge(b *testing.B) {
	src := largeConfig(1500)
	b.ReportMetric(float64(strings.Count(string(src), "\n")), "lines")
	p, err := Compile(src, Options{Branch: "main"})
	require.NoError(b, err)
	require.NotEmpty(b, p.Workflows[0].Jobs)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compile(src, Options{Branch: "main"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessLarge processes the same config.
func BenchmarkProcessLarge(b *testing.B) {
	src := largeConfig(1500)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Process(src, Options{Branch: "main"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLargeConfig keeps the benchmark's input honest: it compiles, has the
// size it claims, and expands its matrices.
func TestLargeConfig(t *testing.T) {
	src := largeConfig(1500)
	lines := strings.Count(string(src), "\n")
	require.InDelta(t, 1505, lines, 10)
	p, err := Compile(src, Options{Branch: "main"})
	require.NoError(t, err)
	require.Len(t, p.Workflows, 1) // nightly's when says no
	require.Greater(t, len(p.Workflows[0].Jobs), 100)
	job := p.Workflows[0].Jobs[5].Job
	require.Equal(t, "cimg/go:1.22", job.Executor.Images[0].Image)
	require.Len(t, job.Steps, 10)
}
