package config

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportsOnlyTheDomain pins the layering: the compiler is a pure
// function of the config, so it imports (transitively, tests aside) no
// transport, AWS, Lambda or Nomad package; the step type it shares with
// the runner API lives in shared/plan.
func TestImportsOnlyTheDomain(t *testing.T) {
	const module = "github.com/orbit-ci/orbit/"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	seen := map[string]bool{}
	var walk func(pkg string)
	walk = func(pkg string) {
		if seen[pkg] {
			return
		}
		seen[pkg] = true
		p, err := build.ImportDir(filepath.Join(root, strings.TrimPrefix(pkg, module)), 0)
		require.NoError(t, err, pkg)
		for _, imp := range p.Imports {
			assert.NotContains(t, imp, "aws-sdk", "%s imports %s", pkg, imp)
			assert.NotContains(t, imp, "hashicorp/nomad", "%s imports %s", pkg, imp)
			assert.NotContains(t, imp, "aws-lambda", "%s imports %s", pkg, imp)
			if strings.HasPrefix(imp, module) {
				walk(imp)
			}
		}
	}
	walk(module + "shared/config")
	delete(seen, module+"shared/config")
	for pkg := range seen {
		assert.Contains(t, []string{module + "shared/plan"}, pkg, "shared/config imports %s", pkg)
	}
}
