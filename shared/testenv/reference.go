package testenv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// ReferenceEnv names the directory of the reference material that lies
// beside Orbit's clone in this project's CI (real-world configs, CircleCI's
// OpenAPI document): `../shared/reference` seen from the repository root.
// scripts/test.sh sets it when that directory exists; a user's own clone
// has no such directory, and tests that read it are then not run.
const ReferenceEnv = "ORBIT_REFERENCE_DIR"

// Reference returns the path of sub (e.g. "configs") in the reference
// material, or skips or fails the test:
//
//   - ORBIT_REFERENCE_DIR unset, and no ../shared/reference beside the
//     repository: skip, saying the test was not run and why. This holds in
//     CI too, so `make test` passes on a clone with nothing beside it.
//   - ORBIT_REFERENCE_DIR unset in CI although ../shared/reference lies
//     beside the repository: fail, since the material is there and a skip
//     would hide the tests that use it (outside CI: skip, saying so).
//   - ORBIT_REFERENCE_DIR set but sub missing in it: fail, in CI or not;
//     the variable says the material is there.
func Reference(tb testing.TB, sub string) string {
	tb.Helper()
	dir := os.Getenv(ReferenceEnv)
	if dir == "" {
		beside := besideRepo()
		switch {
		case beside != "" && os.Getenv("CI") != "":
			tb.Fatalf("%s is not set in CI although %s exists: scripts/test.sh sets it; run the tests through it or set %s=%s",
				ReferenceEnv, beside, ReferenceEnv, beside)
		case beside != "":
			tb.Skipf("not run: %s is not set (the reference material is at %s: set %s=%s, or use scripts/test.sh, which does)",
				ReferenceEnv, beside, ReferenceEnv, beside)
		default:
			tb.Skipf("not run: %s is not set and no ../shared/reference lies beside this clone (reference %q is part of this project's CI material; set %s to a directory holding it)",
				ReferenceEnv, sub, ReferenceEnv)
		}
		return ""
	}
	path := filepath.Join(dir, sub)
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("%s=%s but %s cannot be read: %v", ReferenceEnv, dir, sub, err)
		return ""
	}
	return path
}

// besideRepo is ../shared/reference seen from the repository root (the
// nearest parent of the working directory holding go.mod), or "" when it
// does not exist.
func besideRepo() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			ref := filepath.Join(filepath.Dir(dir), "shared", "reference")
			if st, err := os.Stat(ref); err == nil && st.IsDir() {
				return ref
			}
			return ""
		} else if !errors.Is(err, fs.ErrNotExist) {
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}
