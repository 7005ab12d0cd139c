package api

import "net/http"

// routeCompat serves what CircleCI's clients use beyond the routes above:
// POST /api/v2/pipeline/continue (continuation.go), POST
// /api/v2/compile-config-with-defaults (compile.go) and POST
// /graphql-unstable (graphql.go), which the official `circleci` CLI asks,
// and the URL orb allow-list (urlorbs.go).
func (s *server) routeCompat(mux *http.ServeMux) {
	s.routeContinuation(mux)
	s.routeCompile(mux)
	s.routeGraphQL(mux)
	s.routeURLOrbs(mux)
}
