package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/oidc"
	"github.com/orbit-ci/orbit/shared/outhook"
)

// hookReceiver records the deliveries whose signature checks out.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	got    []outhook.Payload
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("circleci-signature") != outhook.Sign([]byte(h.secret), body) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p outhook.Payload
	if json.Unmarshal(body, &p) != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, p)
	h.mu.Unlock()
}

func (h *hookReceiver) types() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.got {
		out = append(out, p.Type)
	}
	return out
}

// TestE2EOIDCTokenAndOutboundWebhooks runs jobs on the real Nomad agent
// under `orbit up`: the job's CIRCLE_OIDC_TOKEN verifies against Orbit's
// public JWKS and is masked in the step output, and the project's
// outbound webhook receives the job-completed and workflow-completed
// deliveries, signed; a pipeline definition of another config file runs
// through its webhook trigger.
func TestE2EOIDCTokenAndOutboundWebhooks(t *testing.T) {
	out := t.TempDir()
	cfg := fmt.Sprintf(`version: 2.1
jobs:
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: Use the token
          command: |
            printf '%%s' "$CIRCLE_OIDC_TOKEN" > %s/token
            echo "token=$CIRCLE_OIDC_TOKEN"
workflows:
  ci:
    jobs: [deploy]
`, out)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": cfg, ".circleci/nightly.yml": nightlyConfig})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "oidc")

	rc := &hookReceiver{secret: "e2e-signing-secret"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var proj struct{ ID string }
	require.Equal(t, 200, p.do("GET", "/api/v2/project/"+slug, nil, &proj))
	var hook map[string]any
	require.Equal(t, 201, p.do("POST", "/api/v2/webhook", map[string]any{"name": "e2e", "url": srv.URL, "verify-tls": true,
		"signing-secret": rc.secret, "events": []string{"workflow-completed", "job-completed"},
		"scope": map[string]string{"id": proj.ID, "type": "project"}}, &hook))

	pid := p.trigger(slug, "main")
	wf := p.waitWorkflowDone(pid, 2*time.Minute)
	job := p.jobs(wf.ID)["deploy"]
	require.Equal(t, "success", job.Status)

	token, err := os.ReadFile(filepath.Join(out, "token"))
	require.NoError(t, err)
	require.NotEmpty(t, token, "the job had CIRCLE_OIDC_TOKEN")
	keys, err := oidc.ParseJWKS([]byte(p.text("/.well-known/jwks.json")))
	require.NoError(t, err)
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(string(token), claims, func(tok *jwt.Token) (any, error) {
		return keys[tok.Header["kid"].(string)], nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(p.url))
	require.NoError(t, err)
	assert.Equal(t, proj.ID, claims["oidc.circleci.com/project-id"])
	assert.Equal(t, "refs/heads/main", claims["oidc.circleci.com/vcs-ref"])
	assert.True(t, strings.HasPrefix(claims["sub"].(string), "org/"), claims["sub"])

	output := p.stepOutput(slug, job.JobNumber, "Use the token", 0)
	assert.Contains(t, output, "token=********")
	assert.NotContains(t, output, string(token))

	require.Eventually(t, func() bool { return len(rc.types()) >= 2 }, time.Minute, 100*time.Millisecond,
		"the webhook receives both events")
	assert.ElementsMatch(t, []string{"job-completed", "workflow-completed"}, rc.types())

	// A pipeline definition of another config file, started by its webhook
	// trigger's URL, runs that file's jobs.
	var def struct{ ID string }
	require.Equal(t, 200, p.do("POST", "/api/v2/projects/"+proj.ID+"/pipeline-definitions", map[string]any{"name": "nightly",
		"config_source": map[string]string{"provider": "circleci", "file_path": ".circleci/nightly.yml"}}, &def))
	var trig struct {
		EventSource struct{ Webhook struct{ URL string } } `json:"event_source"`
	}
	require.Equal(t, 200, p.do("POST", "/api/v2/projects/"+proj.ID+"/pipeline-definitions/"+def.ID+"/triggers", map[string]any{
		"event_source": map[string]string{"provider": "webhook"}, "checkout_ref": "main", "config_ref": "main"}, &trig))
	resp, err := http.Post(trig.EventSource.Webhook.URL, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	var created struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	wf = p.waitWorkflowDone(created.ID, 2*time.Minute)
	assert.Equal(t, "nightly", wf.Name)
	assert.Equal(t, "success", p.jobs(wf.ID)["soak"].Status)
}

const nightlyConfig = `version: 2.1
jobs:
  soak:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo soaking
workflows:
  nightly:
    jobs: [soak]
`
