package cacerts_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"encoding/pem"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/cacerts"
)

// serverCA writes the test server's certificate to dir as a custom root.
func serverCA(t *testing.T, srv *httptest.Server, dir, name string) {
	t.Helper()
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), pemBytes, 0o644))
}

func TestTransportTrustsTheDirectory(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") }))
	defer srv.Close()
	dir := t.TempDir()

	plain, err := cacerts.Transport("")
	require.NoError(t, err)
	_, err = (&http.Client{Transport: plain}).Get(srv.URL)
	require.Error(t, err, "an unknown CA is refused")

	serverCA(t, srv, dir, "corp.crt")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("ignored"), 0o644))
	tr, err := cacerts.Transport(dir)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "hi", string(b))
	assert.NotNil(t, tr.Proxy, "proxies from the environment are kept")

	bundle, err := cacerts.Bundle(dir)
	require.NoError(t, err)
	extra, err := cacerts.Extra(dir)
	require.NoError(t, err)
	assert.Contains(t, string(bundle), string(extra))
}

func TestBadCertificateIsNamed(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "typo.pem"), []byte("not a certificate"), 0o644))
	_, err := cacerts.Pool(dir)
	assert.ErrorContains(t, err, "typo.pem")
	_, err = cacerts.Pool(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}
