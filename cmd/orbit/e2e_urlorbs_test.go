package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestE2EURLOrb: a config importing an orb by URL errors while the
// organization's URL orb allow-list does not allow it, and runs the orb's
// command once an entry's prefix does (CircleCI's url-orb-allow-list API).
func TestE2EURLOrb(t *testing.T) {
	orbs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/orbs/greet.yml" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("version: 2.1\ncommands:\n  hello:\n    steps: [{run: echo hello from a URL orb}]\n"))
	}))
	t.Cleanup(orbs.Close)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": "version: 2.1\norbs:\n  greet: " + orbs.URL + "/orbs/greet.yml\n" +
		"jobs:\n  build:\n    docker: [{image: cimg/base:stable}]\n    steps: [greet/hello]\nworkflows:\n  ci:\n    jobs: [build]\n"})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "urlorb")

	pid := p.trigger(slug, "main")
	var pl struct {
		State  string
		Errors []struct{ Type, Message string }
	}
	waitFor(t, time.Minute, "the pipeline to error", func() bool {
		p.do("GET", "/api/v2/pipeline/"+pid, nil, &pl)
		return pl.State == "errored"
	})
	require.NotEmpty(t, pl.Errors)
	assert.Contains(t, pl.Errors[0].Message, "not allowed: no entry of local/acme's URL orb allow-list")

	const list = "/api/v2/organization/local/acme/url-orb-allow-list"
	var created struct{ ID, Message string }
	require.Equal(t, 400, p.do("POST", list, map[string]string{"name": "ours", "prefix": orbs.URL + "/orbs/", "auth": "github-oauth"}, &created))
	require.Equal(t, 200, p.do("POST", list, map[string]string{"name": "ours", "prefix": orbs.URL + "/orbs/", "auth": "none"}, &created), created.Message)
	var entries struct {
		Items []struct{ ID, Name, Prefix, Auth string }
	}
	require.Equal(t, 200, p.do("GET", list, nil, &entries))
	require.Len(t, entries.Items, 1)
	assert.Equal(t, created.ID, entries.Items[0].ID)

	pid = p.trigger(slug, "main")
	wf := p.waitWorkflowDone(pid, 3*time.Minute)
	assert.Equal(t, "success", wf.Status)
	job := p.jobs(wf.ID)["build"]
	out := p.text("/api/v2/project/" + slug + "/job/" + strconv.FormatInt(job.JobNumber, 10) + "/output?step=0&task=0")
	assert.Contains(t, out, "hello from a URL orb")

	require.Equal(t, 200, p.do("DELETE", list+"/"+created.ID, nil, nil))
	require.Equal(t, 200, p.do("GET", list, nil, &entries))
	assert.Empty(t, entries.Items)
}
