package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/store"
)

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestCompileConfigWithDefaults: the route the official CLI probes with an
// empty body (anything but 404 means it exists) and then calls to
// validate and process.
func TestCompileConfigWithDefaults(t *testing.T) {
	e := newEnv(t)
	const path = "/api/v2/compile-config-with-defaults"
	rec := e.do(http.MethodPost, path, "")
	assert.Equal(t, http.StatusBadRequest, rec.Code, "an empty body is a 4xx other than 404: %s", rec.Body.String())
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, path, `{"config_yaml":"version: 2.1"}`, anonymous...).Code)

	tests := []struct {
		name      string
		config    string
		params    map[string]any
		valid     bool
		errors    []string
		output    string
		nWarnings int
	}{
		{
			name:   "valid, parameters and branch from the options",
			config: "version: 2.1\nparameters:\n  who: {type: string, default: x}\njobs:\n  b:\n    docker: [{image: a}]\n    steps: [{run: echo << pipeline.parameters.who >> on << pipeline.git.branch >>}]\nworkflows:\n  w:\n    jobs: [b]\n",
			params: map[string]any{"who": "cli"},
			valid:  true, output: "echo cli on feature",
		},
		{
			name:   "errors with their line and key",
			config: "version: 2.1\njobs:\n  b:\n    docker: [{image: a}]\n    steps: [nosuch]\nworkflows:\n  w:\n    jobs: [b]\n",
			errors: []string{`config.yml:5:13: jobs.b.steps[0]: unknown step or command "nosuch"`},
		},
		{
			name:   "tolerated keys are warnings, not errors",
			config: "version: 2.1\njobs:\n  b:\n    docker: [{image: a}]\n    steps: [{store_artifacts: {path: x, to: y}}]\nworkflows:\n  w:\n    jobs: [b]\n",
			valid:  true, output: "store_artifacts",
			nWarnings: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := jsonString(t, map[string]any{"config_yaml": tt.config, "options": map[string]any{
				"owner_id": "x", "pipeline_parameters": tt.params,
				"pipeline_values": map[string]any{"pipeline.git.branch": "feature", "pipeline.number": 1}}})
			rec := e.do(http.MethodPost, path, body)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			got := decodeBody[obj](t, rec)
			assert.Equal(t, tt.valid, got["valid"])
			assert.Equal(t, tt.config, got["source-yaml"])
			assert.Contains(t, got["output-yaml"], tt.output)
			var msgs []string
			for _, m := range got["errors"].([]any) {
				msgs = append(msgs, m.(obj)["message"].(string))
			}
			assert.Equal(t, tt.errors, msgs)
			ws, _ := got["warnings"].([]any)
			assert.Len(t, ws, tt.nWarnings)
		})
	}
}

// gql sends a GraphQL request and returns data and errors.
func (e *env) gql(query string, vars map[string]any, headers ...string) (obj, []any) {
	e.t.Helper()
	rec := e.do(http.MethodPost, "/graphql-unstable", jsonString(e.t, map[string]any{"query": query, "variables": vars}), headers...)
	require.Equal(e.t, http.StatusOK, rec.Code, "GraphQL answers 200 whatever happened: %s", rec.Body.String())
	got := decodeBody[obj](e.t, rec)
	errs, _ := got["errors"].([]any)
	data, _ := got["data"].(obj)
	return data, errs
}

// TestGraphQLContexts runs the CLI's context queries and mutations (its
// exact texts) through /graphql-unstable.
func TestGraphQLContexts(t *testing.T) {
	e := vaultEnv(t)
	org, errs := e.gql(`query($orgName: String!, $vcsType: VCSType!) {
	organization(name: $orgName, vcsType: $vcsType) {
		id
		name
		vcsType
	}
}`, map[string]any{"orgName": "acme", "vcsType": "LOCAL"})
	require.Empty(t, errs)
	orgID := org["organization"].(obj)["id"].(string)
	assert.Equal(t, "acme", org["organization"].(obj)["name"])

	created, errs := e.gql(`mutation CreateContext($input: CreateContextInput!) {
	createContext(input: $input) { error { type } context { createdAt id name } }
}`, map[string]any{"input": map[string]any{"ownerId": orgID, "ownerType": "ORGANIZATION", "contextName": "deploy"}})
	require.Empty(t, errs)
	cc := created["createContext"].(obj)
	require.Equal(t, obj{"type": ""}, cc["error"], "an empty error type, as the CLI needs")
	ctxID := cc["context"].(obj)["id"].(string)

	_, errs = e.gql(`mutation CreateEnvVar($input: StoreEnvironmentVariableInput!) {
	storeEnvironmentVariable(input: $input) { error { type } }
}`, map[string]any{"input": map[string]any{"contextId": ctxID, "variable": "KEY", "value": secretValue}})
	require.Empty(t, errs)

	listQuery := `query ContextsQuery($orgId: ID!) {
	organization(id: $orgId) { id contexts { edges { node { id name createdAt } } } }
}`
	list, errs := e.gql(listQuery, map[string]any{"orgId": orgID})
	require.Empty(t, errs)
	edges := list["organization"].(obj)["contexts"].(obj)["edges"].([]any)
	require.Len(t, edges, 1)
	assert.Equal(t, "deploy", edges[0].(obj)["node"].(obj)["name"])

	vars, errs := e.gql(`query Context($id: ID!) { context(id: $id) { resources { variable createdAt updatedAt } } }`, map[string]any{"id": ctxID})
	require.Empty(t, errs)
	res := vars["context"].(obj)["resources"].([]any)
	require.Len(t, res, 1)
	assert.Equal(t, "KEY", res[0].(obj)["variable"])

	// The route needs a signed-in caller; each operation checks what it
	// touches: a user who is not in the organization learns nothing of it.
	rec := e.do(http.MethodPost, "/graphql-unstable", jsonString(t, map[string]any{"query": listQuery}), anonymous...)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	bob, err := e.acc.SignIn(t.Context(), accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: "bob", Login: "bob"})
	require.NoError(t, err)
	bobToken, _, err := e.acc.CreateToken(t.Context(), bob.ID, "tests")
	require.NoError(t, err)
	for _, q := range []struct {
		query string
		vars  map[string]any
	}{
		{listQuery, map[string]any{"orgId": orgID}},
		{`query Context($id: ID!) { context(id: $id) { resources { variable } } }`, map[string]any{"id": ctxID}},
		{`mutation DeleteContext($contextId: UUID) { deleteContext(input: { contextId: $contextId }) { clientMutationId } }`, map[string]any{"contextId": ctxID}},
	} {
		data, errs := e.gql(q.query, q.vars, "Authorization", bobToken, "Circle-Token", "")
		require.Len(t, errs, 1, q.query)
		assert.NotContains(t, jsonString(t, data), "deploy")
	}

	_, errs = e.gql(`mutation DeleteEnvVar($input: RemoveEnvironmentVariableInput!) {
	removeEnvironmentVariable(input: $input) { context { id } }
}`, map[string]any{"input": map[string]any{"ContextID": ctxID, "Name": "KEY"}}) // the CLI's spelling
	require.Empty(t, errs)
	_, errs = e.gql(`mutation DeleteContext($contextId: UUID) { deleteContext(input: { contextId: $contextId }) { clientMutationId } }`,
		map[string]any{"contextId": ctxID})
	require.Empty(t, errs)
	list, errs = e.gql(listQuery, map[string]any{"orgId": orgID})
	require.Empty(t, errs)
	assert.Empty(t, list["organization"].(obj)["contexts"].(obj)["edges"])

	_, errs = e.gql(`query { somethingElse { id } }`, nil)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].(obj)["message"], `Cannot query field "somethingElse"`)
	rec = e.do(http.MethodPost, "/graphql-unstable", `not json`)
	assert.Equal(t, http.StatusOK, rec.Code, "a body that is not a GraphQL request is still 200")
	assert.Contains(t, rec.Body.String(), `"errors":[{"message":"request body is not a GraphQL request`)
}

