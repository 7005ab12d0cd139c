package orbimport_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/orbimport"
	"github.com/orbit-ci/orbit/shared/store"
)

func TestURLOrbs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok/orb.yml":
			_, _ = w.Write([]byte(orbSrc))
		case "/ok/huge.yml":
			_, _ = w.Write([]byte(strings.Repeat("#", 1<<20+1)))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	u := orbimport.URLOrbs{Ctx: t.Context(), Owner: "local/acme", Client: srv.Client(),
		Allow: []store.URLOrbAllowEntry{{Prefix: srv.URL + "/ok/", Auth: "none"}}}
	src, err := u.FetchOrb(srv.URL + "/ok/orb.yml")
	require.NoError(t, err)
	assert.Equal(t, orbSrc, string(src))
	tests := []struct{ url, want string }{
		{srv.URL + "/other/orb.yml", "not allowed: no entry of local/acme's URL orb allow-list"},
		{srv.URL + "/ok", "not allowed"}, // a prefix is matched whole
		{srv.URL + "/ok/missing.yml", "cannot fetch it: 404"},
		{srv.URL + "/ok/huge.yml", "larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		_, err := u.FetchOrb(tt.url)
		require.Error(t, err, tt.url)
		assert.Contains(t, err.Error(), tt.want, tt.url)
	}
}
