package api

import "net/http"

// routeUISet registers the pages of the signed-in user's own things and
// of project configuration: the account page, project settings and
// contexts (with Config.Vault) and Insights (with Config.Insights). The
// sign-in page is signin.go's.
func (s *server) routeUISet(mux *http.ServeMux) {
	s.routeUIAccount(mux)
	if s.cfg.Vault != nil {
		s.routeUISettings(mux)
		s.routeUIContexts(mux)
	}
	if s.cfg.Insights != nil {
		s.routeUIInsights(mux)
	}
}
