package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNomadAddrFor: `orbit admin nodes` finds the Nomad that `orbit up`
// uses, also when up was given --nomad-addr or --data.
func TestNomadAddrFor(t *testing.T) {
	withUp := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(withUp, nomadAddrFile), []byte("http://10.1.2.3:4646\n"), 0o600))
	withDevAgent := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(withDevAgent, "nomad"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(withDevAgent, "nomad", "addr"), []byte("http://127.0.0.1:5555"), 0o600))
	tests := []struct {
		name, flag, env, dataDir, want string
	}{
		{name: "the flag first", flag: "http://flag:4646", env: "http://env:4646", dataDir: withUp, want: "http://flag:4646"},
		{name: "then NOMAD_ADDR", env: "http://env:4646", dataDir: withUp, want: "http://env:4646"},
		{name: "then what orbit up on the data dir uses", dataDir: withUp, want: "http://10.1.2.3:4646"},
		{name: "then the dev agent left there", dataDir: withDevAgent, want: "http://127.0.0.1:5555"},
		{name: "else Nomad's default", dataDir: t.TempDir(), want: "http://127.0.0.1:4646"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOMAD_ADDR", tt.env)
			assert.Equal(t, tt.want, nomadAddrFor(tt.flag, tt.dataDir))
		})
	}
}
