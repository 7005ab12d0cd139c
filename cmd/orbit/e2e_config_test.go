package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reuseConfig uses the 2.1 features the pipeline path must carry to Nomad:
// an executor with a parameter, a parameterized command, a 2×2 matrix and a
// branch filter.
const reuseConfig = `version: 2.1
executors:
  base:
    parameters:
      tag: {type: string, default: stable}
    docker:
      - image: cimg/base:<< parameters.tag >>
    environment:
      GREETING: hello
commands:
  greet:
    parameters:
      who: {type: string}
      times: {type: integer, default: 1}
    steps:
      - run:
          name: Greet << parameters.who >>
          command: for i in $(seq << parameters.times >>); do echo "$GREETING << parameters.who >> ($i)"; done
jobs:
  test:
    parameters:
      os: {type: string}
      version: {type: string}
    executor: base
    environment:
      TARGET: << parameters.os >>/<< parameters.version >>
    steps:
      - checkout
      - greet: {who: << parameters.os >>-<< parameters.version >>, times: 2}
      - run:
          name: Check the matrix values
          command: test "$TARGET" = "<< parameters.os >>/<< parameters.version >>" && test -f README.md
  release:
    executor: {name: base, tag: "2024.01"}
    steps:
      - greet: {who: release}
workflows:
  ci:
    jobs:
      - test:
          matrix:
            parameters:
              os: [linux, mac]
              version: ["1", "2"]
      - release:
          requires: [test]
          filters:
            branches:
              only: /release\/.*/
`

// TestE2EConfigReuse runs reuseConfig on the real Nomad agent: the matrix
// gives four jobs named as CircleCI names them, each runs the expanded
// command with its own values, and the release job, filtered out on main,
// is not in the workflow.
func TestE2EConfigReuse(t *testing.T) {
	repo := gitRepo(t, map[string]string{
		".circleci/config.yml": reuseConfig,
		"README.md":            "config e2e\n",
	})
	p := startOrbit(t, t.TempDir(), freeAddr(t))
	slug := p.follow(repo, "acme", "reuse")
	pid := p.trigger(slug, "main")

	wf := p.waitWorkflowDone(pid, 3*time.Minute)
	assert.Equal(t, "ci", wf.Name)
	assert.Equal(t, "success", wf.Status)
	jobs := p.jobs(wf.ID)
	var names []string
	for name := range jobs {
		names = append(names, name)
	}
	assert.ElementsMatch(t, []string{"test-linux-1", "test-linux-2", "test-mac-1", "test-mac-2"}, names)
	assert.NotContains(t, jobs, "release", "filtered out on main")

	for _, name := range []string{"test-linux-1", "test-linux-2", "test-mac-1", "test-mac-2"} {
		job := jobs[name]
		assert.Equal(t, "success", job.Status, name)
		require.NotZero(t, job.JobNumber, name)
		var steps struct {
			Items []struct {
				Index int
				Name  string
			}
		}
		require.Equal(t, 200, p.do("GET", fmt.Sprintf("/api/v2/project/%s/job/%d/steps", slug, job.JobNumber), nil, &steps))
		who := strings.TrimPrefix(name, "test-")
		var stepNames []string
		found := false
		for _, s := range steps.Items {
			stepNames = append(stepNames, s.Name)
			if s.Name != "Greet "+who {
				continue
			}
			found = true
			out := p.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=%d&task=0", slug, job.JobNumber, s.Index))
			assert.Contains(t, out, "hello "+who+" (1)", name)
			assert.Contains(t, out, "hello "+who+" (2)", name)
		}
		assert.True(t, found, "%s has a step named %q: %v", name, "Greet "+who, stepNames)
	}
}
