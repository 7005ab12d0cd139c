package ldapauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// DefaultTimeout bounds one sign-in or test (connect, TLS, binds and
// searches) when the caller's context has no deadline.
const DefaultTimeout = 15 * time.Second

// session is one connection to the server, closed when the context that
// opened it is done.
type session struct {
	conn *ldap.Conn
	stop func() bool
}

func (s *session) close() {
	s.stop()
	_ = s.conn.Close()
}

// addr is host:port of the server.
func (a *Authenticator) addr() string {
	return net.JoinHostPort(a.s.Hostname, strconv.Itoa(a.s.Port))
}

// dial connects to the server with the encryption of the settings, within
// ctx: its deadline bounds every read and write on the connection, and its
// cancellation closes it.
func (a *Authenticator) dial(ctx context.Context) (*session, error) {
	addr := a.addr()
	d := net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	netConn := raw
	if a.s.Encryption == LDAPS {
		tc := tls.Client(raw, a.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			var ne net.Error
			if expired(ctx) || (errors.As(err, &ne) && ne.Timeout()) {
				return nil, fmt.Errorf("%w at %s: tls handshake: %w", ErrUnreachable, addr, err)
			}
			return nil, fmt.Errorf("%w with %s (ldaps): %w", ErrTLS, addr, err)
		}
		netConn = tc
	}
	conn := ldap.NewConn(netConn, a.s.Encryption == LDAPS)
	conn.Start()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetTimeout(time.Until(dl))
	}
	s := &session{conn: conn, stop: context.AfterFunc(ctx, func() { _ = conn.Close() })}
	if a.s.Encryption == StartTLS {
		if err := conn.StartTLS(a.tls); err != nil {
			s.close()
			if expired(ctx) {
				return nil, fmt.Errorf("%w at %s: starttls: %w", ErrUnreachable, addr, err)
			}
			return nil, fmt.Errorf("%w with %s (starttls): %w", ErrTLS, addr, err)
		}
	}
	return s, nil
}

// tlsConfig trusts the system's roots and the settings' CA certificate and
// checks the server's certificate against the hostname.
func tlsConfig(s Settings) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if s.CACertificate != "" && !pool.AppendCertsFromPEM([]byte(s.CACertificate)) {
		return nil, errors.New("ldap settings: ca_certificate: no certificate could be read")
	}
	return &tls.Config{ServerName: s.Hostname, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// bindError turns a failed bind into an error: a network failure or the
// end of ctx names the server (ErrUnreachable), a refusal keeps the LDAP
// result. Neither contains the password.
func (a *Authenticator) bindError(ctx context.Context, what string, err error) error {
	if !serverAnswer(err) || expired(ctx) {
		return fmt.Errorf("%w at %s: bind as %s: %w", ErrUnreachable, a.addr(), what, err)
	}
	return fmt.Errorf("ldapauth: bind as %s refused by %s: %w", what, a.addr(), err)
}

// opError is bindError for searches.
func (a *Authenticator) opError(ctx context.Context, what string, err error) error {
	if !serverAnswer(err) || expired(ctx) {
		return fmt.Errorf("%w at %s: %s: %w", ErrUnreachable, a.addr(), what, err)
	}
	return fmt.Errorf("ldapauth: %s on %s: %w", what, a.addr(), err)
}

// serverAnswer says whether err is a result the server sent, rather than
// go-ldap's report of a broken, closed or timed-out connection (which is
// not an *ldap.Error, or one with a client-side code from ErrorNetwork on).
func serverAnswer(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

// expired says whether ctx has ended or its deadline, which is also the
// connection's, has passed (the connection may time out a moment before
// ctx's own timer fires).
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
