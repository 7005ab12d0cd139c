package cachekey_test

import (
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/cachekey"
)

func TestRender(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), []byte("deps\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "home"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "home", "lock"), []byte("x"), 0o644))
	sum := sha256.Sum256([]byte("deps\n"))
	want := base64.StdEncoding.EncodeToString(sum[:])
	c := cachekey.Context{
		Branch: "main", Revision: "abc123", BuildNum: 42,
		Environment: map[string]string{"GOVERSION": "1.26"},
		Dir:         dir, Home: filepath.Join(dir, "home"),
		Now: func() time.Time { return time.Unix(1700000000, 0) },
	}
	tests := []struct {
		name, tmpl, want, err string
	}{
		{name: "literal", tmpl: "v1-deps", want: "v1-deps"},
		{name: "fields", tmpl: "v1-{{ .Branch }}-{{ .Revision }}-{{ .BuildNum }}", want: "v1-main-abc123-42"},
		{name: "environment", tmpl: "go-{{ .Environment.GOVERSION }}-{{ .Environment.UNSET }}", want: "go-1.26-"},
		{name: "checksum", tmpl: `deps-{{ checksum "go.sum" }}`, want: "deps-" + want},
		{name: "checksum home", tmpl: `{{ checksum "~/lock" }}`, want: func() string {
			s := sha256.Sum256([]byte("x"))
			return base64.StdEncoding.EncodeToString(s[:])
		}()},
		{name: "epoch", tmpl: "t-{{ epoch }}", want: "t-1700000000"},
		{name: "arch", tmpl: "{{ arch }}", want: "arch1-" + runtime.GOOS + "-" + runtime.GOARCH},
		{name: "missing file", tmpl: `{{ checksum "nope.lock" }}`, err: "nope.lock"},
		{name: "syntax", tmpl: "{{ .Branch ", err: "unclosed action"},
		{name: "empty", tmpl: "{{ .Environment.UNSET }}", err: "empty"},
		{name: "too long", tmpl: strings.Repeat("k", 901), err: "longer than 900"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cachekey.Render(tt.tmpl, c)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEscapeKeepsPrefixes(t *testing.T) {
	tests := []struct {
		name, key string
	}{
		{"plain", "v1-deps_main"},
		{"dots", "v1..2/../x"},
		{"base64", "deps-q83vEjRWeJA+/Y8=="},
		{"unicode", "clé-ü"},
		{"percent", "100%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cachekey.Escape(tt.key)
			assert.NotContains(t, e, "..")
			assert.NotContains(t, e, "/")
			for i := range len(tt.key) {
				assert.True(t, strings.HasPrefix(e, cachekey.Escape(tt.key[:i])), "prefix %q", tt.key[:i])
			}
			back, err := cachekey.Unescape(e)
			require.NoError(t, err)
			assert.Equal(t, tt.key, back)
		})
	}
	_, err := cachekey.Unescape("abc%4")
	assert.ErrorIs(t, err, cachekey.ErrInvalidKey)
}
