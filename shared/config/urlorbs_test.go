package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeURLOrbs serves orbs by URL; a URL it lacks is refused as an
// allow-list would refuse it.
type fakeURLOrbs map[string]string

func (f fakeURLOrbs) FetchOrb(url string) ([]byte, error) {
	src, ok := f[url]
	if !ok {
		return nil, errors.New("not on the organization's URL orb allow-list")
	}
	return []byte(src), nil
}

func TestURLOrbs(t *testing.T) {
	const orb = "version: 2.1\ncommands:\n  hi:\n    steps: [{run: echo hi from the url orb}]\n"
	const url = "https://orbs.example.com/acme/hi.yml"
	cfg := func(u string) string {
		return "version: 2.1\norbs:\n  hi: " + u + "\njobs:\n  b:\n    docker: [{image: a}]\n    steps: [hi/hi]\nworkflows:\n  w:\n    jobs: [b]\n"
	}
	t.Run("fetched and expanded", func(t *testing.T) {
		out, err := Process([]byte(cfg(url)), Options{Branch: "main", URLOrbs: fakeURLOrbs{url: orb}})
		require.NoError(t, err)
		assert.Contains(t, string(out), "echo hi from the url orb")
	})
	t.Run("refused by the fetcher, at the orb's line", func(t *testing.T) {
		_, err := Compile([]byte(cfg("https://elsewhere.example/x.yml")), Options{Branch: "main", URLOrbs: fakeURLOrbs{}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "config.yml:3:7: orbs.hi: orb https://elsewhere.example/x.yml: not on the organization's URL orb allow-list")
	})
	t.Run("not enabled", func(t *testing.T) {
		_, err := Compile([]byte(cfg(url)), Options{Branch: "main"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "URL orbs are not enabled here")
	})
	t.Run("errors in the orb name its URL", func(t *testing.T) {
		_, err := Compile([]byte(cfg(url)), Options{Branch: "main", URLOrbs: fakeURLOrbs{url: "version: 2.1\ncommands:\n  hi:\n    stepz: []\n"}})
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), url+":4:5"), err.Error())
	})
}
