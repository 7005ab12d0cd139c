package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseOrbRef(t *testing.T) {
	tests := []struct {
		in      string
		want    OrbRef
		wantErr string
	}{
		{in: "circleci/node@5.0.2", want: OrbRef{"circleci", "node", "5.0.2"}},
		{in: "circleci/node@5", want: OrbRef{"circleci", "node", "5"}},
		{in: "apollo/circleci-secops-orb@2.0", want: OrbRef{"apollo", "circleci-secops-orb", "2.0"}},
		{in: "acme/tools@volatile", want: OrbRef{"acme", "tools", "volatile"}},
		{in: "acme/tools@dev:alpha", want: OrbRef{"acme", "tools", "dev:alpha"}},
		{in: "node@5", wantErr: "is not namespace/name@version"},
		{in: "circleci/node", wantErr: "is not namespace/name@version"},
		{in: "circleci/node@latest", wantErr: `version "latest" is not x.y.z`},
		{in: "../../x@1.0.0", wantErr: "is not namespace/name@version"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOrbRef(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.in, got.String())
		})
	}
}

func TestDirRegistry(t *testing.T) {
	reg := DirRegistry(t.TempDir())
	src := func(msg string) []byte {
		return []byte("version: 2.1\ncommands:\n  hi: {steps: [{run: echo " + msg + "}]}\n")
	}
	for _, v := range []string{"1.2.3", "1.10.0", "1.9.9", "2.0.0", "dev:x"} {
		ref, err := ParseOrbRef("acme/tools@" + v)
		require.NoError(t, err)
		path, err := reg.Import(ref, src(v))
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(string(reg), "acme", "tools@"+v+".yml"), path)
	}
	tests := []struct{ version, want string }{
		{"1.2.3", "1.2.3"}, {"1", "1.10.0"}, {"1.9", "1.9.9"}, {"volatile", "2.0.0"}, {"dev:x", "dev:x"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			got, name, err := reg.Orb(OrbRef{"acme", "tools", tt.version})
			require.NoError(t, err)
			assert.Equal(t, string(src(tt.want)), string(got))
			assert.Equal(t, filepath.Join(string(reg), "acme", "tools@"+tt.want+".yml"), name)
		})
	}
	for _, missing := range []OrbRef{{"acme", "tools", "3"}, {"acme", "tools", "1.2.4"}, {"acme", "other", "1.0.0"}, {"nobody", "x", "volatile"}} {
		_, _, err := reg.Orb(missing)
		assert.True(t, errors.Is(err, ErrOrbNotFound), "%s: %v", missing, err)
	}

	// Import refuses ranges and what is not an orb, and writes nothing then.
	_, err := reg.Import(OrbRef{"acme", "tools", "1"}, src("x"))
	require.ErrorContains(t, err, "give an exact version")
	_, err = reg.Import(OrbRef{"acme", "bad", "1.0.0"}, []byte("version: 2.1\njobs:\n  j: [not, a, job]\ncolour: blue\n"))
	require.ErrorContains(t, err, "acme/bad@1.0.0:3:6: jobs.j: must be a mapping, not a list")
	require.ErrorContains(t, err, `acme/bad@1.0.0:4:1: colour: unknown key "colour"`)
	_, err = os.Stat(filepath.Join(string(reg), "acme", "bad@1.0.0.yml"))
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestOrbDirOptions(t *testing.T) {
	dir := t.TempDir()
	ref, _ := ParseOrbRef("acme/tools@1.0.0")
	_, err := DirRegistry(dir).Import(ref, []byte("version: 2.1\ncommands:\n  hi: {steps: [{run: hi}]}\n"))
	require.NoError(t, err)
	const cfg = "version: 2.1\norbs: {t: acme/tools@1.0.0}\njobs: {j: {docker: [{image: a}], steps: [t/hi]}}\nworkflows: {w: {jobs: [j]}}\n"

	_, err = Compile([]byte(cfg), Options{OrbDir: dir})
	require.NoError(t, err)

	t.Setenv("ORBIT_ORB_DIR", dir)
	assert.Equal(t, dir, DefaultOrbDir())
	_, err = Compile([]byte(cfg), Options{})
	require.NoError(t, err)

	t.Setenv("ORBIT_ORB_DIR", "")
	t.Setenv("ORBIT_DATA", "/data")
	assert.Equal(t, filepath.Join("/data", "orbs"), DefaultOrbDir())
	t.Setenv("ORBIT_DATA", "")
	t.Setenv("HOME", "/home/u")
	assert.Equal(t, filepath.Join("/home/u", ".orbit", "orbs"), DefaultOrbDir())
	_, err = Compile([]byte(cfg), Options{})
	require.ErrorContains(t, err, "orbs.t: orb acme/tools@1.0.0 is not in the local orb registry (/home/u/.orbit/orbs): import its source with `orbit orb import acme/tools@1.0.0 <file>`")
}
