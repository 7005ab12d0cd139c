// Package dockertlstest plays a remote Docker engine in tests: an HTTPS
// server with a VM's material, verifying client certificates as dockerd
// --tlsverify does, that answers GET /_ping like Docker's API and counts
// the clients it let in.
package dockertlstest

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
)

// APIVersion is what the engine's /_ping says it speaks.
const APIVersion = "1.43"

// Engine is a simulated remote Docker engine. Create it with Start.
type Engine struct {
	srv   *http.Server
	ln    net.Listener
	pings atomic.Int64
}

// Start serves the engine with m (a VM's material) on addr ("host:port";
// port 0 for any).
func Start(m dockertls.Material, addr string) (*Engine, error) {
	cfg, err := dockertls.ServerConfig(m)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	e := &Engine{ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_ping", func(w http.ResponseWriter, _ *http.Request) {
		e.pings.Add(1)
		w.Header().Set("Api-Version", APIVersion)
		_, _ = w.Write([]byte("OK"))
	})
	e.srv = &http.Server{Handler: mux, TLSConfig: cfg, ErrorLog: log.New(io.Discard, "", 0)} // refused handshakes are the point
	go func() { _ = e.srv.Serve(tls.NewListener(ln, cfg)) }()
	return e, nil
}

// Addr is where the engine listens.
func (e *Engine) Addr() string { return e.ln.Addr().String() }

// Pings counts the /_ping requests answered (clients let in).
func (e *Engine) Pings() int64 { return e.pings.Load() }

// Close stops the engine.
func (e *Engine) Close() error { return e.srv.Close() }
