package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
)

// The System Settings page: the seed's Suspend New Users, Required Org
// Membership List, Serve Artifacts with Unsafe Content-Types and login
// banner (accounts.Settings, as PUT /api/v2/admin/settings changes them),
// and the LDAP settings with their "test" action.
//
//	GET  /ui/admin/settings
//	POST /ui/admin/settings            the form: suspend_new_users, required_orgs (comma-separated),
//	                                   serve_unsafe_artifacts, login_banner
//	POST /ui/admin/settings/ldap-test  the seed's LDAP "test" (when LDAP sign-in is configured)

// maxBannerLength bounds the login banner.
const maxBannerLength = 4000

// ldapDescriber lists the LDAP settings in use, secrets left out
// (*ldapauth.Authenticator).
type ldapDescriber interface {
	Describe() [][2]string
}

func (s *server) routeUIAdminSettings(mux *http.ServeMux) {
	s.route(mux, "GET /ui/admin/settings", siteAdmin, s.html(s.uiAdminSettings))
	s.route(mux, "POST /ui/admin/settings", siteAdmin, s.action(s.uiSaveSettings))
	if t, ok := s.cfg.SignIn.Password.(ldapTester); ok {
		s.route(mux, "POST /ui/admin/settings/ldap-test", siteAdmin, s.action(func(r *http.Request) (string, string, error) {
			if err := t.Test(r.Context()); err != nil {
				return "/ui/admin/settings#ldap", "LDAP test failed: " + err.Error(), nil
			}
			return "/ui/admin/settings#ldap", "LDAP test passed: the connection, the search user and the test account work.", nil
		}))
	}
}

type adminSettingsPage struct {
	adminBase
	Settings     accounts.Settings
	RequiredOrgs string
	// UnsafeByConfig: the server's configuration serves unsafe content
	// types whatever the setting says.
	UnsafeByConfig bool
	// LDAP: LDAP sign-in is configured (the test button); LDAPSettings its
	// settings, when the driver lists them.
	LDAP         bool
	LDAPSettings [][2]string
}

func (s *server) uiAdminSettings(r *http.Request) (string, uiPage, error) {
	set, err := s.cfg.Accounts.Settings(r.Context())
	if err != nil {
		return "", nil, err
	}
	p := &adminSettingsPage{adminBase: s.adminBase("System settings · Admin", "settings"), Settings: set,
		RequiredOrgs: strings.Join(set.RequiredOrgs, ", "), UnsafeByConfig: s.cfg.AllowUnsafeArtifacts}
	_, p.LDAP = s.cfg.SignIn.Password.(ldapTester)
	if d, ok := s.cfg.SignIn.Password.(ldapDescriber); ok {
		p.LDAPSettings = d.Describe()
	}
	return "admin-settings", p, nil
}

func (s *server) uiSaveSettings(r *http.Request) (string, string, error) {
	banner := strings.TrimSpace(r.PostFormValue("login_banner"))
	if len(banner) > maxBannerLength {
		return "", "", badRequest("login banner: %d characters; at most %d", len(banner), maxBannerLength)
	}
	set := accounts.Settings{
		SuspendNewUsers: r.PostFormValue("suspend_new_users") == "on",
		RequiredOrgs:    accounts.ParseOrgList(r.PostFormValue("required_orgs")),
		UnsafeArtifacts: r.PostFormValue("serve_unsafe_artifacts") == "on",
		LoginBanner:     banner,
	}
	if err := s.cfg.Accounts.SetSettings(r.Context(), set); err != nil {
		return "", "", err
	}
	return "/ui/admin/settings", "Settings saved.", nil
}

// unsafeArtifacts says whether artifacts are served with their stored
// content type: by the server's configuration, or the admin setting. A
// failed read keeps the safe list.
func (s *server) unsafeArtifacts(ctx context.Context) bool {
	if s.cfg.AllowUnsafeArtifacts {
		return true
	}
	set, err := s.cfg.Accounts.Settings(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "read the artifact setting; serving the safe content types", "error", err)
		return false
	}
	return set.UnsafeArtifacts
}
