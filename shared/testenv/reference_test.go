package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of
// stopping the goroutine, so Reference's decisions can be checked.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}

func TestReference(t *testing.T) {
	tests := []struct {
		name string
		// beside makes ../shared/reference/configs next to the fake
		// repository; env sets ORBIT_REFERENCE_DIR ("beside": to it).
		beside  bool
		env, ci string
		want    string
		skipped string
		fatal   string
	}{
		{name: "alone outside CI skips", skipped: "not run: ORBIT_REFERENCE_DIR is not set and no ../shared/reference lies beside this clone"},
		{name: "alone in CI skips: a user's clone passes make test", ci: "true", skipped: "not run: ORBIT_REFERENCE_DIR is not set and no ../shared/reference"},
		{name: "beside but unset outside CI skips, saying where it is", beside: true, skipped: "set ORBIT_REFERENCE_DIR="},
		{name: "beside but unset in CI fails", beside: true, ci: "true", fatal: "ORBIT_REFERENCE_DIR is not set in CI although"},
		{name: "set and present", beside: true, env: "beside", want: "configs"},
		{name: "set but missing fails", env: "/nonexistent/reference", fatal: "ORBIT_REFERENCE_DIR=/nonexistent/reference but configs cannot be read"},
		{name: "set but missing fails in CI", env: "/nonexistent/reference", ci: "true", fatal: "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			repo := filepath.Join(root, "orbit")
			require.NoError(t, os.MkdirAll(filepath.Join(repo, "shared", "config"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module x\n"), 0o644))
			ref := filepath.Join(root, "shared", "reference")
			if tt.beside {
				require.NoError(t, os.MkdirAll(filepath.Join(ref, "configs"), 0o755))
			}
			env := tt.env
			if env == "beside" {
				env = ref
			}
			t.Setenv(ReferenceEnv, env)
			t.Setenv("CI", tt.ci)
			t.Chdir(filepath.Join(repo, "shared", "config"))

			r := &recorder{TB: t}
			got := Reference(r, "configs")
			if tt.want != "" {
				assert.Equal(t, filepath.Join(ref, tt.want), got)
			} else {
				assert.Empty(t, got)
			}
			if tt.skipped != "" {
				assert.Contains(t, r.skipped, tt.skipped)
			} else {
				assert.Empty(t, r.skipped)
			}
			if tt.fatal != "" {
				assert.Contains(t, r.fatal, tt.fatal)
			} else {
				assert.Empty(t, r.fatal)
			}
		})
	}
}
