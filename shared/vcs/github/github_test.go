package github_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/orbit-ci/orbit/shared/vcs/githubtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	sha1    = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
	sha2    = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	botTok  = "gho_bot_token"
	monaTok = "gho_mona_token"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func setup(t *testing.T) (*githubtest.Server, *github.Driver, *clock) {
	t.Helper()
	fake := githubtest.New()
	t.Cleanup(fake.Close)
	fake.AddUser(botTok, githubtest.User{ID: 1, Login: "orbit-bot"})
	fake.AddUser(monaTok, githubtest.User{ID: 21031067, Login: "mona", Name: "Mona Octocat", Email: "mona@example.com", Orgs: []string{"acme", "octo"}})
	fake.AddRepo(githubtest.Repo{
		Owner: "acme", Name: "api", DefaultBranch: "main",
		Refs:        map[string]string{"main": sha1, "v1.0": sha2},
		Files:       map[string]map[string]string{sha1: {".circleci/config.yml": "version: 2.1\n"}, sha2: {}},
		Permissions: map[string]string{"mona": "admin", "orbit-bot": "write"},
	})
	fake.AddRepo(githubtest.Repo{Owner: "acme", Name: "secret", DefaultBranch: "main", Private: true, Permissions: map[string]string{}})
	clk := &clock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	d, err := github.New(github.Config{BaseURL: fake.URL, ClientID: fake.ClientID, ClientSecret: fake.ClientSecret,
		RedirectURL: "https://orbit.example.com/auth/github/callback", Token: botTok, Now: clk.Now})
	require.NoError(t, err)
	return fake, d, clk
}

func TestNewBaseURL(t *testing.T) {
	d, err := github.New(github.Config{})
	require.NoError(t, err)
	assert.True(t, d.IsDotCom())
	assert.True(t, strings.HasPrefix(d.AuthorizeURL("x"), "https://github.com/login/oauth/authorize?"))
	_, err = github.New(github.Config{BaseURL: "ftp://ghe"})
	assert.ErrorContains(t, err, "base URL")
}

func TestSourceReadsAtRevision(t *testing.T) {
	_, d, _ := setup(t)
	ctx := context.Background()
	repoURL := "https://github.example.com/acme/api.git"
	rev, err := d.ResolveRevision(ctx, repoURL, "main")
	require.NoError(t, err)
	assert.Equal(t, sha1, rev)
	rev, err = d.ResolveRevision(ctx, repoURL, "v1.0")
	require.NoError(t, err)
	assert.Equal(t, sha2, rev)
	b, err := d.FileAt(ctx, repoURL, sha1, ".circleci/config.yml")
	require.NoError(t, err)
	assert.Equal(t, "version: 2.1\n", string(b))

	_, err = d.FileAt(ctx, repoURL, sha2, ".circleci/config.yml")
	assert.ErrorIs(t, err, vcs.ErrFileNotFound)
	_, err = d.ResolveRevision(ctx, repoURL, "nope")
	assert.ErrorIs(t, err, vcs.ErrRevisionNotFound)
	_, err = d.ResolveRevision(ctx, "https://github.example.com/acme/gone", "main")
	assert.ErrorIs(t, err, vcs.ErrRepoNotFound)
	_, err = d.FileAt(ctx, "nothing", sha1, "x")
	assert.ErrorIs(t, err, vcs.ErrRepoNotFound)
}

func TestOAuthLoginUserOrgsRepos(t *testing.T) {
	fake, d, _ := setup(t)
	ctx := context.Background()
	auth, err := url.Parse(d.AuthorizeURL("state-123"))
	require.NoError(t, err)
	assert.Equal(t, fake.ClientID, auth.Query().Get("client_id"))
	assert.Equal(t, "state-123", auth.Query().Get("state"))

	// The browser's trip: authorize redirects back with the code and state.
	q := auth.Query()
	q.Set("login", "mona")
	auth.RawQuery = q.Encode()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(auth.String())
	require.NoError(t, err)
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "state-123", back.Query().Get("state"))

	tok, err := d.Exchange(ctx, back.Query().Get("code"))
	require.NoError(t, err)
	assert.Equal(t, monaTok, tok)
	_, err = d.Exchange(ctx, "bad-code")
	assert.ErrorContains(t, err, "bad_verification_code")

	u, err := d.User(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, github.Identity{ID: 21031067, Login: "mona", Name: "Mona Octocat", Email: "mona@example.com"}, u)
	_, err = d.User(ctx, "wrong")
	assert.Error(t, err)

	orgs, err := d.Orgs(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, []string{"acme", "octo"}, orgs)

	repos, err := d.Repos(ctx, tok)
	require.NoError(t, err)
	require.Len(t, repos, 1, "mona sees only the repository she has a permission on")
	assert.Equal(t, github.Repo{Owner: "acme", Name: "api", CloneURL: fake.URL + "/acme/api.git", DefaultBranch: "main", Permission: "admin"}, repos[0])
}

