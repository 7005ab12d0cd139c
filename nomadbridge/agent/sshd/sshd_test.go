package sshd_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/nomadbridge/agent/sshd"
	"github.com/orbit-ci/orbit/shared/testenv"
)

func dial(addr string, key ssh.Signer) (*ssh.Client, error) {
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "dev", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
}

func TestOnlyTheAuthorizedKeyRunsCommands(t *testing.T) {
	right, wrong := agenttest.Signer(t), agenttest.Signer(t)
	dir := filepath.Join(t.TempDir(), "project")
	require.NoError(t, mkdir(dir))
	srv, err := sshd.Listen(sshd.Config{Addr: "127.0.0.1:0", AuthorizedKeys: []ssh.PublicKey{right.PublicKey()},
		Dir: dir, Home: t.TempDir(), Env: []string{"PATH=/usr/bin:/bin", "JOB_VAR=from-the-job"}})
	require.NoError(t, err)
	defer srv.Close()
	addr := srv.Addr().String()

	_, err = dial(addr, wrong)
	require.Error(t, err, "another key gets in")
	assert.Contains(t, err.Error(), "unable to authenticate")
	open, last := srv.State()
	assert.Zero(t, open)
	assert.True(t, last.IsZero(), "a refused key is not a session")

	c, err := dial(addr, right)
	require.NoError(t, err)
	run := func(cmd string) (string, error) {
		s, err := c.NewSession()
		require.NoError(t, err)
		defer s.Close()
		out, err := s.CombinedOutput(cmd)
		return string(out), err
	}
	out, err := run("pwd; echo $JOB_VAR")
	require.NoError(t, err)
	assert.Equal(t, dir+"\nfrom-the-job\n", out)
	_, err = run("exit 3")
	var exit *ssh.ExitError
	require.True(t, errors.As(err, &exit), "%v", err)
	assert.Equal(t, 3, exit.ExitStatus())

	// An interactive shell without a PTY reads commands from the channel.
	s, err := c.NewSession()
	require.NoError(t, err)
	s.Stdin = strings.NewReader("echo interactive\n")
	var b strings.Builder
	s.Stdout = &b
	require.NoError(t, s.Shell())
	require.NoError(t, s.Wait())
	assert.Equal(t, "interactive\n", b.String())

	open, _ = srv.State()
	assert.Equal(t, 1, open)
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { n, last := srv.State(); return n == 0 && !last.IsZero() }, 10*time.Second, 5*time.Millisecond)
}

func TestCloseEndsRunningSessions(t *testing.T) {
	key := agenttest.Signer(t)
	srv, err := sshd.Listen(sshd.Config{Addr: "127.0.0.1:0", AuthorizedKeys: []ssh.PublicKey{key.PublicKey()},
		Dir: t.TempDir(), Env: []string{"PATH=/usr/bin:/bin"}})
	require.NoError(t, err)
	c, err := dial(srv.Addr().String(), key)
	require.NoError(t, err)
	defer c.Close()
	s, err := c.NewSession()
	require.NoError(t, err)
	out := &testenv.Buffer{}
	s.Stdout = out
	require.NoError(t, s.Start("echo started; sleep 600"))
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "started") }, 10*time.Second, 5*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	require.NoError(t, srv.Close())
	select {
	case err := <-done:
		assert.Error(t, err, "the session ended without an exit status")
	case <-time.After(10 * time.Second):
		t.Fatal("the session outlived the server")
	}
	_, err = dial(srv.Addr().String(), key)
	assert.Error(t, err, "a closed server accepts no connection")
}

func TestNoKeyNoServer(t *testing.T) {
	_, err := sshd.Listen(sshd.Config{Addr: "127.0.0.1:0"})
	assert.ErrorContains(t, err, "no authorized key")
}

func mkdir(p string) error { return os.MkdirAll(p, 0o755) }
