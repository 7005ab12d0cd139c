package pathglob_test

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/pathglob"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*.go", "main.go", true},
		{"*.go", "cmd/main.go", false},
		{"**/*.go", "main.go", true},
		{"**/*.go", "a/b/c/main.go", true},
		{"src/**/test_*.py", "src/test_a.py", true},
		{"src/**/test_*.py", "src/x/y/test_a.py", true},
		{"src/**/test_*.py", "lib/test_a.py", false},
		{"build/**", "build/a/b", true},
		{"build", "build", true},
		{"./build/", "build", true},
		{"b?ild", "build", true},
		{"[a-c]*", "build", true},
		{"**", "anything/at/all", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.name, func(t *testing.T) {
			got, err := pathglob.Match(tt.pattern, tt.name)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := pathglob.Match("[", "x")
	assert.ErrorIs(t, err, pathglob.ErrBadPattern)
}

func TestExpand(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string
		err     bool
	}{
		{"a.go", []string{"a.go"}, false},
		{"*.{js,ts}", []string{"*.js", "*.ts"}, false},
		{"{a,b{c,d}}/x", []string{"a/x", "bc/x", "bd/x"}, false},
		{"{a,b", nil, true},
		{"a}", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			got, err := pathglob.Expand(tt.pattern)
			if tt.err {
				assert.ErrorIs(t, err, pathglob.ErrBadPattern)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestGlob(t *testing.T) {
	fsys := fstest.MapFS{
		"spec/a_spec.rb":         {},
		"spec/models/b_spec.rb":  {},
		"spec/support/helper.rb": {},
		"lib/c.rb":               {},
		"web/x.test.js":          {},
		"web/deep/y.test.ts":     {},
		"node_modules/z.test.js": {},
	}
	tests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"doublestar", []string{"spec/**/*_spec.rb"}, []string{"spec/a_spec.rb", "spec/models/b_spec.rb"}},
		{"braces", []string{"web/**/*.test.{js,ts}"}, []string{"web/deep/y.test.ts", "web/x.test.js"}},
		{"several and duplicates", []string{"lib/*.rb", "lib/c.rb"}, []string{"lib/c.rb"}},
		{"directory", []string{"spec/models"}, []string{"spec/models"}},
		{"nothing", []string{"*.py"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pathglob.Glob(fsys, tt.patterns...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
