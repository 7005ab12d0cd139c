package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliStdin runs a CLI command of the orbit binary with stdin.
func (p *orbitProc) cliStdin(stdin string, args ...string) string {
	p.t.Helper()
	cmd := exec.Command(os.Getenv("ORBIT_BIN"), args...)
	cmd.Env = append(os.Environ(), "ORBIT_URL="+p.url, "ORBIT_DATA="+p.dataDir)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(p.t, err, string(out))
	return string(out)
}

const secretsConfig = `version: 2.1
jobs:
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: Use the secrets
          command: |
            echo "project=$DEPLOY_TOKEN context=$CLOUD_KEY"
            echo "split: ${DEPLOY_TOKEN:0:6} ${DEPLOY_TOKEN:6}"
            printf '%s\n' "$CLOUD_KEY" > key.txt && cat key.txt
            [ "$REGION" = "from-""context" ] && echo "context overrides project"
            [ "$JOB_ONLY" = job-value ] && echo "job environment overrides contexts"
    environment:
      JOB_ONLY: job-value
  elsewhere:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo "must not run"
workflows:
  ci:
    jobs:
      - deploy:
          context: [cloud]
      - elsewhere:
          context: no-such-context
`

// TestE2ESecretsMaskedInOutput sets a project variable and a context
// variable through the CLI (values on stdin), runs a job that prints them
// on the real Nomad agent, and checks that no value appears in the step
// output, the API, the UI or Orbit's own log, while the job really had
// them; a job naming a context that does not exist is unauthorized.
func TestE2ESecretsMaskedInOutput(t *testing.T) {
	const (
		deployToken = "dt-6f1c0ffee-9a7b"
		cloudKey    = "ck-a8f3e1d2-77aa"
	)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": secretsConfig})
	dataDir := t.TempDir()
	p := startOrbit(t, dataDir, freeAddr(t))
	slug := p.follow(repo, "acme", "vault")

	assert.Equal(t, "DEPLOY_TOKEN=xxxx9a7b\n", p.cliStdin(deployToken+"\n", "project", "env", "set", slug, "DEPLOY_TOKEN"))
	p.cliStdin("from-project", "project", "env", "set", slug, "REGION")
	p.cliStdin("", "context", "create", "local/acme", "cloud")
	p.cliStdin(cloudKey, "context", "env", "set", "local/acme", "cloud", "CLOUD_KEY")
	p.cliStdin("from-context", "context", "env", "set", "local/acme", "cloud", "REGION")
	p.cliStdin("context-value", "context", "env", "set", "local/acme", "cloud", "JOB_ONLY")
	assert.Equal(t, "DEPLOY_TOKEN=xxxx9a7b\nREGION=xxxxject\n", p.cliStdin("", "project", "env", "list", slug))

	pid := p.trigger(slug, "main")
	wf := p.waitWorkflowDone(pid, 2*time.Minute)
	jobs := p.jobs(wf.ID)
	require.Equal(t, "success", jobs["deploy"].Status)
	assert.Equal(t, "unauthorized", jobs["elsewhere"].Status)

	out := p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=0&task=0", slug, jobs["deploy"].JobNumber))
	assert.Contains(t, out, "project=******** context=********")
	assert.Contains(t, out, "split: dt-6f1 c0ffee-9a7b", "a value split by the step is not the value")
	assert.Contains(t, out, "\n********\n", "a value written to a file and read back is masked")
	assert.Contains(t, out, "context overrides project")
	assert.Contains(t, out, "job environment overrides contexts")

	// The denied job says which context is missing.
	page := p.text("/ui/pipeline/" + pid)
	assert.Contains(t, page, "no context named")
	assert.Contains(t, page, "no-such-context")

	// Nothing Orbit shows or logs holds a value.
	everything := out + page + p.text("/api/v2/project/"+slug+"/envvar") +
		p.log.String()
	var cs struct{ Items []struct{ ID string } }
	require.Equal(t, 200, p.do("GET", "/api/v2/context?owner-slug=local/acme", nil, &cs))
	require.Len(t, cs.Items, 1)
	everything += p.text("/api/v2/context/" + cs.Items[0].ID + "/environment-variable")
	for _, secret := range []string{deployToken, cloudKey, "from-context"} {
		assert.NotContains(t, everything, secret)
	}
	// Nor does the database: values are sealed at rest.
	db, err := os.ReadFile(filepath.Join(dataDir, "orbit.db"))
	require.NoError(t, err)
	assert.NotContains(t, string(db), deployToken)
	assert.NotContains(t, string(db), cloudKey)

	// After a master key rotation and a restart, values sealed before
	// still reach jobs, and a value set now is sealed with the new key.
	p.stop()
	rot := exec.Command(os.Getenv("ORBIT_BIN"), "admin", "secrets", "rotate", "--data", dataDir)
	b, err := rot.CombinedOutput()
	require.NoError(t, err, string(b))
	p = startOrbit(t, dataDir, freeAddr(t))
	p.cliStdin("from-context-2", "context", "env", "set", "local/acme", "cloud", "REGION")
	wf = p.waitWorkflowDone(p.trigger(slug, "main"), 2*time.Minute)
	deploy := p.jobs(wf.ID)["deploy"]
	require.Equal(t, "success", deploy.Status)
	out = p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=0&task=0", slug, deploy.JobNumber))
	assert.Contains(t, out, "project=******** context=********")
	assert.Contains(t, out, "split: dt-6f1 c0ffee-9a7b")
	assert.NotContains(t, out, "context overrides project", "REGION is now from-context-2")
}
