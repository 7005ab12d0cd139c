package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/pipedef"
)

// TestCircleCISlugs: a project path in CircleCI's circleci/<org>/<project>
// form reaches the project it names, by ids or by names, as the official
// CLI's `pipeline run <org> <project-id>` sends it.
func TestCircleCISlugs(t *testing.T) {
	e := newEnv(t)
	pipelinesOf(t, e, "local/acme/api", "local/acme/web", "gh/acme/web", "local/other/api")
	for _, tc := range []struct {
		name, path string
		code       int
		slug       string
	}{
		{"ids", fmt.Sprintf("/api/v2/project/circleci/%s/%s", ids.Org("local/acme"), ids.Project("local/acme/api")), http.StatusOK, "local/acme/api"},
		{"ids of a GitHub project", fmt.Sprintf("/api/v2/project/circleci/%s/%s", ids.Org("gh/acme"), ids.Project("gh/acme/web")), http.StatusOK, "gh/acme/web"},
		{"names that name one project", "/api/v2/project/circleci/other/api", http.StatusOK, "local/other/api"},
		{"organization name, project id", "/api/v2/project/circleci/acme/" + ids.Project("local/acme/web"), http.StatusOK, "local/acme/web"},
		{"names that name two projects", "/api/v2/project/circleci/acme/web", http.StatusNotFound, ""},
		{"a project id of another organization", fmt.Sprintf("/api/v2/project/circleci/%s/%s", ids.Org("local/other"), ids.Project("local/acme/api")), http.StatusNotFound, ""},
		{"a sub-resource", fmt.Sprintf("/api/v2/project/circleci/%s/%s/pipeline", ids.Org("local/acme"), ids.Project("local/acme/api")), http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodGet, tc.path, "")
			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			if tc.slug != "" {
				assert.Equal(t, tc.slug, decodeBody[obj](t, rec)["slug"])
			}
		})
	}
}

// TestPipelineRunDefinition: definition_id selects the config file of one
// of the project's pipeline definitions; another is 404.
func TestPipelineRunDefinition(t *testing.T) {
	e := newEnv(t, withEverything(t))
	seed(t, e.st)
	pid := ids.Project("local/acme/api")
	rec := e.do(http.MethodPost, "/api/v2/projects/"+pid+"/pipeline-definitions",
		`{"name":"nightly","config_source":{"provider":"circleci","file_path":".circleci/nightly.yml"},"checkout_source":{"provider":"circleci"}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	nightly, _ := decodeBody[obj](t, rec)["id"].(string)
	require.NotEmpty(t, nightly)

	run := func(def string) int {
		return e.do(http.MethodPost, fmt.Sprintf("/api/v2/project/circleci/%s/%s/pipeline/run", ids.Org("local/acme"), pid),
			fmt.Sprintf(`{"definition_id":%q,"config":{"branch":"main"},"checkout":{"branch":"main"}}`, def)).Code
	}
	require.Equal(t, http.StatusCreated, run(nightly))
	assert.Equal(t, ".circleci/nightly.yml", e.trigger.reqs[len(e.trigger.reqs)-1].ConfigPath)
	require.Equal(t, http.StatusCreated, run(pipedef.DefaultID("local/acme/api")))
	assert.Equal(t, ".circleci/config.yml", e.trigger.reqs[len(e.trigger.reqs)-1].ConfigPath)
	n := len(e.trigger.reqs)
	assert.Equal(t, http.StatusNotFound, run(pipedef.DefaultID("local/acme/other")), "not one of the project's")
	assert.Len(t, e.trigger.reqs, n, "nothing triggered")
}
