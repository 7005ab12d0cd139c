package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
)

// orbitCLI runs a CLI command of the orbit binary against p.
func (p *orbitProc) cli(args ...string) (string, error) {
	p.t.Helper()
	cmd := exec.Command(os.Getenv("ORBIT_BIN"), args...)
	cmd.Env = append(os.Environ(), "ORBIT_URL="+p.url, "ORBIT_DATA="+p.dataDir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestE2ECLIAndGitHook(t *testing.T) {
	repo := gitRepo(t, map[string]string{
		".circleci/config.yml": "version: 2.1\njobs:\n  build:\n    docker: [{image: cimg/base:stable}]\n    steps:\n      - checkout\n      - run: cat message.txt\nworkflows:\n  ci:\n    jobs: [build]\n",
		"message.txt":          "first commit\n",
	})
	p := startOrbit(t, t.TempDir(), freeAddr(t))

	out, err := p.cli("project", "add", repo, "--hook", "--org", "acme", "--name", "hooked")
	require.NoError(t, err, out)
	assert.Contains(t, out, "following "+repo+" as local/acme/hooked (default branch main)")
	assert.Contains(t, out, "orbit trigger local/acme/hooked --branch main")

	out, err = p.cli("trigger", "local/acme/hooked", "--branch", "main", "--wait")
	require.NoError(t, err, out)
	assert.Contains(t, out, "workflow ci")
	assert.Contains(t, out, "success")

	out, err = p.cli("status", "local/acme/hooked/1")
	require.NoError(t, err, out)
	assert.Contains(t, out, "pipeline local/acme/hooked/1  success", "a finished pipeline shows its workflows' outcome")
	assert.Contains(t, out, "job build")

	// A commit triggers pipeline 2 through the post-commit hook.
	require.NoError(t, os.WriteFile(filepath.Join(repo, "message.txt"), []byte("second commit\n"), 0o644))
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "second"}} {
		o, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput()
		require.NoError(t, err, string(o))
	}
	var pl struct {
		ID      string `json:"id"`
		Trigger struct {
			Type string `json:"type"`
		} `json:"trigger"`
	}
	waitFor(t, 30*time.Second, "the hook's pipeline", func() bool {
		return p.do("GET", "/api/v2/project/local/acme/hooked/pipeline/2", nil, &pl) == 200
	})
	assert.Equal(t, "webhook", pl.Trigger.Type, "a commit hook is reported as CircleCI's webhook trigger")
	wf := p.waitWorkflowDone(pl.ID, time.Minute)
	assert.Equal(t, "success", wf.Status)
	job := p.jobs(wf.ID)["build"]
	out = p.text("/api/v2/project/local/acme/hooked/job/" + strconv.FormatInt(job.JobNumber, 10) + "/output?step=1&task=0")
	assert.Contains(t, out, "second commit")

	// Bad usage is a clear error with exit code 2.
	_, err = p.cli("trigger")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
}

// TestE2ENomadUnreachable starts Orbit against a Nomad address where nothing
// listens yet: the job waits queued, nothing is lost, and it runs once a
// Nomad agent answers there.
func TestE2ENomadUnreachable(t *testing.T) {
	nomadBin := needEnv(t, "ORBIT_NOMAD_BIN", "make test sets it to bin/nomad")
	port, err := strconv.Atoi(strings.Split(freeAddr(t), ":")[1])
	require.NoError(t, err)
	nomadAddr := "http://127.0.0.1:" + strconv.Itoa(port)
	repo := gitRepo(t, map[string]string{
		".circleci/config.yml": "version: 2.1\njobs:\n  build:\n    docker: [{image: cimg/base:stable}]\n    steps:\n      - run: echo ran after nomad came back\nworkflows:\n  ci:\n    jobs: [build]\n",
	})
	// Nomad is down: /health-check says so with 500 while the API serves.
	p := startOrbitUntil(t, t.TempDir(), freeAddr(t), http.StatusInternalServerError, "NOMAD_ADDR="+nomadAddr)
	assert.Contains(t, p.log.String(), "unreachable")
	slug := p.follow(repo, "acme", "waiting")
	pid := p.trigger(slug, "main")
	waitFor(t, 30*time.Second, "the job to be queued", func() bool {
		wfs := p.workflows(pid)
		return len(wfs) == 1 && p.jobs(wfs[0].ID)["build"].Status == "queued"
	})
	time.Sleep(2 * time.Second)
	wfs := p.workflows(pid)
	require.Len(t, wfs, 1)
	assert.Equal(t, "queued", p.jobs(wfs[0].ID)["build"].Status, "stays queued while Nomad is away")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	agent, err := nomadagent.Start(ctx, nomadagent.Config{Binary: nomadBin, DataDir: t.TempDir(), HTTPPort: port, DieWithParent: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = agent.Stop() })

	wf := p.waitWorkflowDone(pid, 2*time.Minute)
	assert.Equal(t, "success", wf.Status)
}
