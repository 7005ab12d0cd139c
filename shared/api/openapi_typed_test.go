package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// untypedOps are the operations whose JSON answer openapi.json leaves
// untyped, each with the reason.
var untypedOps = map[string]string{
	"getInsightsABCDE": "one route serves two operations of different shapes (insights.go); their own paths are typed in CircleCI's document",
	"getOpenAPI":       "the answer is an OpenAPI document",
}

// TestOpenAPIResponsesAreTyped: every JSON success answer in Orbit's
// document has a schema (from the handler's view type, operationDocs), so
// the document describes what clients get, and the contract test checks
// every answer against it. Operations of features that are off answer 403
// only.
func TestOpenAPIResponsesAreTyped(t *testing.T) {
	doc := orbitDoc(t, newEnv(t, withEverything(t)))
	typed, off := 0, 0
	for _, op := range docOps(doc) {
		o := doc.Paths.Find(op.Path).GetOperation(op.Method)
		if _, ok := untypedOps[o.OperationID]; ok {
			continue
		}
		if forbidden := o.Responses.Status(http.StatusForbidden); forbidden != nil && len(o.Responses.Map()) == 2 {
			off++
			continue
		}
		for code, r := range o.Responses.Map() {
			c, ok := r.Value.Content["application/json"]
			if code == "default" || !ok {
				continue
			}
			s := c.Schema
			assert.True(t, s.Ref != "" || s.Value != nil && (s.Value.Type != nil || len(s.Value.Properties) > 0),
				"%s (%s) answers %s with an untyped body: give its opDoc a Body", op, o.OperationID, code)
			typed++
		}
	}
	t.Logf("typed JSON answers: %d; operations of features that are off: %d", typed, off)
	assert.Equal(t, 14, off, "the operations of features_off.go")
}
