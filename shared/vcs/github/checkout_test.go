package github_test

import (
	"strings"
	"testing"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// TestDotComKnownHostsMatchPublishedFingerprints checks the pinned keys
// against the fingerprints GitHub publishes ("GitHub's SSH key
// fingerprints").
func TestDotComKnownHostsMatchPublishedFingerprints(t *testing.T) {
	want := map[string]string{
		"ssh-ed25519":         "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU",
		"ecdsa-sha2-nistp256": "SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM",
		"ssh-rsa":             "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
	}
	rest := []byte(github.DotComKnownHosts)
	got := map[string]string{}
	for len(strings.TrimSpace(string(rest))) > 0 {
		_, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		require.NoError(t, err)
		assert.Equal(t, []string{"github.com"}, hosts)
		got[key.Type()] = ssh.FingerprintSHA256(key)
		rest = next
	}
	assert.Equal(t, want, got)
}

func TestPrepareCheckout(t *testing.T) {
	dotcom, err := github.New(github.Config{Token: "ghs_tok"})
	require.NoError(t, err)
	ghe, err := github.New(github.Config{BaseURL: "https://ghe.acme.com", Token: "ghs_tok"})
	require.NoError(t, err)
	tests := []struct {
		name string
		d    *github.Driver
		in   runner.Checkout
		want runner.Checkout
	}{
		{"deploy key over SSH, host keys pinned", dotcom, runner.Checkout{RepoURL: "https://github.com/acme/api.git", SSHKey: "KEY"},
			runner.Checkout{RepoURL: "git@github.com:acme/api.git", SSHKey: "KEY", KnownHosts: github.DotComKnownHosts}},
		{"no key: token over HTTPS", dotcom, runner.Checkout{RepoURL: "https://github.com/acme/api.git"},
			runner.Checkout{RepoURL: "https://github.com/acme/api.git", Token: "ghs_tok"}},
		{"GHE without pinned keys: token over HTTPS", ghe, runner.Checkout{RepoURL: "https://ghe.acme.com/acme/api.git", SSHKey: "KEY"},
			runner.Checkout{RepoURL: "https://ghe.acme.com/acme/api.git", SSHKey: "KEY", Token: "ghs_tok"}},
		{"a local repository is left alone", dotcom, runner.Checkout{RepoURL: "/src/api", SSHKey: "KEY"},
			runner.Checkout{RepoURL: "/src/api", SSHKey: "KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			co := tt.in
			tt.d.PrepareCheckout(&co)
			assert.Equal(t, tt.want, co)
		})
	}
}
