package compose

import (
	"context"
	"fmt"
	"strconv"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/secrets"
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

// signIn is the API's sign-in configuration and the permissions that
// follow from it: GitHub's OAuth and repository permissions when GitHub is
// configured.
func (a *Assembly) signIn() (api.SignIn, accounts.Permissions, error) {
	in := api.SignIn{Secure: a.secure()}
	d, _, err := a.GitHub()
	if err != nil || d == nil {
		return in, accounts.Permissions{}, err
	}
	if _, err := a.Vault(); err != nil { // sets a.keysSvc
		return in, accounts.Permissions{}, err
	}
	sealer := secrets.NewSealer(a.keysSvc)
	in.GitHub = githubOAuth{d}
	in.SealToken = func(ctx context.Context, userID string, tok []byte) ([]byte, error) {
		return sealer.Seal(ctx, tok, tokenAAD(userID))
	}
	perms := accounts.Permissions{GitHub: d, Open: func(ctx context.Context, u *accounts.User) (string, error) {
		b, err := sealer.Open(ctx, u.GitHubToken, tokenAAD(u.ID))
		return string(b), err
	}}
	return in, perms, nil
}

// secure says whether Orbit is served over HTTPS (its base URL's scheme),
// so cookies are marked Secure.
func (a *Assembly) secure() bool {
	return len(a.cfg.BaseURL) > 8 && a.cfg.BaseURL[:8] == "https://"
}

// githubOAuth adapts the GitHub driver to the API's sign-in port.
type githubOAuth struct{ d *github.Driver }

func (g githubOAuth) AuthorizeURL(state string) string { return g.d.AuthorizeURL(state) }

func (g githubOAuth) Exchange(ctx context.Context, code string) (string, error) {
	return g.d.Exchange(ctx, code)
}

func (g githubOAuth) Identity(ctx context.Context, token string) (accounts.Identity, error) {
	u, err := g.d.User(ctx, token)
	if err != nil {
		return accounts.Identity{}, err
	}
	orgs, err := g.d.Orgs(ctx, token)
	if err != nil {
		return accounts.Identity{}, fmt.Errorf("organizations of %s: %w", u.Login, err)
	}
	return accounts.Identity{Provider: accounts.ProviderGitHub, ProviderID: strconv.FormatInt(u.ID, 10),
		Login: u.Login, Name: u.Name, Email: u.Email, Orgs: orgs}, nil
}

// actorOf names the signed-in caller of a request for the audit log.
func actorOf(ctx context.Context) (audit.Entity, bool) {
	u, ok := accounts.FromContext(ctx)
	if !ok {
		return audit.Entity{}, false
	}
	return audit.Entity{ID: u.ID, Type: "user", Name: u.Login}, true
}
