package compose

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/orbit-ci/orbit/shared/vcs/localgit"
	"github.com/orbit-ci/orbit/shared/webhooks"
)

// GitHubConfig connects Orbit to github.com or GitHub Enterprise. With
// none of it set (the README's `make run`) there is no GitHub: local-git
// projects only.
type GitHubConfig struct {
	// BaseURL is GitHub's web URL ($ORBIT_GITHUB_URL): https://github.com
	// or the GitHub Enterprise URL. Pinned at first start: a later start
	// with another URL is refused.
	BaseURL string
	// ClientID is the OAuth app's client id ($ORBIT_GITHUB_CLIENT_ID).
	ClientID string
	// ClientSecret is the OAuth app's client secret
	// ($ORBIT_GITHUB_CLIENT_SECRET); never logged.
	ClientSecret string
	// Token is the token Orbit reads config files and posts commit
	// statuses with ($ORBIT_GITHUB_TOKEN); never logged.
	Token string
	// WebhookBaseURL is Orbit's URL as GitHub reaches it
	// ($ORBIT_WEBHOOK_BASE_URL; default BaseURL of Orbit): webhooks are
	// delivered to WebhookBaseURL/webhooks/github.
	WebhookBaseURL string
	// PermissionTTL is how long a user's permission on a repository is
	// cached ($ORBIT_GITHUB_PERMISSION_TTL; default 60s).
	PermissionTTL time.Duration
}

// Enabled says GitHub is configured.
func (g GitHubConfig) Enabled() bool { return g.BaseURL != "" || g.ClientID != "" || g.Token != "" }

func githubFromEnv(getenv func(string) string, c *Config) error {
	c.GitHub = GitHubConfig{
		BaseURL: getenv("ORBIT_GITHUB_URL"), ClientID: getenv("ORBIT_GITHUB_CLIENT_ID"),
		ClientSecret: getenv("ORBIT_GITHUB_CLIENT_SECRET"), Token: getenv("ORBIT_GITHUB_TOKEN"),
		WebhookBaseURL: getenv("ORBIT_WEBHOOK_BASE_URL"),
	}
	var err error
	c.GitHub.PermissionTTL, err = duration(getenv, "ORBIT_GITHUB_PERMISSION_TTL", "60s")
	return err
}

// GitHub returns the GitHub driver and its registry, or nil ones when
// GitHub is not configured. The first call pins the base URL.
func (a *Assembly) GitHub() (*github.Driver, *github.Registry, error) {
	if !a.cfg.GitHub.Enabled() {
		return nil, nil, nil
	}
	if a.gh != nil {
		return a.gh, a.ghRegistry, nil
	}
	g := a.cfg.GitHub
	redirect := strings.TrimRight(a.cfg.BaseURL, "/") + "/auth/github/callback"
	d, err := github.New(github.Config{BaseURL: g.BaseURL, ClientID: g.ClientID, ClientSecret: g.ClientSecret,
		RedirectURL: redirect, Token: g.Token, PermissionTTL: g.PermissionTTL})
	if err != nil {
		return nil, nil, fmt.Errorf("ORBIT_GITHUB_URL: %w", err)
	}
	if _, err := a.Vault(); err != nil {
		return nil, nil, err
	}
	if _, err := a.Store(); err != nil {
		return nil, nil, err
	}
	reg := &github.Registry{KV: a.kvs, Sealer: secrets.NewSealer(a.keysSvc)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reg.PinBaseURL(ctx, d.BaseURL(), "ORBIT_GITHUB_URL", time.Now()); err != nil {
		return nil, nil, err
	}
	a.gh, a.ghRegistry = d, reg
	return d, reg, nil
}

// repoSource reads repositories' config files and commits.
type repoSource interface {
	conductor.Source
	conductor.CommitSource
}

var (
	_ repoSource = github.Sources{}
	_ repoSource = localgit.Repos{}
)

// source reads repositories: GitHub's through the API, the others (paths)
// with git.
func (a *Assembly) source() (repoSource, error) {
	d, _, err := a.GitHub()
	if err != nil || d == nil {
		return localgit.Repos{}, err
	}
	return github.Sources{GitHub: d, Local: localgit.Repos{}}, nil
}

// watchGitHubStatuses makes the jobs of GitHub projects post commit
// statuses as they move, from a goroutine that ends with the assembly.
func (a *Assembly) watchGitHubStatuses(st *store.Store) error {
	d, _, err := a.GitHub()
	if err != nil || d == nil {
		return err
	}
	n := github.NewNotifier(github.NotifierConfig{Poster: d, Pipelines: st, BaseURL: a.cfg.BaseURL,
		Logger: a.log.With("component", "github-status")})
	st.Observe(n)
	nctx, cancel := context.WithCancel(context.Background())
	a.closers = append(a.closers, cancel)
	go func() { _ = n.Run(nctx) }()
	return nil
}

// githubWebhooks is POST /webhooks/github's handler, nil without GitHub.
func (a *Assembly) githubWebhooks(trig webhooks.Triggerer) (http.Handler, error) {
	_, reg, err := a.GitHub()
	if err != nil || reg == nil {
		return nil, err
	}
	return webhooks.GitHub(webhooks.GitHubConfig{Trigger: trig, Secrets: reg, Claims: a.kvs, Logger: a.log.With("component", "webhooks")}), nil
}

// checkout adapts GitHub projects' checkouts (nil without GitHub).
func (a *Assembly) checkout() conductor.CheckoutPreparer {
	if a.gh == nil {
		return nil
	}
	return a.gh
}
