// Package cacerts trusts a directory of extra CA certificates (the seed's
// "custom root CA": any valid certificate added there is trusted) besides
// the system's roots, for Orbit's own HTTP clients and for build steps.
// Files ending in .crt, .pem or .cer are read; each may hold several PEM
// certificates (a whole chain).
package cacerts

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// systemBundles are where Linux distributions keep the system's roots.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// Extra reads the PEM certificates in dir, in file-name order. A file
// without a certificate is an error naming it, so a typo is not silently
// ignored.
func Extra(dir string) ([]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("CA certificate directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".crt", ".pem", ".cer":
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	var out bytes.Buffer
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("CA certificate %s: %w", n, err)
		}
		certs := 0
		for rest := b; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
				return nil, fmt.Errorf("CA certificate %s: %w", n, err)
			}
			_ = pem.Encode(&out, blk)
			certs++
		}
		if certs == 0 {
			return nil, fmt.Errorf("CA certificate %s: no PEM certificate in it", n)
		}
	}
	return out.Bytes(), nil
}

// Pool is the system's roots plus the certificates in dir.
func Pool(dir string) (*x509.CertPool, error) {
	extra, err := Extra(dir)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM(extra)
	return pool, nil
}

// Bundle is one PEM file's worth of roots for programs that read a bundle
// (curl, git, Python): the system's bundle followed by the certificates in
// dir.
func Bundle(dir string) ([]byte, error) {
	extra, err := Extra(dir)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, p := range systemBundles {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, b...)
			if len(out) > 0 && out[len(out)-1] != '\n' {
				out = append(out, '\n')
			}
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("system CA bundle %s: %w", p, err)
		}
	}
	return append(out, extra...), nil
}

// Transport is http.DefaultTransport (proxies from HTTP_PROXY, HTTPS_PROXY
// and NO_PROXY included) trusting the certificates in dir too; dir ""
// returns a plain clone.
func Transport(dir string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if dir == "" {
		return t, nil
	}
	pool, err := Pool(dir)
	if err != nil {
		return nil, err
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}
