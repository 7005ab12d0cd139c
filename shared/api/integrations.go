package api

import (
	"net/http"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/oidc"
	"github.com/orbit-ci/orbit/shared/outhook"
	"github.com/orbit-ci/orbit/shared/pipedef"
	"github.com/orbit-ci/orbit/shared/usage"
)

// Integrations are the services behind CircleCI's newer REST API v2
// operations that Orbit serves from integrations.go and the files it
// names: outbound webhooks (webhooks_out.go), usage exports (usage_export.go),
// OIDC (oidc.go), policies, groups, deploys, pipeline definitions and
// triggers (features_off.go). A nil service leaves its routes out.
type Integrations struct {
	// Webhooks keeps and delivers the outbound webhooks.
	Webhooks *outhook.Service
	// UsageExports computes usage exports into the blob store.
	UsageExports *usage.Exports
	// OIDC signs jobs' tokens and keeps the custom claims.
	OIDC *oidc.Issuer
	// Definitions keeps the pipeline definitions and triggers.
	Definitions *pipedef.Service
}

// routeIntegrations registers the routes of the configured integrations.
func (s *server) routeIntegrations(mux *http.ServeMux) {
	in := s.cfg.Integrations
	s.routeGroups(mux)
	s.routeFeaturesOff(mux)
	if in.Webhooks != nil {
		s.routeWebhooksOut(mux)
	}
	if in.UsageExports != nil {
		s.routeUsageExport(mux)
	}
	if in.OIDC != nil {
		s.routeOIDC(mux)
	}
	if in.Definitions != nil {
		s.routeDefinitions(mux)
		s.routeRollback(mux)
	}
}

// onProjectID and onOrgID are the rules of routes named by a project or an
// organization id.
func onProjectID(l accounts.Level) Access { return onProject(l, ByProjectID) }
func onOrgID(l accounts.Level) Access     { return onProject(l, ByOrgID) }
