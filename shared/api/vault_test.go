package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
)

const secretValue = "hunter2-super-SECRET-7q9z"

func vaultEnv(t *testing.T, opts ...func(*api.Config)) *env {
	t.Helper()
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(t.TempDir(), "master.keys")})
	require.NoError(t, err)
	e := newEnv(t, append([]func(*api.Config){func(c *api.Config) { c.Vault = vault.New(c.Store, secrets.NewSealer(keys)) }}, opts...)...)
	_, err = e.st.CreateProject(context.Background(), store.Project{Slug: "local/acme/api", Name: "api", VCS: "local"})
	require.NoError(t, err)
	return e
}

func TestProjectEnvVars(t *testing.T) {
	e := vaultEnv(t)
	const base = "/api/v2/project/local/acme/api/envvar"
	rec := e.do(http.MethodPost, base, `{"name":"TOKEN","value":"`+secretValue+`"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	got := decodeBody[obj](t, rec)
	assert.Equal(t, "TOKEN", got["name"])
	assert.Equal(t, "xxxx7q9z", got["value"])
	assert.NotEmpty(t, got["created-at"])

	list := decodeBody[obj](t, e.do(http.MethodGet, base, ""))
	assert.Equal(t, []any{obj{"name": "TOKEN", "value": "xxxx7q9z", "created-at": got["created-at"]}}, list["items"])
	assert.Nil(t, list["next_page_token"])
	one := decodeBody[obj](t, e.do(http.MethodGet, base+"/TOKEN", ""))
	assert.Equal(t, "xxxx7q9z", one["value"])

	for _, tc := range []struct{ body, want string }{
		{`{"name":"1BAD","value":"x"}`, `{"message":"environment variable name \"1BAD\": use letters`},
		{`{"name":"OK"}`, "name and value are required"},
		{`not json`, "not valid JSON"},
	} {
		rec := e.do(http.MethodPost, base, tc.body)
		assert.Equal(t, http.StatusBadRequest, rec.Code, tc.body)
		assert.Contains(t, rec.Body.String(), tc.want)
	}
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodPost, "/api/v2/project/local/acme/nope/envvar", `{"name":"A","value":"b"}`).Code)

	assert.Equal(t, http.StatusOK, e.do(http.MethodDelete, base+"/TOKEN", "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, base+"/TOKEN", "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, base+"/TOKEN", "").Code)
	assert.NotContains(t, e.logs.String(), secretValue)
}

