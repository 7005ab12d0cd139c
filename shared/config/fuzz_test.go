package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzCompile feeds arbitrary bytes to Compile and Process: they must not
// panic, must answer quickly (aliases, commands and matrices cannot make
// them expand without bound), and must return either a Plan that encodes
// as JSON or a non-empty ErrorList. What compiles must also process, into a
// config that compiles again. The seed corpus is testdata's configs, with
// testdata/orbs as the orb registry.
func FuzzCompile(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, "main", "")
	}
	f.Add([]byte("version: 2\na: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"), "main", "")
	f.Add([]byte("version: 2.1\nx: &x {<<: *x}\n"), "", "v1")
	f.Add([]byte("version: 2\njobs:\n  build: {docker: [{image: a}], steps: [{type: shell, command: x}]}\n"), "dev", "")
	f.Add([]byte("version: 2.1\ncommands:\n  a: {parameters: {s: {type: steps}}, steps: [{steps: << parameters.s >>}, {steps: << parameters.s >>}]}\njobs:\n  j: {docker: [{image: a}], steps: [{a: {s: [{a: {s: [checkout]}}]}}]}\nworkflows: {w: {jobs: [{j: {matrix: {parameters: {x: [1, 2]}}}}]}}\n"), "main", "")
	orbs := filepath.Join("testdata", "orbs")

	f.Fuzz(func(t *testing.T, src []byte, branch, tag string) {
		opts := Options{Branch: branch, Tag: tag, OrbDir: orbs}
		var plan *Plan
		var err error
		watchdog(t, "Compile", src, func() { plan, err = Compile(src, opts) })
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %#v", err)
			}
			if plan != nil {
				t.Fatal("plan and error both returned")
			}
			return
		}
		if _, err := json.Marshal(plan); err != nil {
			t.Fatalf("plan does not encode: %v", err)
		}
		var out []byte
		watchdog(t, "Process", src, func() { out, err = Process(src, opts) })
		if err != nil {
			t.Fatalf("compiles but does not process: %v", err)
		}
		watchdog(t, "Compile of the processed config", out, func() { _, err = Compile(out, opts) })
		if err != nil {
			t.Fatalf("processed config does not compile: %v\n%s", err, out)
		}
	})
}

// watchdog runs f and fails the test if it takes more than 2s, so a hang is
// reported (and its input kept) instead of stalling the fuzzer.
func watchdog(t *testing.T, what string, src []byte, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatalf("%s did not return within 2s on %d bytes: %q", what, len(src), src)
	}
}
