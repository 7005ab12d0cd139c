package nomadtest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// Binary finds the nomad executable: $ORBIT_NOMAD_BIN, else bin/nomad at
// the module root (make tools builds it); without one the test is skipped
// (failed in CI).
func Binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("ORBIT_NOMAD_BIN"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "bin", "nomad")
	if _, err := os.Stat(p); err != nil {
		return testenv.Need(tb, "ORBIT_NOMAD_BIN", "no Nomad binary at bin/nomad: make tools builds it")
	}
	return p
}

// StartAgent starts a Nomad dev agent of the test's own (a fresh state,
// nothing else placed on it), stopped when the test ends. mod may change
// its configuration.
func StartAgent(tb testing.TB, mod ...func(*nomadagent.Config)) *nomadagent.Agent {
	tb.Helper()
	bin := Binary(tb)
	if testing.Short() {
		tb.Skip("starts a Nomad agent")
	}
	cfg := nomadagent.Config{Binary: bin, DataDir: tb.TempDir(), DieWithParent: true}
	for _, f := range mod {
		f(&cfg)
	}
	a, err := nomadagent.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start a Nomad dev agent: %v", err)
	}
	tb.Cleanup(func() { _ = a.Stop() })
	return a
}
