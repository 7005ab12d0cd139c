package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTaskTokensNeverShown reads every GET route over seeded records whose
// workflow and jobs carry orchestrator task tokens.
func TestTaskTokensNeverShown(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	paths := []string{
		"/",
		"/ui/pipeline/" + s.pipeline.ID,
		"/api/v2/projects",
		"/api/v2/project/local/acme/api",
		"/api/v2/project/local/acme/api/pipeline",
		"/api/v2/project/local/acme/api/pipeline/1",
		"/api/v2/project/local/acme/api/job/1",
		"/api/v2/project/local/acme/api/job/2",
		"/api/v2/project/local/acme/api/job/1/steps",
		"/api/v2/project/local/acme/api/job/1/output?step=1",
		"/api/v2/pipeline/" + s.pipeline.ID,
		"/api/v2/pipeline/" + s.pipeline.ID + "/config",
		"/api/v2/pipeline/" + s.pipeline.ID + "/workflow",
		"/api/v2/workflow/" + s.workflow.ID,
		"/api/v2/workflow/" + s.workflow.ID + "/job",
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			rec := e.do(http.MethodGet, path, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			body := rec.Body.String()
			assert.NotContains(t, body, workflowToken)
			assert.NotContains(t, body, jobToken)
			assert.NotContains(t, body, "task_token")
		})
	}
	assert.NotContains(t, e.logs.String(), workflowToken)
	assert.NotContains(t, e.logs.String(), jobToken)
}
