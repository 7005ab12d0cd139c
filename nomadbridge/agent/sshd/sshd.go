// Package sshd is the SSH server of a job rerun with SSH: it runs inside
// the build agent, admits only the public keys it is given, and runs each
// session's command (exec) or shell in the job's working directory with the
// job's environment.
//
//	Listen ──▶ accept ──▶ handshake: public key in AuthorizedKeys? else refused
//	                      (no password, no keyboard-interactive)
//	      session channel ──▶ env (kept), pty-req (refused: no PTY; the
//	      client falls back to plain pipes), exec "cmd" ──▶ Shell -c cmd,
//	      shell ──▶ Shell reading the channel; exit-status on exit
//	Close ──▶ stop accepting, kill every session's process group, close
//
// State tells the agent how many connections are open and when the last
// one closed, which its wait_for_ssh step turns into "10 minutes after the
// last session". Logs carry key fingerprints and addresses, never the
// environment.
package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config configures a Server.
type Config struct {
	// Addr is the listen address, host:port. Required.
	Addr string
	// AuthorizedKeys are the only keys admitted. At least one is required.
	AuthorizedKeys []ssh.PublicKey
	// Dir is where sessions start (the job's working directory); Home
	// replaces it while it does not exist.
	Dir, Home string
	// Env is the sessions' environment (the job's; values may be secrets).
	Env []string
	// Shell runs commands (Shell -c cmd) and interactive shells (default
	// /bin/bash, else /bin/sh).
	Shell string
	// Logger receives connections and refusals (default: discarded).
	Logger *slog.Logger
}

// Server is a running SSH server.
type Server struct {
	cfg  Config
	ln   net.Listener
	conf *ssh.ServerConfig

	mu      sync.Mutex
	open    int
	lastEnd time.Time
	conns   map[net.Conn]bool
	groups  map[int]bool // process groups of running sessions
	closed  bool
	wg      sync.WaitGroup
}

// Listen starts a server on cfg.Addr with a fresh ed25519 host key.
func Listen(cfg Config) (*Server, error) {
	if len(cfg.AuthorizedKeys) == 0 {
		return nil, errors.New("sshd: no authorized key")
	}
	if cfg.Shell == "" {
		cfg.Shell = "/bin/sh"
		if _, err := os.Stat("/bin/bash"); err == nil {
			cfg.Shell = "/bin/bash"
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshd: host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("sshd: host key: %w", err)
	}
	allowed := make([][]byte, len(cfg.AuthorizedKeys))
	for i, k := range cfg.AuthorizedKeys {
		allowed[i] = k.Marshal()
	}
	s := &Server{cfg: cfg, conns: map[net.Conn]bool{}, groups: map[int]bool{}}
	s.conf = &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			wire := key.Marshal()
			if slices.ContainsFunc(allowed, func(a []byte) bool { return string(a) == string(wire) }) {
				return &ssh.Permissions{Extensions: map[string]string{"fingerprint": ssh.FingerprintSHA256(key)}}, nil
			}
			cfg.Logger.Warn("ssh: key refused", "remote", meta.RemoteAddr().String(), "fingerprint", ssh.FingerprintSHA256(key))
			return nil, errors.New("key not authorized for this job")
		},
	}
	s.conf.AddHostKey(signer)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sshd: listen on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	s.wg.Go(s.accept)
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// State returns how many authenticated connections are open and when the
// last one closed (zero before any).
func (s *Server) State() (open int, lastEnd time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.lastEnd
}

// Close stops the server: no new connection, every session's processes
// killed, every connection closed. It waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for pgid := range s.groups {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Go(func() { s.serve(c) })
	}
}

func (s *Server) serve(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // the handshake's
	sc, chans, reqs, err := ssh.NewServerConn(c, s.conf)
	if err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	fp := sc.Permissions.Extensions["fingerprint"]
	s.cfg.Logger.Info("ssh: connection", "remote", sc.RemoteAddr().String(), "user", sc.User(), "fingerprint", fp)
	s.mu.Lock()
	s.open++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.open--
		s.lastEnd = time.Now()
		s.mu.Unlock()
		s.cfg.Logger.Info("ssh: connection closed", "remote", sc.RemoteAddr().String(), "fingerprint", fp)
	}()
	go ssh.DiscardRequests(reqs)
	var sessions sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		sessions.Go(func() { s.session(ch, creqs) })
	}
	sessions.Wait()
}

// session serves one session channel.
func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	env := slices.Clone(s.cfg.Env)
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil {
				env = append(env, kv.Name+"="+kv.Value)
			}
			reply(req, true)
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				reply(req, false)
				continue
			}
			reply(req, true)
			s.run(ch, env, s.cfg.Shell, "-c", cmd.Command)
			return
		case "shell":
			reply(req, true)
			s.run(ch, env, s.cfg.Shell)
			return
		default: // pty-req, x11-req, subsystem…: not offered
			reply(req, false)
		}
	}
}

func reply(req *ssh.Request, ok bool) {
	if req.WantReply {
		_ = req.Reply(ok, nil)
	}
}

// run runs argv with the channel as stdin, stdout and stderr, and sends
// its exit status.
func (s *Server) run(ch ssh.Channel, env []string, argv ...string) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = s.cfg.Dir
	if _, err := os.Stat(cmd.Dir); err != nil {
		cmd.Dir = s.cfg.Home
	}
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "cannot start %s: %v\n", argv[0], err)
		sendStatus(ch, 127)
		return
	}
	s.mu.Lock()
	s.groups[cmd.Process.Pid] = true
	s.mu.Unlock()
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	err = cmd.Wait()
	s.mu.Lock()
	delete(s.groups, cmd.Process.Pid)
	s.mu.Unlock()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
		if code < 0 {
			code = 255 // killed by a signal
		}
	case err != nil:
		code = 255
	}
	sendStatus(ch, uint32(code))
}

func sendStatus(ch ssh.Channel, code uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], code)
	_, _ = ch.SendRequest("exit-status", false, b[:])
}