func TestPermissionCachedWithTTL(t *testing.T) {
	fake, d, clk := setup(t)
	ctx := context.Background()
	const route = "GET /api/v3/repos/{owner}/{repo}/collaborators/{user}/permission"
	p, err := d.Permission(ctx, monaTok, "acme", "api")
	require.NoError(t, err)
	assert.Equal(t, "admin", p)
	p, err = d.Permission(ctx, botTok, "acme", "api")
	require.NoError(t, err)
	assert.Equal(t, "write", p)
	p, err = d.Permission(ctx, monaTok, "acme", "secret")
	require.NoError(t, err)
	assert.Equal(t, "none", p)
	p, err = d.Permission(ctx, monaTok, "acme", "missing")
	require.NoError(t, err)
	assert.Equal(t, "none", p, "a repository GitHub hides is none")
	calls := fake.Calls(route)

	clk.Add(59 * time.Second)
	_, err = d.Permission(ctx, monaTok, "acme", "api")
	require.NoError(t, err)
	assert.Equal(t, calls, fake.Calls(route), "cached within the TTL")
	clk.Add(2 * time.Second)
	_, err = d.Permission(ctx, monaTok, "acme", "api")
	require.NoError(t, err)
	assert.Equal(t, calls+1, fake.Calls(route), "asked again after the TTL")
}

func TestFollowUnfollow(t *testing.T) {
	fake, d, _ := setup(t)
	ctx := context.Background()
	f, err := d.Follow(ctx, monaTok, "acme", "api", "https://orbit.example.com/webhooks/github", "hooksecret", "ssh-ed25519 AAAAC3Nza orbit", "Orbit gh/acme/api")
	require.NoError(t, err)
	hooks, keys := fake.Hooks("acme", "api"), fake.Keys("acme", "api")
	require.Len(t, hooks, 1)
	require.Len(t, keys, 1)
	assert.Equal(t, githubtest.Hook{ID: f.HookID, URL: "https://orbit.example.com/webhooks/github", Secret: "hooksecret", Events: []string{"push", "pull_request"}}, hooks[0])
	assert.Equal(t, githubtest.Key{ID: f.KeyID, Title: "Orbit gh/acme/api", Key: "ssh-ed25519 AAAAC3Nza orbit", ReadOnly: true}, keys[0])

	require.NoError(t, d.Unfollow(ctx, monaTok, "acme", "api", f))
	assert.Empty(t, fake.Hooks("acme", "api"))
	assert.Empty(t, fake.Keys("acme", "api"))
	require.NoError(t, d.Unfollow(ctx, monaTok, "acme", "api", f), "already removed is fine")

	_, err = d.Follow(ctx, monaTok, "acme", "api", "https://orbit.example.com/webhooks/github", "s", "not-a-key", "t")
	assert.Error(t, err)
	assert.Empty(t, fake.Hooks("acme", "api"), "a failed follow leaves no webhook behind")
}

func TestSetStatusRetriesBounded(t *testing.T) {
	fake, d, _ := setup(t)
	ctx := context.Background()
	require.NoError(t, d.SetStatus(ctx, "acme", "api", sha1, github.StatePending, "ci/circleci: build", "https://orbit.example.com/job/1", "queued"))
	assert.Equal(t, []githubtest.Status{{SHA: sha1, State: "pending", Context: "ci/circleci: build", TargetURL: "https://orbit.example.com/job/1", Description: "queued"}},
		fake.Statuses("acme", "api"))

	fake.SetDown(true)
	var slept []time.Duration
	rc := github.RetryConfig{Attempts: 3, Backoff: time.Second, Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	ok := d.SetStatusRetry(ctx, rc, nil, "acme", "api", sha1, github.StateSuccess, "ci/circleci: build", "u", "done")
	assert.False(t, ok)
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, slept, "three tries, backing off")
	assert.Len(t, fake.Statuses("acme", "api"), 1)

	fake.SetDown(false)
	assert.True(t, d.SetStatusRetry(ctx, rc, nil, "acme", "api", sha1, github.StateSuccess, "ci/circleci: build", "u", "done"))
	slept = nil
	assert.False(t, d.SetStatusRetry(ctx, rc, nil, "acme", "api", sha1, "bogus", "c", "u", "d"))
	assert.Empty(t, slept, "a state GitHub refuses (422) is not retried")
}

func TestRegistryPinsBaseURL(t *testing.T) {
	db, err := boltkv.Open(t.TempDir()+"/kv.db", boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	r := &github.Registry{KV: db}
	ctx := context.Background()
	now := time.Now()
	require.NoError(t, r.PinBaseURL(ctx, "https://ghe.acme.com", "ORBIT_GITHUB_URL", now))
	require.NoError(t, r.PinBaseURL(ctx, "https://ghe.acme.com", "ORBIT_GITHUB_URL", now), "the same URL again is fine")
	err = r.PinBaseURL(ctx, "https://ghe2.acme.com", "ORBIT_GITHUB_URL", now)
	assert.ErrorIs(t, err, github.ErrBaseURLChanged)
	assert.ErrorContains(t, err, `set ORBIT_GITHUB_URL back to "https://ghe.acme.com"`)
}

var _ = store.ErrNotFound
