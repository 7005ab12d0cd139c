package api

import (
	"net/http"
)

// Operations of CircleCI's document that Orbit serves as a feature that
// is off, each with its reason in docs/API-OFF.md. They are routed (so a
// client learns the feature is off, not that the path is unknown) and
// answer 403 {"message"} to a signed-in caller, as CircleCI answers an
// organization whose plan lacks the feature; anonymous callers get 401
// like on every other route.
var featuresOff = []struct {
	feature string
	reason  string
	routes  []string
}{
	{
		feature: "Config policies",
		reason:  "Orbit has no policy engine (CircleCI evaluates Rego bundles with OPA)",
		routes: []string{
			"GET /api/v2/owner/{ownerID}/context/{context}/decision",
			"POST /api/v2/owner/{ownerID}/context/{context}/decision",
			"GET /api/v2/owner/{ownerID}/context/{context}/decision/settings",
			"PATCH /api/v2/owner/{ownerID}/context/{context}/decision/settings",
			"GET /api/v2/owner/{ownerID}/context/{context}/decision/{decisionID}",
			"GET /api/v2/owner/{ownerID}/context/{context}/decision/{decisionID}/policy-bundle",
			"GET /api/v2/owner/{ownerID}/context/{context}/policy-bundle",
			"POST /api/v2/owner/{ownerID}/context/{context}/policy-bundle",
			"GET /api/v2/owner/{ownerID}/context/{context}/policy-bundle/{policyName}",
		},
	},
	{
		feature: "Deploys",
		reason:  "Orbit records no deploys, components or environments (CircleCI's come from `circleci run release` in jobs, an API outside the document)",
		routes: []string{
			"GET /api/v2/deploy/environments",
			"GET /api/v2/deploy/environments/{environment_id}",
			"GET /api/v2/deploy/components",
			"GET /api/v2/deploy/components/{component_id}",
			"GET /api/v2/deploy/components/{component_id}/versions",
		},
	},
}

// routeFeaturesOff registers the operations of features that are off.
func (s *server) routeFeaturesOff(mux *http.ServeMux) {
	for _, f := range featuresOff {
		msg := f.feature + " are not available on this Orbit server: " + f.reason + "."
		for _, pattern := range f.routes {
			s.route(mux, pattern, signedIn, s.api(func(w http.ResponseWriter, r *http.Request) error {
				writeJSON(w, http.StatusForbidden, message{Message: msg})
				return nil
			}))
		}
	}
}
