package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
)

// Admin routes for users and the account settings (instance admins only),
// the seed's REPL tasks and Replicated settings:
//
//	GET  /api/v2/admin/users                      {items: [user]}, {active, suspended, suspended_new, licensed}
//	POST /api/v2/admin/users/{login}/suspend      suspend: their sessions and tokens stop at once
//	POST /api/v2/admin/users/{login}/activate     reactivate (or activate a "suspended new" user)
//	PUT  /api/v2/admin/users/{login}/admin        {"level": "all"|"write-settings"|""}
//	PUT  /api/v2/admin/users/{login}/role         {"role": "read"|"write"|""}: the local organization's role
//	POST /api/v2/admin/users/{login}/token        {label} → 201 a new API token for the user (automation)
//	DELETE /api/v2/admin/users/{login}            the seed's delete-by-login
//	GET  /api/v2/admin/settings                   the account settings
//	PUT  /api/v2/admin/settings                   {suspend_new_users, required_orgs, login_banner}
func (s *server) routeUsers(mux *http.ServeMux) {
	s.route(mux, "GET /api/v2/admin/users", siteAdmin, s.api(s.adminUsers))
	s.route(mux, "POST /api/v2/admin/users/{login}/suspend", siteAdmin, s.api(s.setSuspended(true)))
	s.route(mux, "POST /api/v2/admin/users/{login}/activate", siteAdmin, s.api(s.setSuspended(false)))
	s.route(mux, "PUT /api/v2/admin/users/{login}/admin", siteAdmin, s.api(s.setAdmin))
	s.route(mux, "PUT /api/v2/admin/users/{login}/role", siteAdmin, s.api(s.setRole))
	s.route(mux, "POST /api/v2/admin/users/{login}/token", siteAdmin, s.api(s.adminToken))
	s.route(mux, "DELETE /api/v2/admin/users/{login}", siteAdmin, s.api(s.deleteUser))
	s.route(mux, "GET /api/v2/admin/settings", siteAdmin, s.api(s.getSettings))
	s.route(mux, "PUT /api/v2/admin/settings", siteAdmin, s.api(s.putSettings))
	s.routeLDAPTest(mux)
}

// adminUserView has the seed's user statistics fields.
type adminUserView struct {
	ID          string    `json:"id"`
	Login       string    `json:"login"`
	Name        string    `json:"name"`
	Email       string    `json:"email,omitempty"`
	Provider    string    `json:"provider"`
	Admin       string    `json:"admin"`
	Suspended   bool      `json:"suspended"`
	LocalRole   string    `json:"local_role,omitempty"`
	GitHub      string    `json:"github_login,omitempty"`
	SignInCount int       `json:"sign_in_count"`
	CreatedAt   time.Time `json:"created_at"`
	// The seed's user statistics: activated (not suspended), the current
	// and last sign-in with their addresses, emails.
	Activated       bool      `json:"activated"`
	Emails          []string  `json:"emails"`
	CurrentSignIn   time.Time `json:"current_sign_in_at,omitzero"`
	CurrentSignInIP string    `json:"current_sign_in_ip,omitempty"`
	LastSignIn      time.Time `json:"last_sign_in_at,omitzero"`
	LastSignInIP    string    `json:"last_sign_in_ip,omitempty"`
}

func adminUser(u accounts.User) adminUserView {
	return adminUserView{ID: u.ID, Login: u.Login, Name: u.Name, Email: u.Email, Provider: u.Provider, Admin: u.Admin,
		Suspended: u.Suspended, LocalRole: u.LocalRole, GitHub: u.GitHubLogin, SignInCount: u.SignInCount,
		CreatedAt: u.CreatedAt, Activated: !u.Suspended, Emails: emails(u.Email),
		CurrentSignIn: u.CurrentSignIn, CurrentSignInIP: u.CurrentSignInIP, LastSignIn: u.LastSignIn, LastSignInIP: u.LastSignInIP}
}

func emails(e string) []string {
	if e == "" {
		return []string{}
	}
	return []string{e}
}

