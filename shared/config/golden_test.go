package config

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.plan.json from the current output")

// TestGoldenPlans compiles each testdata/*.yml for branch main and compares
// the JSON Plan with testdata/<name>.plan.json (go test -update rewrites
// them; review the diff). The JSON also checks the Plan round-trips.
func TestGoldenPlans(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			require.NoError(t, err)
			plan, err := Compile(src, Options{Filename: file, Branch: "main"})
			require.NoError(t, err)
			got, err := json.MarshalIndent(plan, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')

			golden := strings.TrimSuffix(file, ".yml") + ".plan.json"
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create it")
			assert.Equal(t, string(want), string(got))

			var back Plan
			require.NoError(t, json.Unmarshal(got, &back))
			assert.Equal(t, plan, &back)
		})
	}
}
