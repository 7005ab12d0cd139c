package agent_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/shared/runner"
)

// sshKey returns an OpenSSH private key and its authorized_keys line.
func sshKey(t *testing.T) (private, authorized string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	sp, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(block)), string(ssh.MarshalAuthorizedKey(sp))
}

// TestCheckoutOverSSHWithTheCheckoutKey clones through a real SSH server
// that accepts only the project's checkout key, with the real ssh client.
func TestCheckoutOverSSHWithTheCheckoutKey(t *testing.T) {
	repo, revs := gitRepo(t)
	key, pub := sshKey(t)
	srv, err := agenttest.NewGitSSH(pub)
	require.NoError(t, err)
	t.Cleanup(srv.Close)

	h := newHarness(t, runner.TaskSpec{
		Checkout: runner.Checkout{RepoURL: srv.URL(repo), Revision: revs[0], Branch: "main", SSHKey: key},
		Steps: []runner.Step{
			{Type: runner.StepCheckout, Name: "Checkout code"},
			run("inspect", "git rev-parse HEAD; cat file.txt; git remote get-url origin"),
			run("fetch again", "git fetch origin && echo fetched"),
		},
	})
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(0))
	lines := strings.Split(strings.TrimSpace(task.Output(1)), "\n")
	require.Len(t, lines, 3, task.Output(1))
	assert.Equal(t, revs[0], lines[0])
	assert.Equal(t, "version 1", lines[1])
	assert.Equal(t, srv.URL(repo), lines[2])
	assert.Contains(t, task.Output(2), "fetched", "later steps reach the host with the same key")
	assert.GreaterOrEqual(t, srv.Accepted(), 2)
	assert.NotContains(t, task.Output(0), "PRIVATE KEY")
}

// TestBloblessCheckout: method blobless makes a partial clone (over SSH,
// where the server honours filters) that still checks out the revision.
func TestBloblessCheckout(t *testing.T) {
	repo, revs := gitRepo(t)
	// upload-pack serves filters only when the repository allows them.
	require.NoError(t, exec.Command("git", "-C", repo, "config", "uploadpack.allowFilter", "true").Run())
	key, pub := sshKey(t)
	srv, err := agenttest.NewGitSSH(pub)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	h := newHarness(t, runner.TaskSpec{
		Checkout: runner.Checkout{RepoURL: srv.URL(repo), Revision: revs[1], Branch: "main", SSHKey: key},
		Steps: []runner.Step{
			{Type: runner.StepCheckout, Method: "blobless"},
			run("inspect", "cat file.txt; git config remote.origin.partialclonefilter"),
		},
	})
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(0))
	assert.Equal(t, "version 2\nblob:none\n", task.Output(1))
}

// TestCheckoutOverSSHWithoutTheKeyFails: the server refuses another key,
// and the failure is the checkout step's, with git's message.
func TestCheckoutOverSSHWithoutTheKeyFails(t *testing.T) {
	repo, revs := gitRepo(t)
	_, pub := sshKey(t)
	other, _ := sshKey(t)
	srv, err := agenttest.NewGitSSH(pub)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	h := newHarness(t, runner.TaskSpec{
		Checkout: runner.Checkout{RepoURL: srv.URL(repo), Revision: revs[0], SSHKey: other},
		Steps:    []runner.Step{{Type: runner.StepCheckout}},
	})
	out, task := h.run(t)
	assert.Equal(t, agent.OutcomeFailed, out)
	assert.Equal(t, runner.StatusFailed, task.Last(0).Status)
	assert.Contains(t, task.Output(0), "Permission denied")
	assert.Zero(t, srv.Accepted())
}

// TestAddSSHKeysReachesTheHost: a key installed by add_ssh_keys (named by
// its MD5 fingerprint) is what a later step's git uses for its host.
func TestAddSSHKeysReachesTheHost(t *testing.T) {
	repo, _ := gitRepo(t)
	key, pub := sshKey(t)
	srv, err := agenttest.NewGitSSH(pub)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	require.NoError(t, err)
	md5 := strings.TrimPrefix(ssh.FingerprintLegacyMD5(pk), "MD5:")
	h := newHarness(t, runner.TaskSpec{
		SSHKeys: []runner.SSHKey{{Fingerprint: ssh.FingerprintSHA256(pk), MD5: md5, Hostname: "127.0.0.1", PrivateKey: key}},
		Steps: []runner.Step{
			run("before", "git ls-remote "+srv.URL(repo)+" >/dev/null 2>&1 && echo reached || echo refused"),
			{Type: runner.StepAddSSHKeys, Fingerprints: []string{md5}},
			run("after", "git ls-remote "+srv.URL(repo)+" refs/heads/main | cut -c1-7"),
		},
	})
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(2))
	assert.Equal(t, "refused\n", task.Output(0))
	assert.Contains(t, task.Output(1), "Installed key "+ssh.FingerprintSHA256(pk)+" for 127.0.0.1")
	assert.Len(t, strings.TrimSpace(task.Output(2)), 7)
}
