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
	for _, u := range us {
		items = append(items, adminUser(u))
	}
	c := countUsers(us)
	writeJSON(w, http.StatusOK, adminUsersJSON{Items: items, Active: c.Active, Suspended: c.Suspended,
		SuspendedNew: c.SuspendedNew, Licensed: c.Licensed})
	return nil
}

// userCounts are the seed's user figures: active (not suspended: they
// count against the license, so licensed is the same), suspended, and
// suspended new (suspended before they ever signed in).
type userCounts struct{ Active, Suspended, SuspendedNew, Licensed int }

func countUsers(us []accounts.User) userCounts {
	var c userCounts
	for _, u := range us {
		switch userState(u) {
		case stateSuspendedNew:
			c.SuspendedNew++
		case stateSuspended:
			c.Suspended++
		default:
			c.Active++
		}
	}
	c.Licensed = c.Active
	return c
}

// The seed's user windows: suspended new users never signed in.
const (
	stateActive       = "active"
	stateSuspended    = "suspended"
	stateSuspendedNew = "suspended-new"
)

func userState(u accounts.User) string {
	switch {
	case u.Suspended && u.SignInCount == 0:
		return stateSuspendedNew
	case u.Suspended:
		return stateSuspended
	}
	return stateActive
}

func (s *server) userByLogin(r *http.Request) (*accounts.User, error) {
	return s.cfg.Accounts.ByLogin(r.Context(), r.PathValue("login"))
}

func (s *server) setSuspended(suspend bool) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.suspendUser(r, r.PathValue("login"), suspend)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, adminUser(*u))
		return nil
	}
}

// The admin changes to a user, which the API and the admin pages share:
// the same account service calls, the same checks, the same audit events.

// suspendUser suspends (their sessions and tokens stop at once; audited as
// user.suspended) or activates the user of login.
func (s *server) suspendUser(r *http.Request, login string, suspend bool) (*accounts.User, error) {
	u, err := s.cfg.Accounts.ByLogin(r.Context(), login)
	if err != nil {
		return nil, err
	}
	if suspend && u.ID == me(r).ID {
		return nil, badRequest("you cannot suspend yourself; ask another admin")
	}
	if u, err = s.cfg.Accounts.SetSuspended(r.Context(), u.ID, suspend); err != nil {
		return nil, err
	}
	if suspend {
		s.record(audit.WithRequest(r.Context(), requestOf(r)), audit.UserSuspended, u, nil)
	}
	return u, nil
}

// removeUser deletes the user of login (not the caller).
func (s *server) removeUser(r *http.Request, login string) (*accounts.User, error) {
	u, err := s.cfg.Accounts.ByLogin(r.Context(), login)
	if err != nil {
		return nil, err
	}
	if u.ID == me(r).ID {
		return nil, badRequest("you cannot delete yourself; ask another admin")
	}
	return u, s.cfg.Accounts.Delete(r.Context(), u.ID)
}

// setAdminLevel gives the user of login an admin level ("" removes it;
// the caller cannot lower their own).
func (s *server) setAdminLevel(r *http.Request, login, level string) (*accounts.User, error) {
	u, err := s.cfg.Accounts.ByLogin(r.Context(), login)
	if err != nil {
		return nil, err
	}
	if u.ID == me(r).ID && level != accounts.AdminAll {
		return nil, badRequest("you cannot remove your own admin level; ask another admin")
	}
	return s.cfg.Accounts.SetAdmin(r.Context(), u.ID, level)
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.removeUser(r, r.PathValue("login"))
	if err != nil {
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
	u, err := s.setAdminLevel(r, r.PathValue("login"), body.Level)
	if err != nil {
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
