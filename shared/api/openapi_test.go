package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
)

// orbitDoc fetches Orbit's document from h, without credentials.
func orbitDoc(t *testing.T, e *env) *openapi3.T {
	t.Helper()
	rec := e.do(http.MethodGet, "/api/v2/openapi.json", "", anonymous...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	require.NoError(t, err)
	return doc
}

// apiRoutes are the router's API operations: method and path in the
// document's form (normalRoute), by pattern.
func apiRoutes(h *api.Handler) map[string]string {
	out := map[string]string{}
	for op, pattern := range routeOps(h) {
		out[op] = pattern
	}
	return out
}

// TestOpenAPIDocumentMatchesRouter: the served document is valid OpenAPI
// and lists exactly the router's API operations, each with a typed
// response (an entry in operationDocs).
func TestOpenAPIDocumentMatchesRouter(t *testing.T) {
	e := newEnv(t, withEverything(t))
	doc := orbitDoc(t, e)
	require.NoError(t, doc.Validate(t.Context()))
	assert.Equal(t, []string{"/api/v2"}, []string{doc.Servers[0].URL})

	listed := map[string]*openapi3.Operation{}
	for _, op := range docOps(doc) {
		listed[op.Method+" "+normalDoc(op.Path)] = doc.Paths.Find(op.Path).GetOperation(op.Method)
	}
	routes := apiRoutes(e.h)
	for op, pattern := range routes {
		o, ok := listed[op]
		if !assert.True(t, ok, "route %s (%s) is missing from openapi.json", pattern, op) {
			continue
		}
		assert.NotEqual(t, "Undocumented", o.Tags[0], "route %s has no entry in operationDocs (openapi_ops.go)", pattern)
	}
	for op := range listed {
		assert.Contains(t, routes, op, "openapi.json lists %s, which the router does not serve", op)
	}
	for _, pattern := range api.DocumentedPatterns() {
		assert.True(t, slices.ContainsFunc(e.h.Routes(), func(r api.Route) bool { return r.Pattern == pattern }),
			"operationDocs documents %s, which is not a route", pattern)
	}

	// Public like CircleCI's; everything else says it needs a token.
	self := doc.Paths.Find("/openapi.json").Get
	require.NotNil(t, self.Security)
	assert.Empty(t, *self.Security)
	me := doc.Paths.Find("/me").Get
	require.NotNil(t, me.Security)
	assert.NotEmpty(t, *me.Security)
	// A project is {project-slug}, a list is paged.
	list := doc.Paths.Find("/project/{project-slug}/pipeline").Get
	require.NotNil(t, list)
	assert.NotNil(t, list.Parameters.GetByInAndName("query", "page-token"))
	assert.Contains(t, list.Responses.Status(http.StatusOK).Value.Content.Get("application/json").Schema.Value.Properties, "next_page_token")
}

// TestOpenAPIExtensionsAreOrbits: an operation the document marks as
// CircleCI's is in CircleCI's document, and one marked x-orbit-extension
// is not.
func TestOpenAPIExtensionsAreOrbits(t *testing.T) {
	circle := circleDoc(t)
	theirs := map[string]bool{}
	for _, op := range docOps(circle) {
		theirs[op.Method+" "+normalDoc(op.Path)] = true
	}
	doc := orbitDoc(t, newEnv(t, withEverything(t)))
	for _, op := range docOps(doc) {
		o := doc.Paths.Find(op.Path).GetOperation(op.Method)
		_, ext := o.Extensions["x-orbit-extension"]
		key := op.Method + " " + normalDoc(op.Path)
		if ext {
			assert.False(t, theirs[key], "%s is CircleCI's, but marked x-orbit-extension", op)
		} else {
			assert.True(t, theirs[key], "%s is not in CircleCI's document: mark it Extension in operationDocs", op)
		}
	}
	assert.False(t, strings.HasPrefix(doc.Info.Title, "CircleCI"))
}
