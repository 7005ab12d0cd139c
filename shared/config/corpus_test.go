package config

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv"
)

// corpusRow is one line of EXPECTED.tsv.
type corpusRow struct {
	file, parses string
	workflows    []string
	// jobs are each workflow's entries in order: a job invocation's name,
	// with " *matrix*" when the entry is a matrix (its job's name then) and
	// " *orb*" when the job comes from an orb.
	jobs map[string][]string
}

func readCorpus(t testing.TB) (string, []corpusRow) {
	// The corpus is the real-world configs of this project's CI material
	// (testenv.Reference: not run, saying why, on a clone without it).
	dir := testenv.Reference(t, "configs")
	f, err := os.Open(filepath.Join(dir, "EXPECTED.tsv"))
	require.NoError(t, err, "the reference corpus lacks its EXPECTED.tsv")
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	rows, err := r.ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), 1, "EXPECTED.tsv has no rows")
	require.Equal(t, []string{"file", "parses", "workflows", "jobs_by_workflow"}, rows[0][:4])
	var out []corpusRow
	for _, row := range rows[1:] {
		c := corpusRow{file: row[0], parses: row[1], workflows: strings.Split(row[2], "|")}
		require.NoError(t, json.Unmarshal([]byte(row[3]), &c.jobs), row[0])
		out = append(out, c)
	}
	return dir, out
}

// orbRefLine finds registry orb imports (`name: namespace/orb@version`).
var orbRefLine = regexp.MustCompile(`(?m)^\s+[\w-]+:\s+([a-z0-9-]+/[a-z0-9_-]+@[\w.:-]+)\s*$`)

// TestReferenceCorpus checks Compile against the real configs of public
// projects, with an empty orb registry and with testdata/orbs (stand-ins
// for a few orbs the corpus imports, written for these tests). Every file
// whose orbs are all in the registry compiles with exactly EXPECTED.tsv's
// workflows (all of them, before when/unless and filters decide) and job
// invocations in order, matrices expanded; its processed config compiles
// to the same plan. Every file that imports an orb the registry lacks
// fails, naming each missing orb and saying how to import it, and nothing
// else.
func TestReferenceCorpus(t *testing.T) {
	dir, rows := readCorpus(t)
	registries := map[string]string{"empty registry": t.TempDir(), "testdata registry": filepath.Join("testdata", "orbs")}
	for regName, orbDir := range registries {
		t.Run(regName, func(t *testing.T) {
			compiled, refused, warned, warnings := 0, 0, 0, 0
			for _, row := range rows {
				t.Run(row.file, func(t *testing.T) {
					ok, n := checkCorpusFile(t, dir, orbDir, row)
					if ok {
						compiled++
					} else {
						refused++
					}
					if n > 0 {
						warned++
						warnings += n
					}
				})
			}
			t.Logf("%s: %d reference configs compile (%d of them with %d warnings in all: keys CircleCI tolerates), %d are refused for their missing orbs, of %d",
				regName, compiled, warned, warnings, refused, len(rows))
		})
	}
}