// TestGraphQLOrbs: orb validate, source and info as the CLI asks them, from
// the registry `orbit orb import` fills.
func TestGraphQLOrbs(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ORBIT_ORB_DIR", dir)
	const orb = "version: 2.1\ncommands:\n  hi:\n    steps: [{run: echo hi}]\n"
	for _, v := range []string{"1.0.0", "1.10.0", "2.0.0"} {
		_, err := config.DirRegistry(dir).Import(config.OrbRef{Namespace: "acme", Name: "hi", Version: v}, []byte(orb))
		require.NoError(t, err)
	}
	e := newEnv(t)
	const q = `query($orbVersionRef: String!) { orbVersion(orbVersionRef: $orbVersionRef) { id version orb { id name versions(count: 200) { createdAt version } } source createdAt } }`
	tests := []struct{ ref, version string }{
		{"acme/hi@1.0.0", "1.0.0"}, {"acme/hi@1", "1.10.0"}, {"acme/hi@volatile", "2.0.0"},
	}
	for _, tt := range tests {
		data, errs := e.gql(q, map[string]any{"orbVersionRef": tt.ref})
		require.Empty(t, errs)
		ov := data["orbVersion"].(obj)
		assert.Equal(t, tt.version, ov["version"], tt.ref)
		assert.Equal(t, orb, ov["source"])
		var vs []string
		for _, v := range ov["orb"].(obj)["versions"].([]any) {
			vs = append(vs, v.(obj)["version"].(string))
		}
		assert.Equal(t, []string{"2.0.0", "1.10.0", "1.0.0"}, vs, "newest first, semver order")
	}
	data, errs := e.gql(q, map[string]any{"orbVersionRef": "acme/none@1.0.0"})
	require.Empty(t, errs)
	assert.Nil(t, data["orbVersion"], "an orb the registry lacks is null")

	const validate = `query ValidateOrb ($config: String!, $owner: UUID) { orbConfig(orbYaml: $config, ownerId: $owner) { valid, errors { message }, sourceYaml, outputYaml } }`
	data, errs = e.gql(validate, map[string]any{"config": orb})
	require.Empty(t, errs)
	assert.Equal(t, true, data["orbConfig"].(obj)["valid"])
	data, _ = e.gql(validate, map[string]any{"config": "version: 2.1\ncommands:\n  x:\n    stepz: [nosuch]\n"})
	assert.Equal(t, false, data["orbConfig"].(obj)["valid"])
	assert.Contains(t, jsonString(t, data["orbConfig"].(obj)["errors"]), `unknown key \"stepz\"`)
}

// TestUIPipelineWarnings: the pipeline page shows a config warning apart
// from errors, saying the pipeline runs.
func TestUIPipelineWarnings(t *testing.T) {
	e := newEnv(t)
	p, err := e.st.CreatePipeline(t.Context(), store.Pipeline{ProjectSlug: "local/acme/api", VCS: store.PipelineVCS{Branch: "main"},
		Errors: []store.PipelineError{{Type: "config", Message: `config.yml:6:38: warning: jobs.build.steps[0].store_artifacts.to: unknown key "to" is ignored`}}})
	require.NoError(t, err)
	body := e.do(http.MethodGet, "/ui/pipeline/"+p.ID, "").Body.String()
	assert.Contains(t, body, `<div class="warnings"><b>warning</b> (CircleCI accepts this; the pipeline runs): config.yml:6:38: warning:`)
	assert.NotContains(t, body, `<div class="errors">`)
}
