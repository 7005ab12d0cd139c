package runner

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// specBackend answers TaskSpec with a fixed spec; the other methods are
// not used here.
type specBackend struct {
	Backend
	spec TaskSpec
	err  error
}

func (b specBackend) TaskSpec(context.Context, string) (TaskSpec, error) { return b.spec, b.err }

type anyToken struct{}

func (anyToken) Verify(string) (string, error) { return "task-1", nil }

// TestPlacementHasNoSecrets: the bridge's route carries the executor and
// images (with their registry login) and nothing of the job's environment,
// masks or keys.
func TestPlacementHasNoSecrets(t *testing.T) {
	spec := TaskSpec{
		TaskID: "task-1", Executor: "docker", Image: "registry.example.com/app", ResourceClass: "large",
		Images:      []Image{{Image: "registry.example.com/app", Auth: &RegistryAuth{Username: "ci", Password: "registry-pw"}}},
		Environment: []EnvVar{{Name: "DEPLOY_TOKEN", Value: "env-secret-value"}},
		Secrets:     []string{"env-secret-value", "registry-pw"},
		Checkout:    Checkout{RepoURL: "ssh://git@host/repo", SSHKey: "-----BEGIN OPENSSH PRIVATE KEY-----"},
		SSHKeys:     []SSHKey{{Fingerprint: "SHA256:x", PrivateKey: "extra-private-key"}},
		Steps:       []Step{{Type: StepRun, Command: "echo $DEPLOY_TOKEN"}},
	}
	srv := httptest.NewServer(http.StripPrefix("/runner/v1", NewHandler(specBackend{spec: spec}, anyToken{}, nil)))
	defer srv.Close()
	c := fastClient(srv.URL + "/runner/v1/")

	p, err := c.Placement(context.Background())
	require.NoError(t, err)
	assert.Equal(t, spec.Placement(), p)
	assert.Equal(t, &RegistryAuth{Username: "ci", Password: "registry-pw"}, p.Images[0].Auth, "the bridge needs the login for the docker driver")

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/runner/v1/task/placement", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, secret := range []string{"env-secret-value", "PRIVATE KEY", "extra-private-key", "DEPLOY_TOKEN"} {
		assert.NotContains(t, string(body), secret)
	}

	gone := httptest.NewServer(http.StripPrefix("/runner/v1", NewHandler(specBackend{err: ErrTaskTerminal}, anyToken{}, nil)))
	defer gone.Close()
	_, err = fastClient(gone.URL + "/runner/v1/").Placement(context.Background())
	assert.True(t, errors.Is(err, ErrTaskGone), err)
}
