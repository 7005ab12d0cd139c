package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The end-to-end tests call `orbit up` as its local admin: each started
// orbit registers the CLI token it wrote, and every request of this
// package's tests to that address carries it (http.Get included), as the
// orbit CLI's requests do. Tests of the refusals send their own requests
// with a transport of their own.

var orbitTokens sync.Map // host:port → token

type tokenTransport struct{ base http.RoundTripper }

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok, ok := orbitTokens.Load(r.URL.Host); ok && r.Header.Get("Circle-Token") == "" && r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Circle-Token", tok.(string))
	}
	return t.base.RoundTrip(r)
}

// baseTransport is net/http's own, for tests that choose their
// credentials themselves.
var baseTransport = http.DefaultTransport

func init() { http.DefaultTransport = tokenTransport{base: baseTransport} }

// registerToken reads the token `orbit up` wrote into dataDir and uses it
// for requests to addr.
func registerToken(t testing.TB, dataDir, addr string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, tokenFile))
	require.NoError(t, err, "orbit up writes the CLI token")
	tok := strings.TrimSpace(string(b))
	orbitTokens.Store(addr, tok)
	return tok
}