func (s *server) adminUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := s.cfg.Accounts.List(r.Context())
	if err != nil {
		return err
	}
	// ?period=last-month: the seed's "users active in the last month"
	// statistics (signed in within a month); default all time.
	switch p := r.URL.Query().Get("period"); p {
	case "", "all-time":
	case "last-month":
		since := s.st.Now().AddDate(0, -1, 0)
		us = slices.DeleteFunc(us, func(u accounts.User) bool { return u.CurrentSignIn.Before(since) })
	default:
		return badRequest("query parameter period: %q; want all-time or last-month", p)
	}
	items := make([]adminUserView, 0, len(us))
	var active, suspended, suspendedNew int
	for _, u := range us {
		items = append(items, adminUser(u))
		switch {
		case u.Suspended && u.SignInCount == 0:
			suspendedNew++
		case u.Suspended:
			suspended++
		default:
			active++
		}
	}
	writeJSON(w, http.StatusOK, adminUsersJSON{Items: items, Active: active, Suspended: suspended,
		SuspendedNew: suspendedNew, Licensed: active})
	return nil
}

func (s *server) userByLogin(r *http.Request) (*accounts.User, error) {
	return s.cfg.Accounts.ByLogin(r.Context(), r.PathValue("login"))
}

func (s *server) setSuspended(suspend bool) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.userByLogin(r)
		if err != nil {
			return err
		}
		if u, err = s.cfg.Accounts.SetSuspended(r.Context(), u.ID, suspend); err != nil {
			return err
		}
		if suspend {
			s.record(audit.WithRequest(r.Context(), requestOf(r)), audit.UserSuspended, u, nil)
		}
		writeJSON(w, http.StatusOK, adminUser(*u))
		return nil
	}
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userByLogin(r)
	if err != nil {
		return err
	}
	if u.ID == me(r).ID {
		return badRequest("you cannot delete yourself; ask another admin")
	}
	if err := s.cfg.Accounts.Delete(r.Context(), u.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, message{Message: "User " + u.Login + " deleted."})
	return nil
}

func (s *server) setAdmin(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Level string `json:"level"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	u, err := s.userByLogin(r)
	if err != nil {
		return err
	}
	if u.ID == me(r).ID && body.Level != accounts.AdminAll {
		return badRequest("you cannot remove your own admin level; ask another admin")
	}
	if u, err = s.cfg.Accounts.SetAdmin(r.Context(), u.ID, body.Level); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminUser(*u))
	return nil
}

func (s *server) setRole(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Role string `json:"role"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	u, err := s.userByLogin(r)
	if err != nil {
		return err
	}
	if u, err = s.cfg.Accounts.SetLocalRole(r.Context(), u.ID, body.Role); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminUser(*u))
	return nil
}

func (s *server) adminToken(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Label string `json:"label"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		return err
	}
	u, err := s.userByLogin(r)
	if err != nil {
		return err
	}
	secret, t, err := s.cfg.Accounts.CreateToken(r.Context(), u.ID, body.Label)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenView{ID: t.ID, Label: t.Label, CreatedAt: t.CreatedAt, Token: secret})
	return nil
}

func (s *server) getSettings(w http.ResponseWriter, r *http.Request) error {
	set, err := s.cfg.Accounts.Settings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

func (s *server) putSettings(w http.ResponseWriter, r *http.Request) error {
	var set accounts.Settings
	if err := decodeJSON(w, r, &set, false); err != nil {
		return err
	}
	if err := s.cfg.Accounts.SetSettings(r.Context(), set); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

// ldapTester is the seed's LDAP "test" action (*ldapauth.Authenticator).
type ldapTester interface {
	Test(ctx context.Context) error
}

// routeLDAPTest serves POST /api/v2/admin/ldap/test: the seed's "test"
// button, {ok, message} (the message says which stage failed).
func (s *server) routeLDAPTest(mux *http.ServeMux) {
	t, ok := s.cfg.SignIn.Password.(ldapTester)
	if !ok {
		return
	}
	s.route(mux, "POST /api/v2/admin/ldap/test", siteAdmin, s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := t.Test(r.Context()); err != nil {
			writeJSON(w, http.StatusOK, okMessageJSON{OK: false, Message: err.Error()})
			return nil
		}
		writeJSON(w, http.StatusOK, okMessageJSON{OK: true, Message: "LDAP connection and test account work"})
		return nil
	}))
}

// okMessageJSON is the answer of a check: whether it passed, and why not.
type okMessageJSON struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}
