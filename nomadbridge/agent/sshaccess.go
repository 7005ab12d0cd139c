package agent

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/orbit-ci/orbit/nomadbridge/agent/sshd"
	"github.com/orbit-ci/orbit/shared/runner"
)

// The steps of a rerun with SSH (runner.WithSSH). enable_ssh starts the
// server on Config.SSHAddr (Nomad's port "ssh": NOMAD_IP_ssh:NOMAD_PORT_ssh)
// and prints how to connect; wait_for_ssh keeps the job up until nobody was
// connected for the idle time, at most the maximum, then closes everything.

// Defaults of runner.SSHAccess: CircleCI's.
const (
	defaultSSHIdle = 10 * time.Minute
	defaultSSHMax  = 2 * time.Hour
)

// Environment variables of a rerun with SSH on a VM (the bridge's lease,
// ec2pool's user data), where no Nomad port exists.
const (
	// EnvSSHAddr is where the agent listens (":54782", vmpool.SSHPort).
	EnvSSHAddr = "ORBIT_SSH_ADDR"
	// EnvSSHHost is the host the ssh line names (the VM's public address,
	// from its instance metadata).
	EnvSSHHost = "ORBIT_SSH_HOST"
)

// sshAddrFromEnv is the SSH listen address and the host to print, from the
// port Nomad allocated, else a VM's ORBIT_SSH_ADDR ("" when there is none).
func sshAddrFromEnv(getenv func(string) string) (addr, host string) {
	ip, port := getenv("NOMAD_IP_ssh"), getenv("NOMAD_PORT_ssh")
	if ip == "" || port == "" {
		return getenv(EnvSSHAddr), getenv(EnvSSHHost)
	}
	return net.JoinHostPort(ip, port), ip
}

func (r *taskRun) enableSSH(_ int, _ runner.Step, out io.Writer) error {
	a := r.spec.SSH
	if a == nil {
		return errors.New("this job was not rerun with SSH")
	}
	if r.cfg.SSHAddr == "" {
		return errors.New("no SSH port was allocated to this job (Nomad's port \"ssh\")")
	}
	var keys []ssh.PublicKey
	bad := 0
	for _, line := range a.AuthorizedKeys {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			bad++
			continue
		}
		keys = append(keys, k)
	}
	if bad > 0 {
		fmt.Fprintf(out, "%d of the SSH keys given are not valid authorized_keys lines and were skipped.\n", bad)
	}
	if len(keys) == 0 {
		return errors.New("no SSH public key to admit: add one to your GitHub or Orbit account, then rerun with SSH")
	}
	sc := sshd.Config{Addr: r.cfg.SSHAddr, AuthorizedKeys: keys, Dir: r.workdir, Home: r.home,
		Env: r.stepEnv(), Shell: firstField(r.spec.Shell), Logger: r.log.With("component", "sshd")}
	srv, err := sshd.Listen(sc)
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		// In the docker executor's network namespace the client's address
		// is not local: the port is mapped to the same number here.
		_, port, _ := net.SplitHostPort(r.cfg.SSHAddr)
		sc.Addr = net.JoinHostPort("", port)
		srv, err = sshd.Listen(sc)
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.ssh = srv
	r.mu.Unlock()
	host := r.cfg.SSHHost
	if host == "" {
		host = srv.Addr().IP.String()
	}
	fmt.Fprintf(out, "You can now SSH into this box with the key of your account (%d key(s) admitted):\n", len(keys))
	fmt.Fprintf(out, "    $ ssh -p %d %s@%s\n", srv.Addr().Port, sshUser(), host)
	fmt.Fprintf(out, "The job stays up after its last step: %s after the last session ends, %s at most.\n",
		seconds(a.IdleSeconds, defaultSSHIdle), seconds(a.MaxSeconds, defaultSSHMax))
	return nil
}

func (r *taskRun) waitForSSH(_ int, _ runner.Step, out io.Writer) error {
	r.mu.Lock()
	srv := r.ssh
	r.mu.Unlock()
	if srv == nil {
		fmt.Fprintln(out, "SSH was not enabled: nothing to wait for.")
		return nil
	}
	defer r.closeSSH()
	idle, limit := seconds(r.spec.SSH.IdleSeconds, defaultSSHIdle), seconds(r.spec.SSH.MaxSeconds, defaultSSHMax)
	start := time.Now()
	fmt.Fprintf(out, "Waiting for SSH sessions: the job ends %s after the last one ends (%s at most).\n", idle, limit)
	tick := time.NewTicker(min(max(min(idle, limit)/20, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	shown := 0
	for {
		select {
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-tick.C:
		}
		open, lastEnd := srv.State()
		if open != shown {
			fmt.Fprintf(out, "%d SSH session(s) open\n", open)
			shown = open
		}
		quiet := start
		if lastEnd.After(quiet) {
			quiet = lastEnd
		}
		switch {
		case time.Since(start) >= limit:
			fmt.Fprintf(out, "The SSH time limit (%s) is up: closing the sessions.\n", limit)
			return nil
		case open == 0 && time.Since(quiet) >= idle:
			fmt.Fprintf(out, "No SSH session for %s: the job ends.\n", idle)
			return nil
		}
	}
}

// closeSSH stops the server, if any (the end of wait_for_ssh, or cleanup).
func (r *taskRun) closeSSH() {
	r.mu.Lock()
	srv := r.ssh
	r.ssh = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// firstField is the shell's program, without the flags run steps get
// ("/bin/bash -eo pipefail" ──▶ "/bin/bash").
func firstField(shell string) string {
	if f := strings.Fields(shell); len(f) > 0 {
		return f[0]
	}
	return ""
}

func seconds(n int, def time.Duration) time.Duration {
	if n <= 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// sshUser is the account the job runs as, for the ssh line (the server
// takes any user name: the key decides).
func sshUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return cmp.Or(os.Getenv("USER"), "circleci")
}
