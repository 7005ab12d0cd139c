// Package testenv gates integration tests on the services they need.
// Locally, a test whose service is not configured skips with the reason; in
// CI (the CI environment variable is set, as `make test` runs there) it fails
// instead, because make test starts every service and a skip there would
// hide a defect.
package testenv

import (
	"os"
	"testing"
)

// Need returns the environment variable name, or skips (locally) or fails
// (in CI) the test when it is empty. why tells how to provide it.
func Need(tb testing.TB, name, why string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set in CI (%s): make test must start this service", name, why)
		}
		tb.Skipf("%s not set: %s", name, why)
	}
	return v
}
