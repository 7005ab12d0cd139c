// Package github is the vcs driver for github.com and GitHub Enterprise,
// built on go-github and golang.org/x/oauth2. It reads config files at a
// pushed revision through the contents API (the vcs port the conductor
// uses), signs users in through an OAuth app, reports their organizations,
// repositories and permissions (cached briefly), follows repositories (a
// webhook and a deploy key), and posts commit statuses. webhook.go verifies
// and parses GitHub's deliveries.
//
//	github.com:  API https://api.github.com/      OAuth https://github.com/login/oauth/…
//	GHE <url>:   API <url>/api/v3/                OAuth <url>/login/oauth/…
//
// A project's repository URL is its HTTPS clone URL
// (https://github.com/<owner>/<repo>.git); the driver reads owner and repo
// from its last two path segments.
package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v93/github"
	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/vcs"
	"golang.org/x/oauth2"
)

// DotCom is the base URL of github.com.
const DotCom = "https://github.com"

// Config configures a Driver.
type Config struct {
	// BaseURL is GitHub's web URL: "" or DotCom for github.com, the
	// installation's URL (https://ghe.example.com) for GitHub Enterprise.
	BaseURL string
	// ClientID and ClientSecret are the OAuth app's credentials (login);
	// empty leaves login unavailable.
	ClientID, ClientSecret string
	// RedirectURL is Orbit's OAuth callback URL.
	RedirectURL string
	// Token authenticates the calls Orbit makes on its own behalf: config
	// reads at a revision and commit statuses (a bot's or the following
	// user's token).
	Token string
	// PermissionTTL is how long a user's permission on a repository is
	// cached; 0 means 60 s.
	PermissionTTL time.Duration
	// HTTPClient carries the requests; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock of the permission cache; nil means time.Now.
	Now func() time.Time
	// KnownHosts are the GitHub Enterprise SSH host keys checkout pins
	// (known_hosts lines); github.com's published keys when empty there.
	KnownHosts string
	// CheckoutOverHTTPS makes checkout clone over HTTPS with Token even
	// when the project has a deploy key.
	CheckoutOverHTTPS bool
}

// Driver talks to one GitHub installation.
type Driver struct {
	cfg   Config
	web   *url.URL
	api   string
	oauth oauth2.Config
	base  *gh.Client // unauthenticated; client() adds a token

	mu    sync.Mutex
	perms map[string]cachedPerm
}

type cachedPerm struct {
	perm    string
	expires time.Time
}

