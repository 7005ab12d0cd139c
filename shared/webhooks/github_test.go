package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/orbit-ci/orbit/shared/webhooks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type triggers struct {
	mu   sync.Mutex
	reqs []conductor.TriggerRequest
}

func (t *triggers) Trigger(_ context.Context, req conductor.TriggerRequest) (store.Pipeline, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reqs = append(t.reqs, req)
	return store.Pipeline{ID: "p-1", Number: int64(len(t.reqs))}, nil
}

type secrets map[string]string

func (s secrets) WebhookSecret(_ context.Context, owner, repo string) (string, []byte, error) {
	sec, ok := s[owner+"/"+repo]
	if !ok {
		return "", nil, store.ErrNotFound
	}
	return "gh/" + owner + "/" + repo, []byte(sec), nil
}

func fixture(t *testing.T, name string) []byte {
	b, err := os.ReadFile("../vcs/github/testdata/" + name)
	require.NoError(t, err)
	return b
}

func TestGitHubWebhook(t *testing.T) {
	db, err := boltkv.Open(t.TempDir()+"/kv.db", boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	trig := &triggers{}
	h := webhooks.GitHub(webhooks.GitHubConfig{Trigger: trig, Secrets: secrets{"acme/api": "hooksecret"}, Claims: db})
	push, skip := fixture(t, "push.json"), fixture(t, "push_skip.json")
	post := func(event, delivery, sig string, body []byte) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/github", strings.NewReader(string(body)))
		r.Header.Set("X-GitHub-Event", event)
		r.Header.Set("X-GitHub-Delivery", delivery)
		if sig != "" {
			r.Header.Set("X-Hub-Signature-256", sig)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	good := github.Sign(push, []byte("hooksecret"))
	steps := []struct {
		name, event, delivery, sig string
		body                       []byte
		code, triggers             int
	}{
		{"missing signature", "push", "d-0", "", push, http.StatusUnauthorized, 0},
		{"wrong signature", "push", "d-0", github.Sign(push, []byte("guess")), push, http.StatusUnauthorized, 0},
		{"signature of another payload", "push", "d-0", github.Sign(skip, []byte("hooksecret")), push, http.StatusUnauthorized, 0},
		{"signed push", "push", "d-1", good, push, http.StatusCreated, 1},
		{"redelivery of the same delivery", "push", "d-1", good, push, http.StatusOK, 1},
		{"replay under a new delivery id", "push", "d-2", good, push, http.StatusConflict, 1},
		{"skip ci", "push", "d-3", github.Sign(skip, []byte("hooksecret")), skip, http.StatusOK, 1},
		{"ping", "ping", "d-4", github.Sign(fixture(t, "ping.json"), []byte("hooksecret")), fixture(t, "ping.json"), http.StatusOK, 1},
		{"not followed", "push", "d-5", good, []byte(strings.ReplaceAll(string(push), `"name": "api"`, `"name": "other"`)), http.StatusNotFound, 1},
		{"malformed", "push", "d-6", good, []byte("{"), http.StatusBadRequest, 1},
		{"no delivery id", "push", "", good, push, http.StatusBadRequest, 1},
		{"pull request", "pull_request", "d-7", github.Sign(fixture(t, "pull_request.json"), []byte("hooksecret")), fixture(t, "pull_request.json"), http.StatusCreated, 2},
	}
	for _, s := range steps {
		w := post(s.event, s.delivery, s.sig, s.body)
		assert.Equal(t, s.code, w.Code, "%s: %s", s.name, w.Body)
		assert.Len(t, trig.reqs, s.triggers, s.name)
	}
	require.Len(t, trig.reqs, 2)
	assert.Equal(t, conductor.TriggerRequest{ProjectSlug: "gh/acme/api", Branch: "main", Revision: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
		TriggerType: "webhook", Actor: "mona", IdempotencyKey: "github-delivery-d-1",
		Commit: vcs.Commit{Subject: "Update README.md", AuthorName: "Mona Octocat", AuthorEmail: "mona@example.com"}}, trig.reqs[0])
	assert.True(t, trig.reqs[1].Commit.IsZero(), "a pull request's payload has no commit message: fetch_config reads it")
	assert.Equal(t, "changes", trig.reqs[1].Branch)
	assert.Equal(t, "ec26c3e57ca3a959ca5aad62de7213c562f8c821", trig.reqs[1].Revision)
}
