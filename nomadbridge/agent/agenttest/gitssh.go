package agenttest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// GitSSH is a git server over SSH for tests of checkout with a key: a real
// SSH server (golang.org/x/crypto/ssh) that accepts only its authorized
// public keys and runs the real git-upload-pack for `git clone`/`git fetch`
// (nothing else: pushes and shells are refused).
type GitSSH struct {
	// Addr is host:port.
	Addr string
	// Accepted counts successful public-key logins.
	Accepted func() int

	ln  net.Listener
	wg  sync.WaitGroup
	mu  sync.Mutex
	n   int
	cfg *ssh.ServerConfig
}

// NewGitSSH starts a server on a free loopback port that accepts the given
// public keys (authorized_keys lines).
func NewGitSSH(authorized ...string) (*GitSSH, error) {
	keys := map[string]bool{}
	for _, a := range authorized {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(a))
		if err != nil {
			return nil, fmt.Errorf("authorized key: %w", err)
		}
		keys[string(pk.Marshal())] = true
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	host, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, err
	}
	g := &GitSSH{}
	g.cfg = &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if !keys[string(k.Marshal())] {
			return nil, errors.New("unknown key")
		}
		g.mu.Lock()
		g.n++
		g.mu.Unlock()
		return &ssh.Permissions{}, nil
	}}
	g.cfg.AddHostKey(host)
	g.Accepted = func() int { g.mu.Lock(); defer g.mu.Unlock(); return g.n }
	if g.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	g.Addr = g.ln.Addr().String()
	g.wg.Add(1)
	go g.serve()
	return g, nil
}

// URL is the ssh:// URL of the repository at an absolute path.
func (g *GitSSH) URL(path string) string { return "ssh://git@" + g.Addr + path }

// Close stops the server.
func (g *GitSSH) Close() {
	_ = g.ln.Close()
	g.wg.Wait()
}

func (g *GitSSH) serve() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		go g.conn(c)
	}
}

func (g *GitSSH) conn(c net.Conn) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, g.cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go session(ch, creqs)
	}
}

// session runs one exec request of git-upload-pack.
func session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var env []string
	for req := range reqs {
		switch req.Type {
		case "env": // git sends GIT_PROTOCOL
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL" {
				env = append(env, kv.Name+"="+kv.Value)
			}
			_ = req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			_ = ssh.Unmarshal(req.Payload, &p)
			path, ok := strings.CutPrefix(p.Command, "git-upload-pack ")
			if !ok {
				_ = req.Reply(false, nil)
				exit(ch, 1)
				return
			}
			_ = req.Reply(true, nil)
			cmd := exec.Command("git-upload-pack", strings.Trim(path, "'"))
			cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = append(os.Environ(), env...), ch, ch, ch.Stderr()
			code := 0
			if err := cmd.Run(); err != nil {
				code = 1
			}
			exit(ch, code)
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

func exit(ch ssh.Channel, code int) {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(code))
	_, _ = ch.SendRequest("exit-status", false, b)
}
