// Package smtptest is a small in-process SMTP server for tests: it speaks
// enough of RFC 5321 (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for
// net/smtp's SendMail, and keeps every mail it receives.
package smtptest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// Mail is one received mail.
type Mail struct {
	From string
	To   []string
	Data string
}

// Server is a running test SMTP server.
type Server struct {
	// Addr is host:port to send to.
	Addr string
	ln   net.Listener
	mu   sync.Mutex
	mail []Mail
	// Reject, when set, makes RCPT answer 550 (a failing relay).
	reject bool
}

// New serves on a free loopback port until the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return s
}

// SetReject makes the server refuse (true) or accept (false) recipients.
func (s *Server) SetReject(v bool) { s.mu.Lock(); s.reject = v; s.mu.Unlock() }

// Mails returns what it received so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	say := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
	say("220 smtptest ready")
	var cur Mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "HELO":
			say("250 smtptest")
		case "EHLO":
			say("250-smtptest")
			say("250 8BITMIME")
		case "MAIL":
			cur = Mail{From: addr(line)}
			say("250 ok")
		case "RCPT":
			s.mu.Lock()
			reject := s.reject
			s.mu.Unlock()
			if reject {
				say("550 rejected")
				continue
			}
			cur.To = append(cur.To, addr(line))
			say("250 ok")
		case "DATA":
			say("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = b.String()
			s.mu.Lock()
			s.mail = append(s.mail, cur)
			s.mu.Unlock()
			say("250 queued")
		case "RSET", "NOOP":
			say("250 ok")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func addr(line string) string {
	i, j := strings.Index(line, "<"), strings.LastIndex(line, ">")
	if i < 0 || j < i {
		return ""
	}
	return line[i+1 : j]
}
