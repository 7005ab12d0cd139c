package api_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
)

// TestUnknownFieldsRefused: a misspelt field is a 400 that names it, and
// nothing happens (before, {"brnch": "main"} built the default branch).
func TestUnknownFieldsRefused(t *testing.T) {
	e := newEnv(t, withEverything(t))
	tests := []struct {
		name, method, path, body, field string
	}{
		{name: "trigger", method: http.MethodPost, path: "/api/v2/project/local/acme/api/pipeline", body: `{"brnch":"main"}`, field: "brnch"},
		{name: "nested", method: http.MethodPost, path: "/api/v2/context", body: `{"name":"c","owner":{"slug":"local/acme","kind":"x"}}`, field: "owner.kind"},
		{name: "token", method: http.MethodPost, path: "/api/v2/me/token", body: `{"label":"x","scope":"all"}`, field: "scope"},
		{name: "rerun", method: http.MethodPost, path: "/api/v2/workflow/{wf}/rerun", body: `{"from_faild":true}`, field: "from_faild"},
	}
	s := seed(t, e.st)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.trigger.reqs)
			rec := e.do(tt.method, strings.ReplaceAll(tt.path, "{wf}", s.workflow.ID), tt.body)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			assert.Equal(t, `request body: unknown field "`+tt.field+`"`, decodeBody[obj](t, rec)["message"])
			assert.Len(t, e.trigger.reqs, before, "nothing was triggered")
		})
	}
	t.Run("wrong type names the field", func(t *testing.T) {
		rec := e.do(http.MethodPost, "/api/v2/project/local/acme/api/pipeline", `{"branch":7}`)
		require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
		assert.Contains(t, decodeBody[obj](t, rec)["message"], `field "branch"`)
	})
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// concrete is a path that pattern's path matches.
func concrete(path string) string {
	return wildcard.ReplaceAllStringFunc(path, func(w string) string {
		if strings.HasSuffix(w, "...}") {
			return "a/b.txt"
		}
		return "x1"
	})
}

// TestWrongMethodEveryRoute: on every API route's path, a method no route
// serves there is 405 with Allow listing the ones that are.
func TestWrongMethodEveryRoute(t *testing.T) {
	e := newEnv(t, withEverything(t))
	probe := http.NewServeMux()
	var routes []api.Route
	for _, r := range e.h.Routes() {
		if _, path, ok := strings.Cut(r.Pattern, " "); ok && strings.HasPrefix(path, "/api/") {
			probe.Handle(r.Pattern, http.NotFoundHandler())
			routes = append(routes, r)
		}
	}
	require.NotEmpty(t, routes)
	for _, r := range routes {
		_, path, _ := strings.Cut(r.Pattern, " ")
		target := concrete(path)
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if _, p := probe.Handler(httptest.NewRequest(m, target, nil)); p != "" {
				allow = append(allow, m)
			}
		}
		wrong := ""
		for _, m := range []string{http.MethodDelete, http.MethodPatch, http.MethodPut, http.MethodPost, http.MethodGet} {
			if !slices.Contains(allow, m) {
				wrong = m
				break
			}
		}
		if wrong == "" {
			continue
		}
		if slices.Contains(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		rec := e.do(wrong, target, "", anonymous...)
		if assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, "%s %s (route %s): %s", wrong, target, r.Pattern, rec.Body.String()) {
			assert.Equal(t, strings.Join(allow, ", "), rec.Header().Get("Allow"), "%s %s", wrong, target)
			assert.Equal(t, "Method not allowed", decodeBody[obj](t, rec)["message"])
		}
	}
}

// TestUnknownPath404: paths no route serves are CircleCI's JSON 404, with
// or without credentials.
func TestUnknownPath404(t *testing.T) {
	e := newEnv(t, withEverything(t))
	for _, path := range []string{"/api/v2/nope", "/api/v2/pipelines", "/api/v2/project/local/acme/api/nope/x/y/z",
		"/api/v2/workflow/x1/job/x2/nope", "/api/v1.1/me", "/api/v2/"} {
		for _, creds := range [][]string{nil, anonymous} {
			rec := e.do(http.MethodGet, path, "", creds...)
			if assert.Equal(t, http.StatusNotFound, rec.Code, "%s: %s", path, rec.Body.String()) {
				assert.Equal(t, "Not found", decodeBody[obj](t, rec)["message"], path)
			}
		}
	}
}
