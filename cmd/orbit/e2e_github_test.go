package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/orbit-ci/orbit/shared/vcs/githubtest"
)

// Secrets the GitHub end-to-end run seeds, searched for afterwards in
// every answer, page, log line and step output of the run.
const (
	ghBotToken     = "ghs_orbitbot_7Fq2Lk9Zx0Vb3Nm5"
	ghAliceToken   = "gho_alice_Xk3m9Q0wLp2ZrT8v"
	ghClientSecret = "orbit-client-secret" // the fake's
	ghEnvSecret    = "deploy-password-Zq81xY7Wv"
)

// recorded keeps every body the test received from Orbit.
type recorded struct{ bodies []string }

func (r *recorded) client(jar http.CookieJar, token string) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: roundTrip(func(req *http.Request) (*http.Response, error) {
			if token != "" {
				req = req.Clone(req.Context())
				req.Header.Set("Circle-Token", token)
			}
			resp, err := baseTransport.RoundTrip(req)
			if err != nil {
				return nil, err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r.bodies = append(r.bodies, string(b))
			resp.Body = io.NopCloser(bytes.NewReader(b))
			return resp, nil
		})}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func callJSON(t *testing.T, c *http.Client, method, u string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, out)
	}
	return resp.StatusCode
}

// TestE2EGitHub: a user signs in with (the fake) GitHub, follows a
// repository (its webhook and deploy key appear on GitHub), a signed push
// delivery triggers a pipeline that checks out over HTTPS and runs on the
// real Nomad agent, and the job's commit status goes pending → success
// with the job's page as target. Wrong, missing and replayed deliveries
// are refused. No seeded secret shows anywhere.
func TestE2EGitHub(t *testing.T) {
	cfg := "version: 2.1\njobs:\n  build:\n    docker: [{image: cimg/base:stable}]\n    steps:\n      - checkout\n      - run: echo \"built $(git rev-parse --short HEAD) with $DEPLOY_PASSWORD\"\nworkflows:\n  ci:\n    jobs: [build]\n"
	src := gitRepo(t, map[string]string{".circleci/config.yml": cfg, "README.md": "hello\n"})
	sha := strings.TrimSpace(string(must(exec.Command("git", "-C", src, "rev-parse", "HEAD").Output())))
	bare := filepath.Join(t.TempDir(), "app.git")
	out, err := exec.Command("git", "clone", "-q", "--bare", src, bare).CombinedOutput()
	require.NoError(t, err, string(out))

	fake := githubtest.New()
	t.Cleanup(fake.Close)
	fake.AddUser(ghBotToken, githubtest.User{ID: 1, Login: "orbit-bot"})
	fake.AddUser(ghAliceToken, githubtest.User{ID: 7, Login: "alice", Name: "Alice", Orgs: []string{"acme"}})
	fake.ServeGit("acme", "app", bare)
	fake.AddRepo(githubtest.Repo{Owner: "acme", Name: "app", DefaultBranch: "main", Refs: map[string]string{"main": sha},
		Files:       map[string]map[string]string{sha: {".circleci/config.yml": cfg}},
		Permissions: map[string]string{"alice": "admin", "orbit-bot": "write"}})

	dataDir := t.TempDir()
	p := startOrbit(t, dataDir, freeAddr(t), "ORBIT_AUDIT_FLUSH_INTERVAL=200ms", "ORBIT_GITHUB_URL="+fake.URL, "ORBIT_GITHUB_CLIENT_ID="+fake.ClientID,
		"ORBIT_GITHUB_CLIENT_SECRET="+fake.ClientSecret, "ORBIT_GITHUB_TOKEN="+ghBotToken)
	rec := &recorded{}

	// Alice signs in with GitHub: Orbit → GitHub's authorize page → back.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := rec.client(jar, "")
	resp, err := browser.Get(p.url + "/auth/github")
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	authorize, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	q := authorize.Query()
	q.Set("login", "alice")
	authorize.RawQuery = q.Encode()
	resp, err = browser.Get(authorize.String())
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	resp, err = browser.Get(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/", resp.Header.Get("Location"))
	var me struct{ Login string }
	require.Equal(t, http.StatusOK, callJSON(t, browser, "GET", p.url+"/api/v2/me", nil, &me))
	assert.Equal(t, "alice", me.Login)

	// The admin gives her an API token for the rest (as `orbit admin token --user alice`).
	admin := rec.client(nil, p.token)
	var tok struct{ Token string }
	require.Equal(t, http.StatusCreated, callJSON(t, admin, "POST", p.url+"/api/v2/admin/users/alice/token", map[string]string{"label": "e2e"}, &tok))
	alice := rec.client(nil, tok.Token)

	// Following creates the webhook and the deploy key on GitHub.
	require.Equal(t, http.StatusCreated, callJSON(t, alice, "POST", p.url+"/api/v2/project/gh/acme/app/follow", nil, nil))
	hooks := fake.Hooks("acme", "app")
	require.Len(t, hooks, 1)
	assert.Equal(t, p.url+"/webhooks/github", hooks[0].URL)
	assert.Len(t, fake.Keys("acme", "app"), 1, "a deploy key")
	require.Equal(t, http.StatusCreated, callJSON(t, alice, "POST", p.url+"/api/v2/project/gh/acme/app/envvar",
		map[string]string{"name": "DEPLOY_PASSWORD", "value": ghEnvSecret}, nil))

	// A push delivery, signed with the webhook's secret.
	push, err := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "before": strings.Repeat("0", 40), "after": sha, "deleted": false,
		"head_commit": map[string]any{"id": sha, "message": "Add the <app>\n\nWith its config.", "author": map[string]string{"name": "Alice", "username": "alice"}},
		"repository":  map[string]any{"name": "app", "full_name": "acme/app", "owner": map[string]string{"login": "acme", "name": "acme"}, "clone_url": fake.URL + "/acme/app.git"},
		"sender":      map[string]string{"login": "alice"},
		"pusher":      map[string]string{"name": "alice"},
	})
	require.NoError(t, err)
	deliver := func(id, sig string) int {
		req, err := http.NewRequest("POST", p.url+"/webhooks/github", bytes.NewReader(push))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", id)
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := rec.client(nil, "").Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	good := github.Sign(push, []byte(hooks[0].Secret))
	assert.Equal(t, http.StatusUnauthorized, deliver("d-missing", ""), "no signature")
	assert.Equal(t, http.StatusUnauthorized, deliver("d-wrong", github.Sign(push, []byte("not the secret"))), "wrong signature")
	start := time.Now()
	require.Equal(t, http.StatusCreated, deliver("d-1", good))
	assert.Less(t, time.Since(start), 10*time.Second, "GitHub's budget")
	assert.Equal(t, http.StatusOK, deliver("d-1", good), "GitHub's redelivery: a duplicate, no second pipeline")
	assert.Equal(t, http.StatusConflict, deliver("d-2", good), "the same signed payload replayed under another id")

	// The pipeline runs and the status goes back.
	var pipes struct {
		Items []struct {
			ID, State string
			VCS       struct {
				Commit map[string]string `json:"commit"`
			} `json:"vcs"`
		}
	}
	waitFor(t, time.Minute, "the pushed pipeline", func() bool {
		return callJSON(t, alice, "GET", p.url+"/api/v2/project/gh/acme/app/pipeline", nil, &pipes) == 200 && len(pipes.Items) == 1
	})
	assert.Equal(t, map[string]string{"subject": "Add the <app>", "body": "With its config."}, pipes.Items[0].VCS.Commit,
		"the push's head commit, from the payload")
	outs := waitAll(t, p.url, []string{pipes.Items[0].ID}, 3*time.Minute)
	o := outs[pipes.Items[0].ID]
	require.Equal(t, "success", o.status, "%+v\n%s", o, p.log.String())
	var statuses []githubtest.Status
	waitFor(t, time.Minute, "the success status on GitHub", func() bool {
		statuses = fake.Statuses("acme", "app")
		return len(statuses) > 0 && statuses[len(statuses)-1].State == "success"
	})
	assert.Equal(t, "pending", statuses[0].State)
	last := statuses[len(statuses)-1]
	assert.Equal(t, "ci/circleci: build", last.Context)
	assert.Equal(t, sha, last.SHA)
	assert.Contains(t, last.TargetURL, p.url)

	// The step output, read through the API, shows the build but no secret.
	stepOut := jobOutput(t, alice, p.url, "gh/acme/app", o.job.JobNumber)
	assert.Contains(t, stepOut, "built "+sha[:7])

	// No seeded secret anywhere: answers, pages, the log, step output.
	for _, path := range []string{"/", "/ui/pipeline/" + pipes.Items[0].ID, "/api/v2/project/gh/acme/app/envvar", "/api/v2/me/token"} {
		resp, err := alice.Get(p.url + path)
		require.NoError(t, err)
		resp.Body.Close()
	}
	everything := strings.Join(append(rec.bodies, p.log.String(), stepOut), "\n")
	for name, secret := range map[string]string{"the bot's GitHub token": ghBotToken, "alice's GitHub OAuth token": ghAliceToken,
		"the OAuth client secret": ghClientSecret, "a project variable": ghEnvSecret, "the webhook secret": hooks[0].Secret,
		"the admin's API token": p.token} {
		assert.NotContains(t, everything, secret, "%s appears in an answer, page, log line or step output", name)
	}
	// Unfollowing removes the webhook and the deploy key from GitHub.
	require.Equal(t, http.StatusOK, callJSON(t, alice, "DELETE", p.url+"/api/v2/project/gh/acme/app/follow", nil, nil))
	assert.Empty(t, fake.Hooks("acme", "app"))
	assert.Empty(t, fake.Keys("acme", "app"))
	waitFor(t, time.Minute, "alice's follow and unfollow in the audit files", func() bool {
		n := 0
		for _, e := range auditFileEvents(t, dataDir) {
			if (e.Action == audit.ProjectFollow || e.Action == audit.ProjectUnfollow) && e.Actor.Name == "alice" && e.Target.ID != "" {
				n++
			}
		}
		return n == 2
	})

	// alice's token was shown once, in the answer that created it: only there.
	assert.Equal(t, 1, strings.Count(everything, tok.Token), "alice's API token appears only in the answer that created it")
}

// jobOutput is every step's output of a job, through the API.
func jobOutput(t *testing.T, c *http.Client, base, slug string, number int64) string {
	t.Helper()
	var steps struct {
		Items []struct{ Index int }
	}
	require.Equal(t, 200, callJSON(t, c, "GET", fmt.Sprintf("%s/api/v2/project/%s/job/%d/steps", base, slug, number), nil, &steps))
	var b strings.Builder
	for _, s := range steps.Items {
		resp, err := c.Get(fmt.Sprintf("%s/api/v2/project/%s/job/%d/output?step=%d&task=0", base, slug, number, s.Index))
		require.NoError(t, err)
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b.Write(out)
	}
	return b.String()
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
