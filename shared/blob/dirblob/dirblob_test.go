package dirblob_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/blob/blobtest"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// serve starts an HTTP server with the store's handler mounted under /blob/,
// as the API mounts it, and returns the store.
func serve(t *testing.T, root string, now func() time.Time) *dirblob.Store {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, err := dirblob.New(dirblob.Config{Root: root, BaseURL: srv.URL + "/blob", Secret: secret, Now: now})
	require.NoError(t, err)
	mux.Handle("/blob/", s.Handler())
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return serve(t, t.TempDir(), nil)
	})
}

// clock is an injected clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func get(t *testing.T, method, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { assert.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestHandler(t *testing.T) {
	ctx := t.Context()
	clk := &clock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	s := serve(t, t.TempDir(), clk.Now)
	require.NoError(t, s.Put(ctx, "art/page.html", strings.NewReader("<b>hi</b>"), blob.PutOptions{ContentType: "text/plain"}))
	signed, err := s.PresignGet(ctx, "art/page.html", time.Minute)
	require.NoError(t, err)

	u, err := url.Parse(signed)
	require.NoError(t, err)
	assert.Equal(t, "/blob/art/page.html", u.Path)
	assert.Equal(t, "1748779260", u.Query().Get("expires"), "now + ttl, in unix seconds")
	assert.Len(t, u.Query().Get("sig"), 64, "hex HMAC-SHA256")

	tamper := func(f func(q url.Values, u *url.URL)) string {
		c := *u
		q := c.Query()
		f(q, &c)
		c.RawQuery = q.Encode()
		return c.String()
	}
	tests := []struct {
		name   string
		method string
		url    string
		status int
		body   string
	}{
		{name: "valid", method: http.MethodGet, url: signed, status: http.StatusOK, body: "<b>hi</b>"},
		{name: "HEAD", method: http.MethodHead, url: signed, status: http.StatusOK},
		{name: "POST", method: http.MethodPost, url: signed, status: http.StatusMethodNotAllowed},
		{name: "no signature", method: http.MethodGet, url: tamper(func(q url.Values, _ *url.URL) { q.Del("sig") }), status: http.StatusForbidden},
		{name: "wrong signature", method: http.MethodGet, url: tamper(func(q url.Values, _ *url.URL) { q.Set("sig", strings.Repeat("0", 64)) }), status: http.StatusForbidden},
		{name: "garbage signature", method: http.MethodGet, url: tamper(func(q url.Values, _ *url.URL) { q.Set("sig", "zz") }), status: http.StatusForbidden},
		{name: "later expiry", method: http.MethodGet, url: tamper(func(q url.Values, _ *url.URL) { q.Set("expires", "1848779260") }), status: http.StatusForbidden},
		{name: "other key", method: http.MethodGet, url: tamper(func(_ url.Values, u *url.URL) { u.Path = "/blob/art/other.html" }), status: http.StatusForbidden},
		{name: "outside the base path", method: http.MethodGet, url: tamper(func(_ url.Values, u *url.URL) { u.Path = "/blobart/page.html" }), status: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.method, tc.url)
			assert.Equal(t, tc.status, resp.StatusCode, body)
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			if tc.status == http.StatusOK {
				assert.Equal(t, "text/plain", resp.Header.Get("Content-Type"), "the stored type, never sniffed")
				assert.Equal(t, tc.body, body)
				return
			}
			if tc.name == "outside the base path" {
				return // the mux answers, not the handler
			}
			var msg struct{ Message string }
			require.NoError(t, json.Unmarshal([]byte(body), &msg), "JSON error: %s", body)
			assert.NotEmpty(t, msg.Message)
		})
	}

	clk.Advance(59 * time.Second)
	resp, _ := get(t, http.MethodGet, signed)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "valid until its expiry")
	clk.Advance(time.Second)
	resp, body := get(t, http.MethodGet, signed)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "expired")
	assert.Contains(t, body, "expired")
}

func TestSecretChangeRevokesURLs(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a, err := dirblob.New(dirblob.Config{Root: root, BaseURL: srv.URL + "/blob", Secret: secret})
	require.NoError(t, err)
	b, err := dirblob.New(dirblob.Config{Root: root, BaseURL: srv.URL + "/blob", Secret: []byte(strings.Repeat("x", 32))})
	require.NoError(t, err)
	mux.Handle("/blob/", b.Handler())

	require.NoError(t, a.Put(ctx, "k", strings.NewReader("v"), blob.PutOptions{}))
	signed, err := a.PresignGet(ctx, "k", time.Hour)
	require.NoError(t, err)
	resp, _ := get(t, http.MethodGet, signed)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestPersistsAcrossStores(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	a, err := dirblob.New(dirblob.Config{Root: root, BaseURL: "http://127.0.0.1:1/blob", Secret: secret})
	require.NoError(t, err)
	require.NoError(t, a.Put(ctx, "Logs/Step 1.txt", strings.NewReader("kept"), blob.PutOptions{ContentType: "text/plain"}))

	b, err := dirblob.New(dirblob.Config{Root: root, BaseURL: "http://127.0.0.1:1/blob", Secret: secret})
	require.NoError(t, err)
	rc, info, err := b.Get(ctx, "Logs/Step 1.txt", nil)
	require.NoError(t, err)
	defer func() { assert.NoError(t, rc.Close()) }()
	content, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, "kept", string(content))
	assert.Equal(t, "text/plain", info.ContentType)
}

func TestDeleteRemovesEmptyDirectories(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	s, err := dirblob.New(dirblob.Config{Root: root, BaseURL: "http://127.0.0.1:1/blob", Secret: secret})
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, "a/b/c/d", strings.NewReader("x"), blob.PutOptions{}))
	require.NoError(t, s.Put(ctx, "a/keep", strings.NewReader("x"), blob.PutOptions{}))
	require.NoError(t, s.Delete(ctx, "a/b/c/d"))

	var left []string
	require.NoError(t, filepath.WalkDir(filepath.Join(root, "objects"), func(p string, _ os.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		left = append(left, filepath.ToSlash(rel))
		return err
	}))
	assert.Equal(t, []string{"objects", "objects/a.d", "objects/a.d/keep.o"}, left)
}

func TestNewRejectsBadConfig(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name string
		cfg  dirblob.Config
	}{
		{name: "no root", cfg: dirblob.Config{BaseURL: "http://h/blob", Secret: secret}},
		{name: "short secret", cfg: dirblob.Config{Root: root, BaseURL: "http://h/blob", Secret: []byte("short")}},
		{name: "no base URL", cfg: dirblob.Config{Root: root, Secret: secret}},
		{name: "relative base URL", cfg: dirblob.Config{Root: root, BaseURL: "/blob", Secret: secret}},
		{name: "base URL with query", cfg: dirblob.Config{Root: root, BaseURL: "http://h/blob?x=1", Secret: secret}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dirblob.New(tc.cfg)
			assert.Error(t, err)
		})
	}
}