// checkCorpusFile checks one file; it reports whether it compiled, and
// with how many warnings.
func checkCorpusFile(t *testing.T, dir, orbDir string, row corpusRow) (bool, int) {
	src, err := os.ReadFile(filepath.Join(dir, row.file))
	require.NoError(t, err)
	var missing []string
	for _, m := range orbRefLine.FindAllStringSubmatch(string(src), -1) {
		ref, err := ParseOrbRef(m[1])
		require.NoError(t, err)
		if _, _, err := DirRegistry(orbDir).Orb(ref); err != nil {
			missing = append(missing, m[1])
		}
	}
	opts := Options{Filename: row.file, Branch: "main", OrbDir: orbDir}
	c := newCompiler(opts)
	ok := c.load(src)
	if len(missing) > 0 {
		require.False(t, ok, "imports registry orbs that are not there")
		var list ErrorList
		require.ErrorAs(t, c.errors(), &list)
		for _, ref := range missing {
			assert.Contains(t, list.Error(), "orb "+ref+" is not in the local orb registry", "names the orb")
			assert.Contains(t, list.Error(), "orbit orb import "+ref+" <file>", "says how to import it")
		}
		for _, e := range list {
			assert.Contains(t, e.Msg, "is not in the local orb registry", "only the missing orbs are reported")
		}
		return false, 0
	}
	require.True(t, ok, "compile: %v", c.errors())

	var names []string
	for _, w := range c.workflows {
		names = append(names, w.name)
	}
	slices.Sort(names)
	assert.Equal(t, row.workflows, names, "workflows")
	for _, w := range c.workflows {
		assert.Equal(t, row.jobs[w.name], corpusEntries(w), "jobs of workflow %s", w.name)
	}
	// The plan for a push to main encodes, and the processed config
	// compiles to the same plan.
	plan := c.plan()
	_, err = json.Marshal(plan)
	require.NoError(t, err)
	out, err := Process(src, opts)
	require.NoError(t, err)
	again, err := Compile(out, Options{Filename: "processed.yml", Branch: "main"})
	require.NoError(t, err, "processed config:\n%s", out)
	assert.Equal(t, planNames(plan), planNames(again))
	// What CircleCI tolerates is a warning, never an error, and the
	// processed config keeps it.
	warnings := c.warnings()
	for _, w := range warnings {
		t.Logf("%s", w.Warning())
	}
	assert.Len(t, again.Warnings, len(warnings), "the processed config's warnings")
	return true, len(warnings)
}

// corpusEntries lists a workflow's entries as EXPECTED.tsv writes them,
// checking that each matrix entry expanded into jobs named from its job.
func corpusEntries(w *workflowDef) []string {
	var out []string
	last := -1
	for _, inv := range w.jobs {
		if inv.source == last {
			continue // another job of the same matrix
		}
		last = inv.source
		switch {
		case inv.matrix != nil:
			out = append(out, inv.jobName+" *matrix*")
		case strings.Contains(inv.jobName, "/"):
			out = append(out, inv.jobName+" *orb*")
		default:
			out = append(out, inv.name)
		}
	}
	return out
}

// planNames is "workflow: job job …" for each workflow of a plan.
func planNames(p *Plan) []string { return names(p) }

// TestReferenceCorpusMatrixNames pins the generated names of matrix jobs of
// the corpus, as CircleCI forms them.
func TestReferenceCorpusMatrixNames(t *testing.T) {
	dir, _ := readCorpus(t)
	tests := []struct {
		file, workflow string
		source         int
		want           []string
	}{
		{"CircleCI-Public__circleci-cli.yml", "ci", 1, []string{"test-linux", "test-macos", "test-windows"}},
		{"astropy__astropy.yml", "figure-tests", 0, []string{"py311-test-image-mpl380-cov", "py311-test-image-mpldev-cov"}},
		{"astropy__astropy.yml", "figure-tests", 1, []string{"baseline-py311-test-image-mpl380-cov", "baseline-py311-test-image-mpldev-cov"}},
		// Parameters in name order (browser, job, jobsize, script), the last varying fastest.
		{"ethereum__remix-project.yml", "run_flaky_tests", 1, []string{"remix-ide-browser-chrome-nogroup-1-flaky.sh", "remix-ide-browser-firefox-nogroup-1-flaky.sh"}},
		// exclude drops parallelism 1.
		{"ethereum__remix-project.yml", "build_all", 4, []string{"test-plugin-plugin_api"}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.workflow, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, tt.file))
			require.NoError(t, err)
			c := newCompiler(Options{Filename: tt.file, Branch: "main", OrbDir: t.TempDir()})
			require.True(t, c.load(src), "%v", c.errors())
			var got []string
			for _, w := range c.workflows {
				if w.name != tt.workflow {
					continue
				}
				for _, inv := range w.jobs {
					if inv.source == tt.source {
						got = append(got, inv.name)
					}
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
