package nomadbridge_test

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
)

var sshLineRE = regexp.MustCompile(`\$ ssh -p (\d+) (\S+)@(\S+)`)

// TestLiveRerunWithSSH: a job rerun with SSH runs its steps, then stays up
// with an SSH server on a port Nomad allocated from 64535–65535, printed
// in the job's output. The user's key gets a shell in the job's working
// directory with the job's environment; any other key is refused; the job
// ends once no session was open for the idle time, with its steps' outcome.
// Neither the task token nor a secret value appears in the output.
func TestLiveRerunWithSSH(t *testing.T) {
	l := newLive(t)
	l.start(t, time.Second)
	user, stranger := agenttest.Signer(t), agenttest.Signer(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	m := message("ssh-"+hex.EncodeToString(rnd[:]), func(m *runqueue.Message) { m.ProjectSlug = "gh/orbit-test/ssh" })
	const secret = "s3cr3t-value-never-printed"
	spec := runner.WithSSH(runner.TaskSpec{
		Environment: []runner.EnvVar{{Name: "ORBIT_SSH_TEST", Value: "from-the-job"}, {Name: "DEPLOY_TOKEN", Value: secret}},
		Secrets:     []string{secret},
		Steps:       []runner.Step{run("build", "mkdir -p ~/project && cd ~/project && echo built > out.txt && echo WD=$(pwd -P)")},
	}, runner.SSHAccess{AuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(user.PublicKey()))}, IdleSeconds: 2, MaxSeconds: 120})
	m = l.taskSpec(t, m, spec)

	var line []string
	require.Eventually(t, func() bool {
		line = sshLineRE.FindStringSubmatch(l.runner.Task(m.Token).Output(0))
		return line != nil
	}, 90*time.Second, 20*time.Millisecond, "no ssh line in the output of Enable SSH")
	port, err := strconv.Atoi(line[1])
	require.NoError(t, err)
	assert.GreaterOrEqual(t, port, 64535, "the port comes from the seed's range")
	assert.LessOrEqual(t, port, 65535)
	addr := net.JoinHostPort(line[3], line[1])
	var wd string
	require.Eventually(t, func() bool {
		_, after, ok := strings.Cut(l.runner.Task(m.Token).Output(1), "WD=")
		wd = strings.TrimSpace(after)
		return ok && wd != ""
	}, 90*time.Second, 20*time.Millisecond, "the build step never printed its directory")

	c := sshIn(t, addr, line[2], user, stranger)
	s, err := c.NewSession()
	require.NoError(t, err)
	out, err := s.CombinedOutput("pwd -P; cat out.txt; echo $ORBIT_SSH_TEST")
	require.NoError(t, err)
	assert.Equal(t, wd+"\nbuilt\nfrom-the-job\n", string(out))

	// The job waits while a session is open, longer than the idle time.
	time.Sleep(3 * time.Second) // the idle time is 2 s: only an open session keeps the job up
	assert.Nil(t, l.runner.Task(m.Token).Result, "the job ended while a session was open")
	require.NoError(t, c.Close())

	res := l.waitResult(t, m)
	assert.Equal(t, runner.StatusSuccess, res.Result.Status)
	last := res.Output(len(spec.Steps) - 1)
	assert.Contains(t, last, "1 SSH session(s) open")
	assert.Contains(t, last, "No SSH session for 2s: the job ends.")
	for i := range spec.Steps {
		assert.NotContains(t, res.Output(i), secret)
		assert.NotContains(t, res.Output(i), m.Token)
	}
	_, err = sshDial(addr, line[2], user)
	assert.Error(t, err, "the server outlived the job")
}

func sshDial(addr, user string, key ssh.Signer) (*ssh.Client, error) {
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
}

// sshIn checks that the stranger's key is refused at addr and returns the
// user's connection.
func sshIn(t *testing.T, addr, user string, key, stranger ssh.Signer) *ssh.Client {
	t.Helper()
	_, err := sshDial(addr, user, stranger)
	require.Error(t, err, "another key got in")
	assert.Contains(t, err.Error(), "unable to authenticate")
	c, err := sshDial(addr, user, key)
	require.NoError(t, err)
	return c
}
