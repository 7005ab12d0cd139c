package agent_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/vcs/githubtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckoutOverHTTPSWithAToken clones from the fake GitHub's smart
// HTTP endpoint (git http-backend), which requires the token; the token
// shows in no step output and is not left in the checkout's config.
func TestCheckoutOverHTTPSWithAToken(t *testing.T) {
	src, revs := gitRepo(t)
	bare := filepath.Join(t.TempDir(), "api.git")
	out, err := exec.Command("git", "clone", "-q", "--bare", src, bare).CombinedOutput()
	require.NoError(t, err, string(out))
	fake := githubtest.New()
	defer fake.Close()
	const token = "ghs_checkout_token_0123456789"
	fake.AddUser(token, githubtest.User{ID: 1, Login: "orbit-bot"})
	url := fake.ServeGit("acme", "api", bare)

	for _, tt := range []struct {
		name  string
		token string
		want  agent.Outcome
	}{
		{"with the token", token, agent.OutcomeSuccess},
		{"without a token", "", agent.OutcomeFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, runner.TaskSpec{
				Checkout: runner.Checkout{RepoURL: url, Revision: revs[1], Branch: "main", Token: tt.token},
				Steps: []runner.Step{
					{Type: runner.StepCheckout, Name: "Checkout code"},
					run("inspect", "git rev-parse HEAD; cat file.txt; git config --list --show-origin; env"),
				},
			})
			got, task := h.run(t)
			require.Equal(t, tt.want, got, task.Output(0))
			if tt.want != agent.OutcomeSuccess {
				return
			}
			assert.Contains(t, task.Output(1), revs[1])
			assert.Contains(t, task.Output(1), "version 2")
			for i := 0; i < 2; i++ {
				assert.NotContains(t, task.Output(i), token)
				assert.NotContains(t, task.Output(i), "x-access-token")
			}
			assert.False(t, strings.Contains(task.Output(1), "extraheader"), "the header is the checkout step's alone")
		})
	}
}
