package main

// End-to-end test of a rerun's workspace on the real Nomad agent: a rerun
// from failed keeps the successful build without running it again, and the
// rerun test job still attaches the workspace layer that build persisted in
// the first workflow, as on CircleCI.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rerunWorkspaceConfig's build persists a file to the workspace; test
// attaches it, prints it and fails on its first run only (through a marker
// file in dir, named by the job's environment). Every job appends its name
// to dir/runs.
func rerunWorkspaceConfig(dir string) string {
	return fmt.Sprintf(`version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo build >> "%[1]s/runs"
      - run: mkdir -p out && echo "made by the first build" > out/artifact.txt
      - persist_to_workspace: {root: out, paths: [artifact.txt]}
  test:
    docker: [{image: cimg/base:stable}]
    environment:
      MARKER: "%[1]s/test-failed-once"
    steps:
      - attach_workspace: {at: ws}
      - run:
          name: Test
          command: |
            echo test >> "%[1]s/runs"
            cat ws/artifact.txt || exit 2
            test -e "$MARKER" || { touch "$MARKER"; echo "fails the first time"; exit 1; }
workflows:
  ci:
    jobs:
      - build
      - test: {requires: [build]}
`, dir)
}

func TestE2ERerunWorkspace(t *testing.T) {
	dir := t.TempDir()
	repo := gitRepo(t, map[string]string{".circleci/config.yml": rerunWorkspaceConfig(dir)})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "rerun-ws")
	runs := func() []string {
		b, _ := os.ReadFile(filepath.Join(dir, "runs"))
		return strings.Fields(string(b))
	}

	pid := p.trigger(slug, "main")
	first := p.waitWorkflowDone(pid, 3*time.Minute)
	require.Equal(t, "failed", first.Status)
	old := p.jobs(first.ID)
	require.Equal(t, "success", old["build"].Status)
	require.Equal(t, "failed", old["test"].Status)
	out := p.stepOutput(slug, old["test"].JobNumber, "Test", 0)
	require.Contains(t, out, "made by the first build", "the first run attaches the workspace")
	require.Contains(t, out, "fails the first time")

	var rerun struct {
		WorkflowID string `json:"workflow_id"`
		Message    string `json:"message"`
	}
	require.Equal(t, 202, p.do("POST", "/api/v2/workflow/"+first.ID+"/rerun", map[string]bool{"from_failed": true}, &rerun), rerun.Message)
	require.NotEmpty(t, rerun.WorkflowID)
	waitFor(t, 3*time.Minute, "rerun workflow "+rerun.WorkflowID+" to finish", func() bool {
		return terminalWorkflow(p.workflow(rerun.WorkflowID).Status)
	})
	jobs := p.jobs(rerun.WorkflowID)
	require.NotZero(t, jobs["test"].JobNumber)
	out = p.stepOutput(slug, jobs["test"].JobNumber, "Test", 0)
	require.Equal(t, "success", p.workflow(rerun.WorkflowID).Status, "test output:\n%s", out)

	assert.Equal(t, "success", jobs["build"].Status)
	assert.Equal(t, old["build"].JobNumber, jobs["build"].JobNumber, "build keeps its result")
	assert.NotEqual(t, old["test"].JobNumber, jobs["test"].JobNumber, "test ran again")
	assert.Equal(t, []string{"build", "test", "test"}, runs(), "build did not run again")
	assert.Contains(t, out, "made by the first build", "the rerun attaches the layer the kept build persisted")
	assert.NotContains(t, out, "fails the first time")
}
