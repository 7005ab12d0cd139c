package api

import (
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/orbit-ci/orbit/shared/accounts"
)

// The caller's own account:
//
//	GET    /api/v2/me                      {id, login, name} (CircleCI's User)
//	GET    /api/v2/me/token                Orbit extension: {items: [{id, label, created_at}]} (never the token)
//	POST   /api/v2/me/token                {label} → 201 {id, label, created_at, token}: the only time the token is shown
//	DELETE /api/v2/me/token/{id}           revoke → {message}
//
// (CircleCI manages personal tokens in its UI and API v1.1; Orbit's CLI
// and scripts use these routes.)
func (s *server) routeMe(mux *http.ServeMux) {
	s.route(mux, "GET /api/v2/me", signedIn, s.api(s.getMe))
	s.route(mux, "GET /api/v2/me/token", signedIn, s.api(s.listTokens))
	s.route(mux, "POST /api/v2/me/token", signedIn, s.api(s.createToken))
	s.route(mux, "DELETE /api/v2/me/token/{id}", signedIn, s.api(s.revokeToken))
	s.route(mux, "GET /api/v2/me/ssh-keys", signedIn, s.api(s.getSSHKeys))
	s.route(mux, "PUT /api/v2/me/ssh-keys", signedIn, s.api(s.putSSHKeys))
}

type sshKeysJSON struct {
	Keys []string `json:"keys"`
}

func (s *server) getSSHKeys(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, sshKeysJSON{Keys: append([]string{}, me(r).SSHKeys...)})
	return nil
}

// putSSHKeys replaces the caller's SSH public keys: each an
// authorized_keys line, refused with its position when it does not parse.
func (s *server) putSSHKeys(w http.ResponseWriter, r *http.Request) error {
	var body sshKeysJSON
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	keys := make([]string, 0, len(body.Keys))
	for i, k := range body.Keys {
		pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
		if err != nil {
			return badRequest("keys[%d]: not an SSH public key (authorized_keys format): %v", i, err)
		}
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
		if comment != "" {
			line += " " + comment
		}
		keys = append(keys, line)
	}
	u, err := s.cfg.Accounts.SetSSHKeys(r.Context(), me(r).ID, keys)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sshKeysJSON{Keys: append([]string{}, u.SSHKeys...)})
	return nil
}

// sshKeys are the keys a rerun with SSH admits: the caller's account keys
// and, when Config.SSHKeys is set, the ones it adds (GitHub's).
func (s *server) sshKeys(r *http.Request) ([]string, error) {
	keys := append([]string{}, me(r).SSHKeys...)
	if s.cfg.SSHKeys != nil {
		more, err := s.cfg.SSHKeys(r)
		if err != nil {
			return nil, err
		}
		keys = append(keys, more...)
	}
	return keys, nil
}

// userView is CircleCI's User.
type userView struct {
	ID    string `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
	// AvatarURL is null: Orbit keeps no avatars.
	AvatarURL *string `json:"avatar_url"`
}

func me(r *http.Request) *accounts.User {
	u, _ := accounts.FromContext(r.Context())
	return u // the route's rule made sure there is one
}

func (s *server) getMe(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, publicUser(me(r)))
	return nil
}

type tokenView struct {
	ID        string    `json:"id"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"created_at"`
	// Token is set only in the answer that creates it.
	Token string `json:"token,omitempty"`
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.cfg.Accounts.Tokens(r.Context(), me(r).ID)
	if err != nil {
		return err
	}
	writeList(w, ts, "", func(t accounts.Token) tokenView { return tokenView{ID: t.ID, Label: t.Label, CreatedAt: t.CreatedAt} })
	return nil
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Label string `json:"label"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		return err
	}
	secret, t, err := s.cfg.Accounts.CreateToken(r.Context(), me(r).ID, body.Label)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenView{ID: t.ID, Label: t.Label, CreatedAt: t.CreatedAt, Token: secret})
	return nil
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Accounts.RevokeToken(r.Context(), me(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "Token revoked."})
	return nil
}
