package compose

import (
	"context"
	"fmt"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs/github"
)

// Accounts is the users, tokens and sessions service, on the store's kv,
// its sessions signed with their own derived key.
func (a *Assembly) Accounts() (*accounts.Service, error) {
	if a.accounts != nil {
		return a.accounts, nil
	}
	if _, err := a.Store(); err != nil {
		return nil, err
	}
	keys, err := a.Keys()
	if err != nil {
		return nil, err
	}
	svc, err := accounts.New(a.kvs, accounts.Config{SessionKey: keys.Sessions})
	if err != nil {
		return nil, err
	}
	a.accounts = svc
	return svc, nil
}

// tokenAAD binds a sealed GitHub token to its user.
func tokenAAD(userID string) map[string]string {
	return map[string]string{"purpose": "github-oauth-token", "user": userID}
}

// signIn is the API's sign-in configuration, the permissions that follow
// from it and the GitHub follower: GitHub's OAuth, repository permissions
// and following when GitHub is configured.
func (a *Assembly) signIn() (api.SignIn, accounts.Permissions, api.GitHubFollower, error) {
	in := api.SignIn{Secure: a.secure()}
	l, err := a.LDAP(context.Background())
	if err != nil {
		return in, accounts.Permissions{}, nil, err
	}
	if l != nil {
		in.Password = l
	}
	d, reg, err := a.GitHub()
	if err != nil || d == nil {
		return in, accounts.Permissions{}, nil, err
	}
	if _, err := a.Vault(); err != nil { // sets a.keysSvc
		return in, accounts.Permissions{}, nil, err
	}
	sealer := secrets.NewSealer(a.keysSvc)
	in.GitHub, in.GitHubURL = d, a.cfg.GitHub.BaseURL
	in.SealToken = func(ctx context.Context, userID string, tok []byte) ([]byte, error) {
		return sealer.Seal(ctx, tok, tokenAAD(userID))
	}
	perms := accounts.Permissions{GitHub: d, Orgs: d, Open: func(ctx context.Context, u *accounts.User) (string, error) {
		b, err := sealer.Open(ctx, u.GitHubToken, tokenAAD(u.ID))
		return string(b), err
	}}
	return in, perms, githubFollower{a: a, d: d, reg: reg, perms: perms}, nil
}

// secure says whether Orbit is served over HTTPS (its base URL's scheme),
// so cookies are marked Secure.
func (a *Assembly) secure() bool {
	return len(a.cfg.BaseURL) > 8 && a.cfg.BaseURL[:8] == "https://"
}

// actorOf names the signed-in caller of a request for the audit log.
func actorOf(ctx context.Context) (audit.Entity, bool) {
	u, ok := accounts.FromContext(ctx)
	if !ok {
		return audit.Entity{}, false
	}
	return audit.Entity{ID: u.ID, Type: "user", Name: u.Login}, true
}

// githubFollower follows GitHub repositories with the user's own token.
type githubFollower struct {
	a     *Assembly
	d     *github.Driver
	reg   *github.Registry
	perms accounts.Permissions
}

func (f githubFollower) Follow(ctx context.Context, u *accounts.User, owner, repo string) (store.Project, error) {
	tok, err := f.token(ctx, u)
	if err != nil {
		return store.Project{}, err
	}
	v, err := f.a.Vault()
	if err != nil {
		return store.Project{}, err
	}
	st, err := f.a.Store()
	if err != nil {
		return store.Project{}, err
	}
	hooks := f.a.cfg.GitHub.WebhookBaseURL
	if hooks == "" {
		hooks = f.a.cfg.BaseURL
	}
	return f.reg.Follow(ctx, f.d, v, st, github.FollowRequest{Token: tok, Owner: owner, Repo: repo,
		WebhookURL: strings.TrimRight(hooks, "/") + "/webhooks/github"})
}

func (f githubFollower) Unfollow(ctx context.Context, u *accounts.User, owner, repo string) error {
	tok, err := f.token(ctx, u)
	if err != nil {
		return err
	}
	return f.reg.Unfollow(ctx, f.d, tok, owner, repo)
}

func (f githubFollower) token(ctx context.Context, u *accounts.User) (string, error) {
	if len(u.GitHubToken) == 0 {
		return "", fmt.Errorf("%w: connect your GitHub account first (sign in with GitHub)", accounts.ErrInvalid)
	}
	return f.perms.Open(ctx, u)
}
