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

var update = flag.Bool("update", false, "rewrite testdata/*.plan.json and testdata/*.processed.yml from the current output")

// goldenOptions are the pipeline every golden file is compiled for: a push
// to main of pipeline 7, with testdata/orbs as the orb registry.
func goldenOptions(file string) Options {
	return Options{
		Filename: file, Branch: "main", Revision: "0123456789abcdef0123456789abcdef01234567",
		PipelineValues: PipelineValues{ID: "6e3b5a36-0000-4000-8000-000000000007", Number: 7,
			ProjectSlug: "gh/acme/shop", ProjectType: "github", TriggerSource: "webhook"},
		OrbDir: filepath.Join("testdata", "orbs"),
	}
}

// TestGoldenPlans compiles each testdata/*.yml and compares the JSON Plan
// with testdata/<name>.plan.json (go test -update rewrites them; review the
// diff). The JSON also checks the Plan round-trips.
func TestGoldenPlans(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		if strings.HasSuffix(file, ".processed.yml") {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			require.NoError(t, err)
			plan, err := Compile(src, goldenOptions(file))
			require.NoError(t, err)
			got, err := json.MarshalIndent(plan, "", "  ")
			require.NoError(t, err)
			compareGolden(t, strings.TrimSuffix(file, ".yml")+".plan.json", append(got, '\n'))

			var back Plan
			require.NoError(t, json.Unmarshal(got, &back))
			assert.Equal(t, plan, &back)
		})
	}
}

// TestGoldenProcessed processes each testdata/*.yml and compares the result
// with testdata/<name>.processed.yml, each checked by hand against
// CircleCI's documented behaviour. The processed config must compile, for
// the same pipeline, to the same plan as the original.
func TestGoldenProcessed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	require.NoError(t, err)
	for _, file := range files {
		if strings.HasSuffix(file, ".processed.yml") {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			require.NoError(t, err)
			opts := goldenOptions(file)
			got, err := Process(src, opts)
			require.NoError(t, err)
			golden := strings.TrimSuffix(file, ".yml") + ".processed.yml"
			compareGolden(t, golden, got)

			want, err := Compile(src, opts)
			require.NoError(t, err)
			opts.Filename = golden
			again, err := Compile(got, opts)
			require.NoError(t, err)
			// Only the definitions' names differ: the processed config
			// names each job after its invocation.
			assert.Equal(t, withoutJobNames(want.Workflows), withoutJobNames(again.Workflows))
			assert.Equal(t, want.Setup, again.Setup)
		})
	}
}

func compareGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -update to create it")
	assert.Equal(t, string(want), string(got))
}

func withoutJobNames(wfs []Workflow) []Workflow {
	out := make([]Workflow, len(wfs))
	for i, w := range wfs {
		out[i] = Workflow{Name: w.Name, Jobs: make([]JobInvocation, len(w.Jobs))}
		for j, inv := range w.Jobs {
			inv.JobName = ""
			out[i].Jobs[j] = inv
		}
	}
	return out
}
