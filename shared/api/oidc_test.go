package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/oidc"
	"github.com/orbit-ci/orbit/shared/store"
)

func oidcEnv(t *testing.T) *env {
	e := newEnv(t, func(c *api.Config) {
		i, err := oidc.New(oidc.Config{KV: scratchKV(t), Sealer: sealer(t), Records: c.Store, Issuer: "https://orbit.example.com"})
		require.NoError(t, err)
		c.Integrations.OIDC = i
	})
	for _, slug := range []string{"local/acme/api", "local/other/web"} {
		_, err := e.st.CreateProject(t.Context(), store.Project{Slug: slug, Name: "x", VCS: "local"})
		require.NoError(t, err)
	}
	return e
}

func TestOIDCCustomClaimsOfOrgsAndProjects(t *testing.T) {
	e := oidcEnv(t)
	org, proj := ids.Org("local/acme"), ids.Project("local/acme/api")
	orgPath := "/api/v2/org/" + org + "/oidc-custom-claims"
	projPath := "/api/v2/org/" + org + "/project/" + proj + "/oidc-custom-claims"

	rec := e.do("GET", orgPath, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, obj{"org_id": org}, decodeBody[obj](t, rec))

	rec = e.do("PATCH", orgPath, `{"audience":["sts.amazonaws.com"],"ttl":"2h"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := decodeBody[obj](t, rec)
	assert.Equal(t, []any{"sts.amazonaws.com"}, got["audience"])
	assert.Equal(t, "2h", got["ttl"])
	assert.Contains(t, got, "audience_updated_at")
	assert.Contains(t, got, "ttl_updated_at")

	rec = e.do("PATCH", projPath, `{"ttl":"30m"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got = decodeBody[obj](t, rec)
	assert.Equal(t, proj, got["project_id"])
	assert.Equal(t, "30m", got["ttl"])
	assert.NotContains(t, got, "audience", "a project's claims are its own")

	rec = e.do("DELETE", orgPath+"?claims=audience", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got = decodeBody[obj](t, rec)
	assert.NotContains(t, got, "audience")
	assert.Equal(t, "2h", got["ttl"])

	bad := []struct{ name, method, path, body, msg string }{
		{"bad ttl", "PATCH", orgPath, `{"ttl":"forever"}`, "ttl"},
		{"unknown claim", "DELETE", orgPath + "?claims=sub", "", `claim "sub"`},
		{"no claims named", "DELETE", orgPath, "", "name the claims"},
		{"project of another org", "GET", "/api/v2/org/" + ids.Org("local/other") + "/project/" + proj + "/oidc-custom-claims", "", "does not belong"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(tc.method, tc.path, tc.body)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			assert.Contains(t, decodeBody[obj](t, rec)["message"], tc.msg)
		})
	}
	reader := e.tokenOf("reader", "read")
	assert.Equal(t, http.StatusOK, e.do("GET", projPath, "", "Circle-Token", reader).Code)
	assert.Equal(t, http.StatusForbidden, e.do("PATCH", projPath, `{"ttl":"1h"}`, "Circle-Token", reader).Code)
	assert.Equal(t, http.StatusNotFound, e.do("GET", "/api/v2/org/00000000-0000-0000-0000-000000000000/oidc-custom-claims", "").Code)
}

func TestOIDCMetadataIsPublic(t *testing.T) {
	e := oidcEnv(t)
	rec := e.do("GET", "/.well-known/openid-configuration", "", anonymous...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	meta := decodeBody[obj](t, rec)
	assert.Equal(t, "https://orbit.example.com", meta["issuer"])
	assert.Equal(t, "https://orbit.example.com/.well-known/jwks.json", meta["jwks_uri"])
	assert.Equal(t, []any{"RS256"}, meta["id_token_signing_alg_values_supported"])

	rec = e.do("GET", "/.well-known/jwks.json", "", anonymous...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	keys := decodeBody[obj](t, rec)["keys"].([]any)
	require.Len(t, keys, 1)
	k := keys[0].(obj)
	assert.Equal(t, "RSA", k["kty"])
	assert.NotEmpty(t, k["n"])
	assert.NotContains(t, k, "d", "no private part")
}
