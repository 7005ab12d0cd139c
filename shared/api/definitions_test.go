package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/pipedef"
	"github.com/orbit-ci/orbit/shared/store"
)

func definitionsEnv(t *testing.T) (*env, string) {
	var e *env
	e = newEnv(t, func(c *api.Config) {
		svc, err := pipedef.New(pipedef.Config{KV: scratchKV(t), Sealer: sealer(t), Trigger: c.Trigger, BaseURL: "http://orbit.test"})
		require.NoError(t, err)
		c.Integrations.Definitions = svc
	})
	_, err := e.st.CreateProject(t.Context(), store.Project{Slug: "local/acme/api", Name: "api", VCS: "local", DefaultBranch: "main"})
	require.NoError(t, err)
	return e, "/api/v2/projects/" + ids.Project("local/acme/api")
}

func TestPipelineDefinitionsStartWithTheProjectsConfig(t *testing.T) {
	e, base := definitionsEnv(t)
	rec := e.do("GET", base+"/pipeline-definitions", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	items := decodeBody[obj](t, rec)["items"].([]any)
	require.Len(t, items, 1)
	def := items[0].(obj)
	assert.Equal(t, pipedef.DefaultID("local/acme/api"), def["id"])
	assert.Equal(t, ".circleci/config.yml", def["config_source"].(obj)["file_path"])

	rec = e.do("POST", base+"/pipeline-definitions", `{"name":"nightly","description":"the long tests",
		"config_source":{"provider":"circleci","file_path":".circleci/nightly.yml"},
		"checkout_source":{"provider":"github_app","repo":{"external_id":"local/acme/api"}}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	nightly := decodeBody[obj](t, rec)
	id := nightly["id"].(string)
	assert.Equal(t, "nightly", nightly["name"])

	rec = e.do("PATCH", base+"/pipeline-definitions/"+id, `{"config_source":{"file_path":".circleci/night.yml"}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, ".circleci/night.yml", decodeBody[obj](t, rec)["config_source"].(obj)["file_path"])
	assert.Equal(t, "nightly", e.getObj(base + "/pipeline-definitions/" + id)["name"])

	rec = e.do("POST", base+"/pipeline-definitions", `{"name":"x","config_source":{"provider":"github_app","repo":{"external_id":"elsewhere/repo"},"file_path":"a.yml"}}`)
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	assert.Contains(t, decodeBody[obj](t, rec)["message"], "its own repository")

	rec = e.do("DELETE", base+"/pipeline-definitions/"+id, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, http.StatusNotFound, e.do("GET", base+"/pipeline-definitions/"+id, "").Code)
	assert.Equal(t, http.StatusNotFound, e.do("GET", "/api/v2/projects/00000000-0000-0000-0000-000000000000/pipeline-definitions", "").Code)
	reader := e.tokenOf("reader", "read")
	assert.Equal(t, http.StatusOK, e.do("GET", base+"/pipeline-definitions", "", "Circle-Token", reader).Code)
	assert.Equal(t, http.StatusForbidden, e.do("POST", base+"/pipeline-definitions", `{"name":"y","config_source":{"file_path":"y.yml"}}`, "Circle-Token", reader).Code)
}

func (e *env) getObj(path string) obj {
	e.t.Helper()
	rec := e.do("GET", path, "")
	require.Equal(e.t, http.StatusOK, rec.Code, rec.Body.String())
	return decodeBody[obj](e.t, rec)
}

func TestAWebhookTriggerStartsAPipelineOfItsDefinition(t *testing.T) {
	e, base := definitionsEnv(t)
	rec := e.do("POST", base+"/pipeline-definitions", `{"name":"deploy","config_source":{"provider":"circleci","file_path":".circleci/deploy.yml"}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	defID := decodeBody[obj](t, rec)["id"].(string)

	rec = e.do("POST", base+"/pipeline-definitions/"+defID+"/triggers", `{"event_source":{"provider":"webhook","webhook":{"sender":"datadog"}},
		"event_name":"alert","checkout_ref":"release","config_ref":"release"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	trig := decodeBody[obj](t, rec)
	hook := trig["event_source"].(obj)["webhook"].(obj)
	assert.Equal(t, "datadog", hook["sender"])
	u, err := url.Parse(hook["url"].(string))
	require.NoError(t, err)
	require.NotEmpty(t, u.Query().Get("secret"))

	// A wrong secret starts nothing; the right one starts the definition's config on checkout_ref.
	assert.Equal(t, http.StatusUnauthorized, e.do("POST", u.Path+"?secret=wrong", "{}", anonymous...).Code)
	rec = e.do("POST", u.RequestURI(), "{}", anonymous...)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Len(t, e.trigger.reqs, 1)
	assert.Equal(t, ".circleci/deploy.yml", e.trigger.reqs[0].ConfigPath)
	assert.Equal(t, "release", e.trigger.reqs[0].Branch)
	assert.Equal(t, "webhook", e.trigger.reqs[0].TriggerType)

	rec = e.do("PATCH", base+"/triggers/"+trig["id"].(string), `{"disabled":true}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, true, decodeBody[obj](t, rec)["disabled"])
	assert.Equal(t, http.StatusBadRequest, e.do("POST", u.RequestURI(), "{}", anonymous...).Code, "a disabled trigger starts nothing")

	rec = e.do("GET", base+"/pipeline-definitions/"+defID+"/triggers", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Len(t, decodeBody[obj](t, rec)["items"], 1)

	bad := []struct{ body, msg string }{
		{`{"event_source":{"provider":"webhook"}}`, "checkout_ref and config_ref are required"},
		{`{"event_source":{"provider":"gitlab"}}`, `provider "gitlab"`},
		{`{"event_source":{"provider":"webhook"},"checkout_ref":"a","config_ref":"b"}`, "differs"},
		{`{"event_source":{"provider":"github_app","repo":{"external_id":"local/acme/api"}},"event_name":"x"}`, "only be set on webhook"},
	}
	for _, tc := range bad {
		rec := e.do("POST", base+"/pipeline-definitions/"+defID+"/triggers", tc.body)
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		assert.Contains(t, decodeBody[obj](t, rec)["message"], tc.msg)
	}
	rec = e.do("DELETE", base+"/triggers/"+trig["id"].(string), "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, http.StatusUnauthorized, e.do("POST", u.RequestURI(), "{}", anonymous...).Code, "a deleted trigger is unknown")
}

func TestRollbackRunsTheRollbackDefinition(t *testing.T) {
	e, base := definitionsEnv(t)
	body := `{"environment_name":"prod","component_name":"web","current_version":"2.0","target_version":"1.9","parameters":{"version":"1.9"}}`
	rec := e.do("POST", base+"/rollback", body)
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	assert.Contains(t, decodeBody[obj](t, rec)["message"], "no rollback pipeline")

	rec = e.do("POST", base+"/pipeline-definitions", `{"name":"rollback","config_source":{"provider":"circleci","file_path":".circleci/rollback.yml"}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rec = e.do("POST", base+"/rollback", body)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	got := decodeBody[obj](t, rec)
	assert.Equal(t, "PIPELINE", got["rollback_type"])
	require.Len(t, e.trigger.reqs, 1)
	assert.Equal(t, ".circleci/rollback.yml", e.trigger.reqs[0].ConfigPath)
	assert.Equal(t, map[string]any{"version": "1.9"}, e.trigger.reqs[0].Parameters)
	p, err := e.st.GetPipeline(t.Context(), got["id"].(string))
	require.NoError(t, err)
	assert.Equal(t, "main", p.VCS.Branch)

	rec = e.do("POST", base+"/rollback", `{"environment_name":"prod"}`)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	reader := e.tokenOf("reader", "read")
	assert.Equal(t, http.StatusForbidden, e.do("POST", base+"/rollback", body, "Circle-Token", reader).Code)
}