func TestContextsAPI(t *testing.T) {
	e := vaultEnv(t)
	rec := e.do(http.MethodPost, "/api/v2/context", `{"name":"prod","owner":{"slug":"local/acme"}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	c := decodeBody[obj](t, rec)
	id := c["id"].(string)
	assert.Equal(t, "prod", c["name"])
	assert.Equal(t, http.StatusConflict, e.do(http.MethodPost, "/api/v2/context", `{"name":"prod","owner":{"slug":"local/acme"}}`).Code)

	// By owner id: the organization id the project shows.
	proj := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/project/local/acme/api", ""))
	list := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/context?owner-id="+proj["organization_id"].(string), ""))
	require.Len(t, list["items"], 1)
	assert.Equal(t, id, list["items"].([]any)[0].(obj)["id"])
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, "/api/v2/context", "").Code)

	rec = e.do(http.MethodPut, "/api/v2/context/"+id+"/environment-variable/KEY", `{"value":"`+secretValue+`"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	v := decodeBody[obj](t, rec)
	assert.Equal(t, "KEY", v["variable"])
	assert.Equal(t, id, v["context_id"])
	vars := e.do(http.MethodGet, "/api/v2/context/"+id+"/environment-variable", "")
	assert.Contains(t, vars.Body.String(), `"variable":"KEY"`)
	assert.NotContains(t, vars.Body.String(), "7q9z", "context variables show no value at all")
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodPut, "/api/v2/context/nope/environment-variable/KEY", `{"value":"x"}`).Code)

	// Restrictions name projects by id.
	rec = e.do(http.MethodPost, "/api/v2/context/"+id+"/restrictions", `{"restriction_type":"project","restriction_value":"`+proj["id"].(string)+`"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rs := decodeBody[obj](t, rec)
	assert.Equal(t, obj{"id": rs["id"], "project_id": proj["id"], "name": "api", // CircleCI's restriction_created has no context_id
		"restriction_type": "project", "restriction_value": proj["id"]}, rs)
	assert.Len(t, decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/context/"+id+"/restrictions", ""))["items"], 1)
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/api/v2/context/"+id+"/restrictions", `{"restriction_type":"group","restriction_value":"x"}`).Code)
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/api/v2/context/"+id+"/restrictions", `{"restriction_type":"project","restriction_value":"nope"}`).Code)
	assert.Equal(t, http.StatusOK, e.do(http.MethodDelete, "/api/v2/context/"+id+"/restrictions/"+rs["id"].(string), "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/api/v2/context/"+id+"/restrictions/"+rs["id"].(string), "").Code)

	assert.Equal(t, http.StatusOK, e.do(http.MethodDelete, "/api/v2/context/"+id+"/environment-variable/KEY", "").Code)
	assert.Equal(t, http.StatusOK, e.do(http.MethodDelete, "/api/v2/context/"+id, "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v2/context/"+id, "").Code)
}

func TestCheckoutAndSSHKeysAPI(t *testing.T) {
	e := vaultEnv(t)
	const base = "/api/v2/project/local/acme/api"
	rec := e.do(http.MethodPost, base+"/checkout-key", `{"type":"deploy-key"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	k := decodeBody[obj](t, rec)
	assert.Equal(t, "deploy-key", k["type"])
	assert.Equal(t, true, k["preferred"])
	assert.True(t, strings.HasPrefix(k["public-key"].(string), "ssh-ed25519 "))
	md5 := k["fingerprint"].(string)
	assert.Len(t, strings.Split(md5, ":"), 16, "the default digest is MD5")
	assert.NotContains(t, rec.Body.String(), "PRIVATE")

	sha := decodeBody[obj](t, e.do(http.MethodGet, base+"/checkout-key?digest=sha256", ""))["items"].([]any)[0].(obj)["fingerprint"].(string)
	assert.True(t, strings.HasPrefix(sha, "SHA256:"))
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, base+"/checkout-key/"+md5, "").Code)
	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(sha)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, base+"/checkout-key/"+url.PathEscape(urlSafe), "").Code)
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodGet, base+"/checkout-key?digest=sha1", "").Code)
	rec = e.do(http.MethodPost, base+"/checkout-key", `{"type":"user-key"}`)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "GitHub login")

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	rec = e.do(http.MethodPost, base+"/ssh-key", `{"hostname":"git.example.com","private_key":`+quote(string(pem.EncodeToMemory(block)))+`}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	added := decodeBody[obj](t, rec)
	assert.Equal(t, "git.example.com", added["hostname"])
	assert.NotContains(t, rec.Body.String(), "PRIVATE")
	keys := e.do(http.MethodGet, base+"/ssh-key", "")
	assert.Contains(t, keys.Body.String(), added["fingerprint"].(string))
	assert.NotContains(t, keys.Body.String(), "PRIVATE")
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, base+"/ssh-key", `{"private_key":"junk"}`).Code)
	assert.Equal(t, http.StatusOK, e.do(http.MethodDelete, base+"/ssh-key/"+added["md5"].(string), "").Code)
	assert.Equal(t, http.StatusOK, e.do(http.MethodDelete, base+"/checkout-key/"+md5, "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, base+"/checkout-key/"+md5, "").Code)
	assert.NotContains(t, e.logs.String(), "PRIVATE KEY")
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// TestSettingsPage shows what a project keeps, never a value.
func TestSettingsPage(t *testing.T) {
	e := vaultEnv(t)
	const base = "/api/v2/project/local/acme/api"
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, base+"/envvar", `{"name":"TOKEN","value":"`+secretValue+`"}`).Code)
	key := decodeBody[obj](t, e.do(http.MethodPost, base+"/checkout-key", `{"type":"deploy-key"}`))
	c := decodeBody[obj](t, e.do(http.MethodPost, "/api/v2/context", `{"name":"prod","owner":{"slug":"local/acme"}}`))
	require.Equal(t, http.StatusOK, e.do(http.MethodPut, "/api/v2/context/"+c["id"].(string)+"/environment-variable/CLOUD_KEY", `{"value":"`+secretValue+`"}`).Code)
	other := decodeBody[obj](t, e.do(http.MethodPost, "/api/v2/context", `{"name":"elsewhere","owner":{"slug":"local/acme"}}`))
	_, err := e.st.UpdateContext(context.Background(), other["id"].(string), func(c *store.Context) error {
		c.Restrictions = []store.Restriction{{ID: "r1", ProjectSlug: "local/acme/web"}}
		return nil
	})
	require.NoError(t, err)

	rec := e.do(http.MethodGet, "/ui/project/local/acme/api/settings", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	// html/template writes "+" (frequent in base64 keys) as &#43;.
	page := strings.ReplaceAll(rec.Body.String(), "&#43;", "+")
	for _, want := range []string{"TOKEN", "xxxx7q9z", key["fingerprint"].(string), key["public-key"].(string), "prod", "CLOUD_KEY", "elsewhere", "restricted to other projects"} {
		assert.Contains(t, page, want)
	}
	assert.NotContains(t, page, secretValue)
	assert.NotContains(t, page, "PRIVATE")
	assert.Contains(t, e.do(http.MethodGet, "/ui/project/local/acme/api", "").Body.String(), `href="/ui/project/local/acme/api/settings"`)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/ui/project/local/acme/nope/settings", "").Code)
}
