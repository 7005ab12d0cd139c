package conductor

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
)

const withContexts = `version: 2.1
jobs:
  deploy:
    docker:
      - image: registry.example.com/deployer
        auth: {username: ci, password: $REGISTRY_PASSWORD}
    environment: {STAGE: from-job}
    steps: [{run: ./deploy}]
  audit: {docker: [{image: cimg/base:stable}], steps: [{run: ./audit}]}
workflows:
  main:
    jobs:
      - deploy: {context: [prod]}
      - audit: {context: [missing]}
`

// secretsHarness is a conductor with a real vault: a project variable
// STAGE and a context prod holding REGISTRY_PASSWORD.
func secretsHarness(t *testing.T) (*harness, *vault.Vault, store.Context) {
	t.Helper()
	ctx := context.Background()
	h := newHarness(t, fakeSource{"rev-main": withContexts})
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(t.TempDir(), "master.keys")})
	require.NoError(t, err)
	v := vault.New(h.st, secrets.NewSealer(keys))
	h.c.cfg.Secrets = v
	_, err = v.SetVar(ctx, store.ProjectScope("local/acme/app"), "STAGE", "from-project")
	require.NoError(t, err)
	prod, err := v.CreateContext(ctx, "local/acme", "prod")
	require.NoError(t, err)
	_, err = v.SetVar(ctx, store.ContextScope(prod.ID), "REGISTRY_PASSWORD", "registry-pw-123")
	require.NoError(t, err)
	return h, v, prod
}

// TestJobSecrets runs the conductor with a real vault: a job gets its
// project's and context's variables (then its own), its registry login
// resolved from them and masked; a job naming a missing context is
// unauthorized; a context deleted after dispatch fails the job when its
// task asks for its spec.
func TestJobSecrets(t *testing.T) {
	ctx := context.Background()
	h, _, prod := secretsHarness(t)

	_, wid := h.setup("main")
	h.call(Request{Action: "start_workflow", WorkflowID: wid})
	jobs := h.jobs(wid)
	assert.Equal(t, status.JobUnauthorized, jobs["audit"].Status)
	assert.Equal(t, `there is no context named "missing" in local/acme`, jobs["audit"].Message)
	assert.Equal(t, []string{jobs["deploy"].ID}, h.orch.startedOf("job"))

	h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: "deploy", TaskToken: "t"})
	require.Len(t, h.queue.msgs, 1)
	spec, err := h.c.TaskSpec(ctx, h.queue.msgs[0].TaskID)
	require.NoError(t, err)
	var stages []string
	for _, e := range spec.Environment {
		if e.Name == "STAGE" {
			stages = append(stages, e.Value)
		}
	}
	assert.Equal(t, []string{"from-project", "from-job"}, stages, "the job's own environment comes last")
	assert.Equal(t, &runner.RegistryAuth{Username: "ci", Password: "registry-pw-123"}, spec.Images[0].Auth)
	assert.Contains(t, spec.Secrets, "registry-pw-123")
	assert.Contains(t, spec.Secrets, "from-project")

	require.NoError(t, h.st.DeleteContext(ctx, prod.ID))
	_, err = h.c.TaskSpec(ctx, h.queue.msgs[0].TaskID)
	assert.ErrorIs(t, err, runner.ErrTaskTerminal)
	deploy := h.jobs(wid)["deploy"]
	assert.Equal(t, status.JobFailed, deploy.Status)
	assert.Equal(t, `there is no context named "prod" in local/acme`, deploy.Message)
	assert.JSONEq(t, `{"status":"failed","message":"there is no context named \"prod\" in local/acme"}`, h.orch.released["t"])
}

// TestForkPullRequestsGetNoSecrets: a pipeline of a pull request from a
// fork runs someone else's code, so its jobs get none of the project's or
// contexts' variables (CircleCI's default), while the same job of the
// project's own branch does.
func TestForkPullRequestsGetNoSecrets(t *testing.T) {
	ctx := context.Background()
	for _, fork := range []bool{false, true} {
		h, _, _ := secretsHarness(t)
		p, wid := h.setup("main")
		_, err := h.st.UpdatePipeline(ctx, p.ID, func(p *store.Pipeline) error { p.Trigger.Fork = fork; return nil })
		require.NoError(t, err)
		h.call(Request{Action: "start_workflow", WorkflowID: wid})
		h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: "deploy", TaskToken: "t"})
		require.Len(t, h.queue.msgs, 1)
		spec, err := h.c.TaskSpec(ctx, h.queue.msgs[0].TaskID)
		require.NoError(t, err)
		if fork {
			assert.Empty(t, spec.Secrets, "a fork's job gets no secrets")
			assert.NotContains(t, fmt.Sprint(spec.Environment), "from-project")
			assert.NotContains(t, fmt.Sprint(spec.Environment), "registry-pw-123")
		} else {
			assert.Contains(t, spec.Secrets, "from-project")
		}
	}
}
