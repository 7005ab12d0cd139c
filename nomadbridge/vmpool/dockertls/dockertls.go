// Package dockertls issues the TLS material of a remote Docker engine
// (setup_remote_docker): one certificate authority per task, which signs
// exactly two certificates, the engine's (for the VM's address, once the
// pool knows it) and the job's client certificate. The engine trusts only
// clients of its task's authority and the job trusts only its task's
// engine, so another job's client certificate is refused and no job can
// reach an engine that is not its own.
//
//	bridge: NewCA(task) ─▶ Client() ─▶ the job (agent: DOCKER_CERT_PATH)
//	        Request.DockerTLS = ca ─▶ pool: Server(VM address) ─▶ VM (dockerd --tlsverify)
//
// The authority's key stays in the bridge's memory: it is never written,
// logged, or given to the VM or the job. Every certificate is ECDSA P-256
// and lives as long as the authority (a lease's lifetime).
package dockertls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Environment variables of a remote Docker VM that carry its engine's
// material (the VM's user data reads them; see ec2pool/userdata.go).
const (
	EnvServerCA   = "DOCKER_TLS_CA"
	EnvServerCert = "DOCKER_TLS_CERT"
	EnvServerKey  = "DOCKER_TLS_KEY"
)

// File names of DOCKER_CERT_PATH, as the Docker CLI expects them.
const (
	FileCA   = "ca.pem"
	FileCert = "cert.pem"
	FileKey  = "key.pem"
)

// Material is a certificate, its private key and the authority that
// signed it, all PEM. Key is secret.
type Material struct {
	CA, Cert, Key string
}

// ServerEnv is m as the VM's environment (EnvServerCA, …).
func (m Material) ServerEnv() map[string]string {
	return map[string]string{EnvServerCA: m.CA, EnvServerCert: m.Cert, EnvServerKey: m.Key}
}

// ServerFromEnv reads a VM's material back from its environment; ok is
// false when the environment has none.
func ServerFromEnv(env map[string]string) (m Material, ok bool) {
	m = Material{CA: env[EnvServerCA], Cert: env[EnvServerCert], Key: env[EnvServerKey]}
	return m, m.CA != "" && m.Cert != "" && m.Key != ""
}

// CA is one task's certificate authority. Its methods are safe for
// concurrent use.
type CA struct {
	name    string
	cert    *x509.Certificate
	certPEM string
	key     *ecdsa.PrivateKey
}

// NewCA makes the authority of a task (name labels its certificates, e.g.
// the task ID; not secret), valid from now for ttl.
func NewCA(name string, now time.Time, ttl time.Duration) (*CA, error) {
	if ttl <= 0 {
		return nil, errors.New("dockertls: the authority's lifetime must be positive")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dockertls: authority key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: "Orbit remote Docker CA " + name},
		// A little before now: the VM's clock may be behind the bridge's.
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("dockertls: authority certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("dockertls: authority certificate: %w", err)
	}
	return &CA{name: name, cert: cert, certPEM: encode("CERTIFICATE", der), key: key}, nil
}

// CertPEM is the authority's certificate (not secret).
func (c *CA) CertPEM() string { return c.certPEM }

// Server issues the engine's certificate for host, the VM's address (an
// IP address or a DNS name, without a port): what DOCKER_HOST names and
// the Docker CLI verifies.
func (c *CA) Server(host string) (Material, error) {
	if host == "" {
		return Material{}, errors.New("dockertls: a server certificate needs the VM's address")
	}
	tmpl := c.template("Orbit remote Docker engine " + c.name)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	return c.issue(tmpl)
}

// Client issues the job's client certificate.
func (c *CA) Client() (Material, error) {
	tmpl := c.template("Orbit remote Docker client " + c.name)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return c.issue(tmpl)
}

func (c *CA) template(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn},
		NotBefore: c.cert.NotBefore, NotAfter: c.cert.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
}

func (c *CA) issue(tmpl *x509.Certificate) (Material, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Material{}, fmt.Errorf("dockertls: key: %w", err)
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return Material{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return Material{}, fmt.Errorf("dockertls: certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Material{}, fmt.Errorf("dockertls: key: %w", err)
	}
	return Material{CA: c.certPEM, Cert: encode("CERTIFICATE", der), Key: encode("EC PRIVATE KEY", kder)}, nil
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("dockertls: serial number: %w", err)
	}
	return n, nil
}

func encode(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// ClientConfig is the TLS configuration of a Docker client with m (a
// job's material) talking to the engine at host (its address, no port):
// it trusts only m's authority and presents m's certificate, as the
// Docker CLI does with DOCKER_TLS_VERIFY=1.
func ClientConfig(m Material, host string) (*tls.Config, error) {
	pair, roots, err := m.parse()
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{pair}, ServerName: host}, nil
}

// ServerConfig is the TLS configuration of an engine with m (a VM's
// material), as dockerd --tlsverify sets it up: a client must present a
// certificate of m's authority.
func ServerConfig(m Material) (*tls.Config, error) {
	pair, roots, err := m.parse()
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, ClientCAs: roots, ClientAuth: tls.RequireAndVerifyClientCert,
		Certificates: []tls.Certificate{pair}}, nil
}

func (m Material) parse() (tls.Certificate, *x509.CertPool, error) {
	pair, err := tls.X509KeyPair([]byte(m.Cert), []byte(m.Key))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("dockertls: certificate and key: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(m.CA)) {
		return tls.Certificate{}, nil, errors.New("dockertls: no authority certificate in the material")
	}
	return pair, roots, nil
}
