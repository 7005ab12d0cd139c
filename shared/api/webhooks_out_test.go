package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/outhook"
	"github.com/orbit-ci/orbit/shared/store"
)

func webhookEnv(t *testing.T) (*env, string) {
	var svc *outhook.Service
	e := newEnv(t, func(c *api.Config) {
		var err error
		svc, err = outhook.New(outhook.Config{KV: scratchKV(t), Records: c.Store, Sealer: sealer(t)})
		require.NoError(t, err)
		c.Integrations.Webhooks = svc
	})
	_, err := e.st.CreateProject(t.Context(), store.Project{Slug: "local/acme/api", Name: "api", VCS: "local"})
	require.NoError(t, err)
	return e, ids.Project("local/acme/api")
}

func TestWebhookCRUDNeverAnswersTheSecret(t *testing.T) {
	e, pid := webhookEnv(t)
	const secret = "very-secret-signing-key"
	rec := e.do("POST", "/api/v2/webhook", `{"name":"ci","events":["workflow-completed"],"url":"https://hooks.example.com/in",
		"verify-tls":true,"signing-secret":"`+secret+`","scope":{"id":"`+pid+`","type":"project"}}`)
	wantStatus(t, http.StatusCreated, rec, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), secret)
	created := decodeBody[obj](t, rec)
	id := created["id"].(string)
	assert.Equal(t, "xxxx-key", created["signing-secret"])
	assert.Equal(t, obj{"id": pid, "type": "project"}, created["scope"])
	assert.Equal(t, []any{"workflow-completed"}, created["events"])
	for _, k := range []string{"created-at", "updated-at", "url", "verify-tls", "name"} {
		assert.Contains(t, created, k)
	}

	rec = e.do("GET", "/api/v2/webhook?scope-id="+pid+"&scope-type=project", "")
	wantStatus(t, http.StatusOK, rec, rec.Body.String())
	list := decodeBody[obj](t, rec)
	require.Len(t, list["items"], 1)
	assert.Nil(t, list["next_page_token"])
	assert.Contains(t, list, "next_page_token")

	rec = e.do("PUT", "/api/v2/webhook/"+id, `{"events":["job-completed","workflow-completed"],"signing-secret":"rotated-1234"}`)
	wantStatus(t, http.StatusOK, rec, rec.Body.String())
	upd := decodeBody[obj](t, rec)
	assert.Equal(t, "xxxx1234", upd["signing-secret"])
	assert.Equal(t, []any{"job-completed", "workflow-completed"}, upd["events"])
	assert.Equal(t, "ci", upd["name"], "fields not given are kept")

	rec = e.do("GET", "/api/v2/webhook/"+id, "")
	wantStatus(t, http.StatusOK, rec, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "rotated-1234")

	rec = e.do("DELETE", "/api/v2/webhook/"+id, "")
	wantStatus(t, http.StatusOK, rec, rec.Body.String())
	assert.Equal(t, obj{"message": "Webhook deleted."}, decodeBody[obj](t, rec))
	rec = e.do("GET", "/api/v2/webhook/"+id, "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.NotContains(t, e.logs.String(), secret)
}

func TestWebhookRequestsAreCheckedAndSayWhy(t *testing.T) {
	e, pid := webhookEnv(t)
	body := func(repl ...string) string {
		b := `{"name":"ci","events":["workflow-completed"],"url":"https://h.example.com","verify-tls":true,"signing-secret":"s","scope":{"id":"PID","type":"project"}}`
		b = strings.ReplaceAll(b, "PID", pid)
		for i := 0; i+1 < len(repl); i += 2 {
			b = strings.Replace(b, repl[i], repl[i+1], 1)
		}
		return b
	}
	cases := []struct {
		name, body string
		code       int
		msg        string
	}{
		{"unknown event", body(`"workflow-completed"`, `"job-started"`), 400, `events[0] "job-started"`},
		{"bad url", body(`https://h.example.com`, `ftp://h`), 400, "url"},
		{"unknown project", body(pid, "00000000-0000-0000-0000-000000000000"), 404, ""},
		{"bad scope type", body(`"type":"project"`, `"type":"org"`), 400, "only project"},
		{"no secret", body(`,"signing-secret":"s"`, ``), 400, "signing-secret is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("POST", "/api/v2/webhook", tc.body)
			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			assert.Contains(t, decodeBody[obj](t, rec)["message"], tc.msg)
		})
	}
	rec := e.do("GET", "/api/v2/webhook?scope-id="+pid, "")
	assert.Equal(t, http.StatusBadRequest, rec.Code, "scope-type is required")
}

func TestWebhookAccessFollowsTheProject(t *testing.T) {
	e, pid := webhookEnv(t)
	rec := e.do("POST", "/api/v2/webhook", `{"name":"ci","events":["job-completed"],"url":"https://h.example.com","verify-tls":false,
		"signing-secret":"s3cr3t","scope":{"id":"`+pid+`","type":"project"}}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	id := decodeBody[obj](t, rec)["id"].(string)
	reader, outsider := e.tokenOf("reader", "read"), e.tokenOf("outsider", "")

	assert.Equal(t, http.StatusOK, e.do("GET", "/api/v2/webhook/"+id, "", "Circle-Token", reader).Code)
	assert.Equal(t, http.StatusForbidden, e.do("DELETE", "/api/v2/webhook/"+id, "", "Circle-Token", reader).Code)
	assert.Equal(t, http.StatusForbidden, e.do("POST", "/api/v2/webhook", `{"name":"x","events":["job-completed"],"url":"https://h.example.com",
		"verify-tls":true,"signing-secret":"s","scope":{"id":"`+pid+`","type":"project"}}`, "Circle-Token", reader).Code)
	assert.Equal(t, http.StatusNotFound, e.do("GET", "/api/v2/webhook/"+id, "", "Circle-Token", outsider).Code)
	assert.Equal(t, http.StatusNotFound, e.do("GET", "/api/v2/webhook?scope-id="+pid+"&scope-type=project", "", "Circle-Token", outsider).Code)
	assert.Equal(t, http.StatusUnauthorized, e.do("GET", "/api/v2/webhook/"+id, "", anonymous...).Code)
}
