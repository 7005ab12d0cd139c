package api

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	ansihtml "github.com/orbit-ci/orbit/shared/ansi"
)

// TestANSIStylesheetIsCurrent: static/31-job-ansi.css is ansi.CSS(), the
// colours of the classes the renderer writes. Regenerate it with
// ORBIT_WRITE_ANSI_CSS=1 go test -run TestANSIStylesheetIsCurrent ./shared/api.
func TestANSIStylesheetIsCurrent(t *testing.T) {
	const file = "static/31-job-ansi.css"
	if os.Getenv("ORBIT_WRITE_ANSI_CSS") != "" {
		require.NoError(t, os.WriteFile(file, []byte(ansihtml.CSS()), 0o644))
	}
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, ansihtml.CSS(), string(got), "%s is stale: regenerate it (see this test's comment)", file)
}