// New returns a driver for cfg.BaseURL.
func New(cfg Config) (*Driver, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DotCom
	}
	web, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (web.Scheme != "https" && web.Scheme != "http") || web.Host == "" {
		return nil, fmt.Errorf("github: base URL %q: want https://host", cfg.BaseURL)
	}
	if cfg.PermissionTTL <= 0 {
		cfg.PermissionTTL = 60 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Driver{cfg: cfg, web: web, perms: map[string]cachedPerm{}}
	d.api = web.String() + "/api/v3/"
	if d.IsDotCom() {
		d.api = "https://api.github.com/"
	}
	if d.base, err = gh.NewClient(gh.WithHTTPClient(cfg.HTTPClient), gh.WithURLs(&d.api, &d.api)); err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	d.oauth = oauth2.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
		Scopes: []string{"repo", "read:org", "user:email", "admin:repo_hook"},
		Endpoint: oauth2.Endpoint{
			AuthURL: web.String() + "/login/oauth/authorize", TokenURL: web.String() + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	return d, nil
}

// IsDotCom says the driver talks to github.com.
func (d *Driver) IsDotCom() bool { return d.web.Host == "github.com" }

// BaseURL is GitHub's web URL, without a trailing slash.
func (d *Driver) BaseURL() string { return d.web.String() }

// client returns a go-github client authenticated with token. Its
// options were checked by New, so a failure here means a token go-github
// refuses; the client then goes unauthenticated and GitHub answers 401.
func (d *Driver) client(token string) *gh.Client {
	c, err := d.base.Clone(gh.WithAuthToken(token))
	if err != nil {
		return d.base
	}
	return c
}

// OwnerRepo reads owner and repo from a repository URL
// (https://host/owner/repo(.git), git@host:owner/repo.git or owner/repo).
func OwnerRepo(repoURL string) (owner, repo string, err error) {
	s := strings.TrimSuffix(strings.TrimRight(repoURL, "/"), ".git")
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	} else if i := strings.Index(s, ":"); i >= 0 {
		s = "host/" + s[i+1:]
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || parts[len(parts)-1] == "" || parts[len(parts)-2] == "" {
		return "", "", fmt.Errorf("github repository URL %q: want https://host/<owner>/<repo>: %w", repoURL, vcs.ErrRepoNotFound)
	}
	return parts[len(parts)-2], parts[len(parts)-1], nil
}

// statusOf is the HTTP status of a go-github error (0 when none).
func statusOf(err error) int {
	var e *gh.ErrorResponse
	if errors.As(err, &e) && e.Response != nil {
		return e.Response.StatusCode
	}
	return 0
}

// ResolveRevision returns the commit SHA of a branch, tag or SHA.
func (d *Driver) ResolveRevision(ctx context.Context, repoURL, ref string) (string, error) {
	owner, repo, err := OwnerRepo(repoURL)
	if err != nil {
		return "", err
	}
	sha, _, err := d.client(d.cfg.Token).Repositories.GetCommitSHA1(ctx, owner, repo, ref, "")
	switch statusOf(err) {
	case 0:
		if err != nil {
			return "", fmt.Errorf("resolve %q in %s/%s: %w", ref, owner, repo, err)
		}
		return sha, nil
	case http.StatusNotFound:
		if _, _, rerr := d.client(d.cfg.Token).Repositories.Get(ctx, owner, repo); statusOf(rerr) == http.StatusNotFound {
			return "", fmt.Errorf("%s/%s on %s: %w", owner, repo, d.web.Host, vcs.ErrRepoNotFound)
		}
		fallthrough
	case http.StatusUnprocessableEntity:
		return "", fmt.Errorf("%q in %s/%s: %w", ref, owner, repo, vcs.ErrRevisionNotFound)
	}
	return "", fmt.Errorf("resolve %q in %s/%s: %w", ref, owner, repo, err)
}

// FileAt returns the content of path at revision, read through the
// contents API.
func (d *Driver) FileAt(ctx context.Context, repoURL, revision, path string) ([]byte, error) {
	owner, repo, err := OwnerRepo(repoURL)
	if err != nil {
		return nil, err
	}
	c := d.client(d.cfg.Token)
	file, _, _, err := c.Repositories.GetContents(ctx, owner, repo, path, &gh.RepositoryContentGetOptions{Ref: revision})
	if statusOf(err) == http.StatusNotFound {
		if _, serr := d.ResolveRevision(ctx, repoURL, revision); serr != nil {
			return nil, serr
		}
		return nil, fmt.Errorf("%s at %s in %s/%s: %w", path, revision, owner, repo, vcs.ErrFileNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s at %s in %s/%s: %w", path, revision, owner, repo, err)
	}
	if file == nil {
		return nil, fmt.Errorf("%s at %s in %s/%s is a directory: %w", path, revision, owner, repo, vcs.ErrFileNotFound)
	}
	s, err := file.GetContent()
	if err != nil {
		return nil, fmt.Errorf("decode %s at %s: %w", path, revision, err)
	}
	return []byte(s), nil
}

// AuthorizeURL is where a browser goes to sign in with GitHub; GitHub
// comes back to Config.RedirectURL with ?code=…&state=state. The caller
// makes state and checks it on the way back.
func (d *Driver) AuthorizeURL(state string) string {
	return d.oauth.AuthCodeURL(state)
}

// Exchange trades the callback's code for the user's access token.
func (d *Driver) Exchange(ctx context.Context, code string) (token string, err error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, d.cfg.HTTPClient)
	t, err := d.oauth.Exchange(ctx, code)
	if err != nil {
		return "", fmt.Errorf("github oauth exchange: %w", err)
	}
	return t.AccessToken, nil
}

// Identity is a GitHub user.
type Identity struct {
	ID                 int64
	Login, Name, Email string
}

// User returns the token's user.
func (d *Driver) User(ctx context.Context, token string) (Identity, error) {
	u, _, err := d.client(token).Users.Get(ctx, "")
	if err != nil {
		return Identity{}, fmt.Errorf("github user: %w", err)
	}
	return Identity{ID: u.GetID(), Login: u.GetLogin(), Name: u.GetName(), Email: u.GetEmail()}, nil
}

// SignIn is who a token's user is for Orbit's accounts, with their
// organizations (checked against the Required Org Membership List); with
// AuthorizeURL and Exchange it is the API's GitHub sign-in port.
func (d *Driver) SignIn(ctx context.Context, token string) (accounts.Identity, error) {
	u, err := d.User(ctx, token)
	if err != nil {
		return accounts.Identity{}, err
	}
	orgs, err := d.Orgs(ctx, token)
	if err != nil {
		return accounts.Identity{}, fmt.Errorf("organizations of %s: %w", u.Login, err)
	}
	return accounts.Identity{Provider: accounts.ProviderGitHub, ProviderID: strconv.FormatInt(u.ID, 10),
		Login: u.Login, Name: u.Name, Email: u.Email, Orgs: orgs}, nil
}

// Orgs returns the logins of the token user's organizations.
func (d *Driver) Orgs(ctx context.Context, token string) ([]string, error) {
	var out []string
	for o, err := range d.client(token).Organizations.ListIter(ctx, "", &gh.ListOptions{PerPage: 100}) {
		if err != nil {
			return nil, fmt.Errorf("github orgs: %w", err)
		}
		out = append(out, o.GetLogin())
	}
	return out, nil
}

// Repo is a repository a user may follow.
type Repo struct {
	Owner, Name   string
	CloneURL      string
	DefaultBranch string
	Private       bool
	// Permission is "admin", "write" or "read".
	Permission string
}

// Repos lists the repositories the token's user may see.
func (d *Driver) Repos(ctx context.Context, token string) ([]Repo, error) {
	var out []Repo
	opts := &gh.RepositoryListByAuthenticatedUserOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for r, err := range d.client(token).Repositories.ListByAuthenticatedUserIter(ctx, opts) {
		if err != nil {
			return nil, fmt.Errorf("github repos: %w", err)
		}
		perm := "read"
		switch p := r.GetPermissions(); {
		case p.GetAdmin():
			perm = "admin"
		case p.GetPush() || p.GetMaintain():
			perm = "write"
		}
		out = append(out, Repo{Owner: r.GetOwner().GetLogin(), Name: r.GetName(), CloneURL: r.GetCloneURL(),
			DefaultBranch: r.GetDefaultBranch(), Private: r.GetPrivate(), Permission: perm})
	}
	return out, nil
}

// Permission returns the token user's permission on owner/repo: "admin",
// "write", "read" or "none" (also for a repository they cannot see). The
// answer is cached for Config.PermissionTTL.
func (d *Driver) Permission(ctx context.Context, token, owner, repo string) (string, error) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:]) + "/" + owner + "/" + repo
	now := d.cfg.Now()
	d.mu.Lock()
	c, ok := d.perms[key]
	d.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.perm, nil
	}
	u, err := d.User(ctx, token)
	if err != nil {
		return "", err
	}
	lvl, _, err := d.client(token).Repositories.GetPermissionLevel(ctx, owner, repo, u.Login)
	perm := "none"
	switch {
	case statusOf(err) == http.StatusNotFound || statusOf(err) == http.StatusForbidden:
	case err != nil:
		return "", fmt.Errorf("github permission on %s/%s: %w", owner, repo, err)
	default:
		switch p := lvl.GetPermission(); p {
		case "admin", "write", "read":
			perm = p
		case "maintain":
			perm = "write"
		case "triage":
			perm = "read"
		}
	}
	d.mu.Lock()
	d.perms[key] = cachedPerm{perm: perm, expires: now.Add(d.cfg.PermissionTTL)}
	d.mu.Unlock()
	return perm, nil
}
