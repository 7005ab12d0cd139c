package config

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referenceConfigsDir is the real-world corpus beside the project: env
// ORBIT_REFERENCE_CONFIGS, else ../shared/reference/configs from the repo
// root (this package is three levels below the corpus's parent).
func referenceConfigsDir(t *testing.T) string {
	if dir := os.Getenv("ORBIT_REFERENCE_CONFIGS"); dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	return filepath.Join(wd, "..", "..", "..", "shared", "reference", "configs")
}

// TestReferenceCorpus checks the parse layer against real configs: every
// file EXPECTED.tsv marks as parsing (anchors, redefined anchors, merge
// keys) must parse without errors or panics. Whether Compile accepts the
// file is only logged: most of the corpus needs the 2.1 features (orbs,
// parameters, matrix, when) the next change brings, and that change turns
// this into a full check of EXPECTED.tsv.
func TestReferenceCorpus(t *testing.T) {
	dir := referenceConfigsDir(t)
	f, err := os.Open(filepath.Join(dir, "EXPECTED.tsv"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("reference corpus not found at %s (set ORBIT_REFERENCE_CONFIGS)", dir)
	}
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), 1, "EXPECTED.tsv has no rows")
	header := rows[0]
	require.Equal(t, []string{"file", "parses"}, header[:2])

	compiled := 0
	for _, row := range rows[1:] {
		name, parses := row[0], row[1]
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			if strings.HasPrefix(parses, "yes") {
				e := &errs{file: name}
				root := parseDocument(src, e)
				assert.Empty(t, e.list, "YAML layer errors")
				assert.NotNil(t, root)
			}
			plan, err := Compile(src, Options{Filename: name, Branch: "main"})
			if err != nil {
				var list ErrorList
				require.ErrorAs(t, err, &list)
				t.Logf("compile: not yet (%d problems); first: %v", len(list), list[0])
				return
			}
			compiled++
			t.Logf("compile: ok, %d workflows", len(plan.Workflows))
		})
	}
	t.Logf("%d of %d reference configs compile today", compiled, len(rows)-1)
}
