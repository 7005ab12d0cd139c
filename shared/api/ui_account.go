package api

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/orbit-ci/orbit/shared/accounts"
)

// The account page and its forms (any signed-in user, on their own
// account):
//
//	GET  /ui/account                      profile, GitHub connection, API tokens, SSH keys
//	POST /ui/account/token                {label} → the page again, showing the new token once
//	POST /ui/account/token/{id}/revoke
//	POST /ui/account/ssh-key              {key}: an authorized_keys line to add
//	POST /ui/account/ssh-key/delete       {index}: the key to remove
//	POST /ui/account/notifications        {email, enabled}: workflow mails (with Config.Notifications)
//
// The forms run the API's handlers of /api/v2/me (me.go) through callAPI.
func (s *server) routeUIAccount(mux *http.ServeMux) {
	back := func(*http.Request) string { return "/ui/account" }
	s.route(mux, "GET /ui/account", signedIn, s.html(s.uiAccount))
	s.route(mux, "POST /ui/account/token", signedIn, s.html(s.uiAccountCreateToken))
	s.route(mux, "POST /ui/account/token/{id}/revoke", signedIn, s.formAction(back, func(r *http.Request) (string, string, error) {
		if _, err := s.callAPI(r, s.revokeToken, nil); err != nil {
			return "", "", err
		}
		return "/ui/account", "Token revoked: it no longer works.", nil
	}))
	s.route(mux, "POST /ui/account/ssh-key", signedIn, s.formAction(back, func(r *http.Request) (string, string, error) {
		keys := append(slices.Clone(me(r).SSHKeys), formValue(r, "key"))
		return s.accountSetKeys(r, keys, "SSH key added.")
	}))
	s.route(mux, "POST /ui/account/ssh-key/delete", signedIn, s.formAction(back, func(r *http.Request) (string, string, error) {
		keys := slices.Clone(me(r).SSHKeys)
		i, err := strconv.Atoi(r.PostFormValue("index"))
		if err != nil || i < 0 || i >= len(keys) {
			return "", "", badRequest("index %q: no such key (reload the page)", r.PostFormValue("index"))
		}
		return s.accountSetKeys(r, slices.Delete(keys, i, i+1), "SSH key removed.")
	}))
	if s.cfg.Notifications != nil {
		s.route(mux, "POST /ui/account/notifications", signedIn, s.formAction(back, s.accountNotifications))
	}
}

// accountNotifications sets the user's workflow mails.
func (s *server) accountNotifications(r *http.Request) (string, string, error) {
	on := r.PostFormValue("enabled") != ""
	_, err := s.callAPI(r, s.setUserNotifications, map[string]any{"email": formValue(r, "email"), "enabled": on},
		"login", me(r).Login)
	if err != nil {
		return "", "", err
	}
	if on {
		return "/ui/account", "Workflow emails go to " + formValue(r, "email") + ".", nil
	}
	return "/ui/account", "Workflow emails turned off.", nil
}

func (s *server) accountSetKeys(r *http.Request, keys []string, notice string) (string, string, error) {
	if _, err := s.callAPI(r, s.putSSHKeys, sshKeysJSON{Keys: keys}); err != nil {
		return "", "", err
	}
	return "/ui/account", notice, nil
}

type accountPage struct {
	uiBase
	Account *accounts.User
	Tokens  []accounts.Token
	// NewToken is the token just created, shown once.
	NewToken, NewTokenLabel string
	// GitHub: Orbit signs in with GitHub (named GitHubName); the user may
	// connect it when they signed in otherwise.
	GitHub     bool
	GitHubName string
	// Notifications: the workflow mails form.
	Notifications bool
}

func (s *server) accountData(r *http.Request) (*accountPage, error) {
	u := me(r)
	ts, err := s.cfg.Accounts.Tokens(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	return &accountPage{uiBase: uiBase{Title: "Account", Nav: "account"}, Account: u, Tokens: ts,
		GitHub: s.cfg.SignIn.GitHub != nil, GitHubName: s.cfg.SignIn.gitHubName(),
		Notifications: s.cfg.Notifications != nil}, nil
}

func (s *server) uiAccount(r *http.Request) (string, uiPage, error) {
	page, err := s.accountData(r)
	return "account", page, err
}

// uiAccountCreateToken creates a token and answers the account page with
// it (not a redirect: the token is shown in this answer only, which is
// never cached).
func (s *server) uiAccountCreateToken(r *http.Request) (string, uiPage, error) {
	label := formValue(r, "label")
	a, err := s.callAPI(r, s.createToken, map[string]string{"label": label})
	if err != nil {
		return "", nil, err
	}
	page, err := s.accountData(r)
	if err != nil {
		return "", nil, err
	}
	page.NewToken, _ = a["token"].(string)
	page.NewTokenLabel = label
	return "account", page, nil
}
