package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
)

// The admin pages (instance admins only, siteAdmin), CircleCI Server's
// "Admin Settings" built on what the admin API does, calling the same
// services with the same checks and audit events:
//
//	GET  /ui/admin                           overview: the seed's active and licensed users, links
//	GET  /ui/admin/users?state=S             users by the seed's windows: active, inactive,
//	                                         suspended, suspended-new
//	POST /ui/admin/users/{login}/suspend     suspend (user.suspended); activate; admin (level);
//	POST /ui/admin/users/{login}/activate    delete (confirmed in the browser first)
//	POST /ui/admin/users/{login}/admin
//	POST /ui/admin/users/{login}/delete
//	GET  /ui/admin/settings                  system settings, LDAP (ui_admin_settings.go)
//	GET  /ui/admin/audit, usage, queues, health   (ui_admin_ops.go)
//	GET  /ui/admin/nodes                     Nomad clients (ui_admin_nodes.go)

// inactiveAfter: a user who has not signed in for this long is in the
// "Inactive" window (still licensed until suspended).
const inactiveAfter = 30 * 24 * time.Hour

func (s *server) routeUIAdmin(mux *http.ServeMux) {
	s.route(mux, "GET /ui/admin", siteAdmin, s.html(s.uiAdminOverview))
	s.route(mux, "GET /ui/admin/users", siteAdmin, s.html(s.uiAdminUsers))
	s.route(mux, "POST /ui/admin/users/{login}/suspend", siteAdmin, s.action(s.uiSuspend(true)))
	s.route(mux, "POST /ui/admin/users/{login}/activate", siteAdmin, s.action(s.uiSuspend(false)))
	s.route(mux, "POST /ui/admin/users/{login}/admin", siteAdmin, s.action(s.uiSetAdmin))
	s.route(mux, "POST /ui/admin/users/{login}/delete", siteAdmin, s.action(s.uiDeleteUser))
	s.routeUIAdminSettings(mux)
	s.routeUIAdminOps(mux)
	s.routeUIAdminNodes(mux)
}

// adminBase is what every admin page embeds: the layout's base and the
// admin navigation's state.
type adminBase struct {
	uiBase
	// Section is the active admin entry ("overview", "users", …).
	Section string
	// HasAudit, HasControls, HasNodes: the audit log and usage pages, the
	// queue cancel forms and the nodes page are served.
	HasAudit, HasControls, HasNodes bool
}

func (s *server) adminBase(title, section string) adminBase {
	return adminBase{uiBase: uiBase{Title: title, Nav: "admin"}, Section: section,
		HasAudit: s.cfg.Audit != nil, HasControls: s.cfg.Controls != nil, HasNodes: s.cfg.Nodes != nil}
}

type adminOverviewPage struct {
	adminBase
	Counts userCounts
	// RecentlyActive signed in within inactiveAfter.
	RecentlyActive, Total int
}

func (s *server) uiAdminOverview(r *http.Request) (string, uiPage, error) {
	us, err := s.cfg.Accounts.List(r.Context())
	if err != nil {
		return "", nil, err
	}
	p := &adminOverviewPage{adminBase: s.adminBase("Admin", "overview"), Counts: countUsers(us), Total: len(us)}
	for _, u := range us {
		if adminWindow(u, s.st.Now()) == "active" {
			p.RecentlyActive++
		}
	}
	return "admin", p, nil
}

// adminWindow is the seed's window of the Users page a user is in:
// active, inactive (not suspended, no sign-in for inactiveAfter),
// suspended or suspended-new.
func adminWindow(u accounts.User, now time.Time) string {
	st := userState(u)
	if st == stateActive && now.Sub(u.CurrentSignIn) > inactiveAfter {
		return "inactive"
	}
	return st
}

// adminWindows are the Users page's tabs, in the seed's order.
var adminWindows = []struct{ State, Label string }{
	{"active", "Active"}, {"inactive", "Inactive"}, {"suspended", "Suspended"}, {"suspended-new", "Suspended new users"},
}

type adminUsersPage struct {
	adminBase
	State string
	Tabs  []adminTab
	Users []adminUserRow
	// Me is the signed-in admin's login: no action on themselves.
	Me string
}

type adminTab struct {
	State, Label string
	Count        int
	Current      bool
}

type adminUserRow struct {
	Login, Name, Provider, Admin, Window string
	SignInCount                          int
	LastSignIn, CreatedAt                time.Time
	Suspended                            bool
}

func (s *server) uiAdminUsers(r *http.Request) (string, uiPage, error) {
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "active"
	}
	if !slices.ContainsFunc(adminWindows, func(w struct{ State, Label string }) bool { return w.State == state }) {
		return "", nil, badRequest("state %q: want active, inactive, suspended or suspended-new", state)
	}
	us, err := s.cfg.Accounts.List(r.Context())
	if err != nil {
		return "", nil, err
	}
	p := &adminUsersPage{adminBase: s.adminBase("Users · Admin", "users"), State: state, Me: me(r).Login}
	counts := map[string]int{}
	now := s.st.Now()
	for _, u := range us {
		w := adminWindow(u, now)
		counts[w]++
		if w != state {
			continue
		}
		p.Users = append(p.Users, adminUserRow{Login: u.Login, Name: u.Name, Provider: u.Provider, Admin: u.Admin,
			Window: w, SignInCount: u.SignInCount, LastSignIn: u.CurrentSignIn, CreatedAt: u.CreatedAt, Suspended: u.Suspended})
	}
	slices.SortFunc(p.Users, func(a, b adminUserRow) int { return strings.Compare(a.Login, b.Login) })
	for _, w := range adminWindows {
		p.Tabs = append(p.Tabs, adminTab{State: w.State, Label: w.Label, Count: counts[w.State], Current: w.State == state})
	}
	return "admin-users", p, nil
}

// usersBack is the Users tab a user action returns to (the form's
// "state"; active by default).
func usersBack(r *http.Request) string {
	st := r.PostFormValue("state")
	if !slices.ContainsFunc(adminWindows, func(w struct{ State, Label string }) bool { return w.State == st }) {
		st = "active"
	}
	return "/ui/admin/users?state=" + url.QueryEscape(st)
}

func (s *server) uiSuspend(suspend bool) actionFunc {
	return func(r *http.Request) (string, string, error) {
		u, err := s.suspendUser(r, r.PathValue("login"), suspend)
		if err != nil {
			return "", "", err
		}
		if suspend {
			return usersBack(r), u.Login + " is suspended: their sessions and API tokens stopped working.", nil
		}
		return usersBack(r), u.Login + " is active again.", nil
	}
}

func (s *server) uiSetAdmin(r *http.Request) (string, string, error) {
	level := r.PostFormValue("level")
	switch level {
	case accounts.AdminNone, accounts.AdminAll, accounts.AdminWriteSettings:
	default:
		return "", "", badRequest("level %q: want all, write-settings or empty (not an admin)", level)
	}
	u, err := s.setAdminLevel(r, r.PathValue("login"), level)
	if err != nil {
		return "", "", err
	}
	if level == accounts.AdminNone {
		return usersBack(r), u.Login + " is no longer an admin.", nil
	}
	return usersBack(r), u.Login + " is an admin (" + level + ").", nil
}

func (s *server) uiDeleteUser(r *http.Request) (string, string, error) {
	u, err := s.removeUser(r, r.PathValue("login"))
	if err != nil {
		return "", "", err
	}
	return usersBack(r), "User " + u.Login + " deleted.", nil
}
