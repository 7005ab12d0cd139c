package api_test

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv"
)

// circleDocFile is CircleCI's OpenAPI document in the reference material
// (../shared/reference beside the clone in this project's CI; a user's
// clone has none, and the tests that read it then skip, saying so).
const circleDocFile = "circleci-api-v2-openapi.json"

var circleDocOnce struct {
	sync.Once
	doc *openapi3.T
	err error
}

// circleDoc loads CircleCI's document once per test binary, or skips (fails
// in CI) as testenv.Reference decides.
func circleDoc(t testing.TB) *openapi3.T {
	t.Helper()
	path := testenv.Reference(t, circleDocFile)
	circleDocOnce.Do(func() {
		circleDocOnce.doc, circleDocOnce.err = openapi3.NewLoader().LoadFromFile(path)
	})
	require.NoError(t, circleDocOnce.err, "load %s", path)
	return circleDocOnce.doc
}

// docOp is one operation of an OpenAPI document: "GET /project/{project-slug}/pipeline".
type docOp struct{ Method, Path string }

func (o docOp) String() string { return o.Method + " " + o.Path }

// docOps lists a document's operations.
func docOps(doc *openapi3.T) []docOp {
	var ops []docOp
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, docOp{Method: strings.ToUpper(method), Path: path})
		}
	}
	return ops
}

var paramRE = regexp.MustCompile(`\{[^}]*\}`)

// normalDoc is a document path with its parameters made anonymous: a
// project slug is three segments ({vcs}/{org}/{repo} in Orbit's router), an
// organization slug two, any other parameter one.
func normalDoc(path string) string {
	path = strings.ReplaceAll(path, "{project-slug}", "{}/{}/{}")
	path = strings.ReplaceAll(path, "{org-slug}", "{}/{}")
	return paramRE.ReplaceAllString(path, "{}")
}

// normalRoute is a router pattern ("GET /api/v2/project/{vcs}/{org}/{repo}/pipeline")
// as a method and a normalDoc path; ok is false for patterns outside the
// API or without a method (catch-alls, mounts).
func normalRoute(pattern string) (method, path string, ok bool) {
	method, path, found := strings.Cut(pattern, " ")
	if !found || !strings.HasPrefix(path, "/api/v2/") {
		return "", "", false
	}
	return method, paramRE.ReplaceAllString(strings.TrimPrefix(path, "/api/v2"), "{}"), true
}
