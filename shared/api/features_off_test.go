package api_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPIOffDocMatchesTheRoutes: every operation docs/API-OFF.md lists is
// routed and answers 403 with a reason (401 without credentials), and the
// document lists exactly those.
func TestAPIOffDocMatchesTheRoutes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/API-OFF.md")
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| \\w+ \\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \\|")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		listed = append(listed, m[1]+" /api/v2"+m[2])
	}
	require.Len(t, listed, 14)

	e := newEnv(t)
	var off []string
	for _, r := range e.h.Routes() {
		if strings.Contains(r.Pattern, "/owner/{ownerID}/context/") || strings.Contains(r.Pattern, "/deploy/") {
			off = append(off, r.Pattern)
		}
	}
	assert.ElementsMatch(t, listed, off)

	fill := strings.NewReplacer("{ownerID}", "x", "{context}", "config", "{decisionID}", "d", "{policyName}", "p",
		"{environment_id}", "e", "{component_id}", "c")
	for _, op := range listed {
		method, path, _ := strings.Cut(op, " ")
		path = fill.Replace(path)
		body := ""
		if method != "GET" {
			body = "{}"
		}
		rec := e.do(method, path, body)
		require.Equal(t, http.StatusForbidden, rec.Code, op)
		assert.Contains(t, decodeBody[obj](t, rec)["message"], "not available on this Orbit server", op)
		assert.Equal(t, http.StatusUnauthorized, e.do(method, path, body, anonymous...).Code, op)
	}
}
