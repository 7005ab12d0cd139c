package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// circleCLI runs CircleCI's official CLI (make circleci builds it into
// bin/) against an orbit up, as a user who set its host and token would.
type circleCLI struct {
	bin, home string
	p         *orbitProc
}

func newCircleCLI(t testing.TB, p *orbitProc) *circleCLI {
	t.Helper()
	bin := needEnv(t, "ORBIT_CIRCLECI_BIN", "make test builds CircleCI's CLI into bin/circleci (make circleci)")
	return &circleCLI{bin: bin, home: t.TempDir(), p: p}
}

// run runs the CLI with stdin and returns its combined output and error.
func (c *circleCLI) run(stdin string, args ...string) (string, error) {
	cmd := exec.Command(c.bin, append(args, "--host", c.p.url, "--token", c.p.token)...)
	cmd.Env = append(os.Environ(), "HOME="+c.home, "CIRCLECI_CLI_SKIP_UPDATE_CHECK=true",
		"CIRCLECI_CLI_TELEMETRY_OPTOUT=true", "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// ok runs the CLI and requires it to succeed.
func (c *circleCLI) ok(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := c.run(stdin, args...)
	require.NoError(t, err, "circleci %s:\n%s", strings.Join(args, " "), out)
	return out
}

const cliOrb = `version: 2.1
description: Greets.
commands:
  greet:
    parameters:
      who: {type: string, default: world}
    steps:
      - run: echo "hello << parameters.who >>"
`

const cliConfig = `version: 2.1
orbs:
  hello: acme/hello@1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - hello/greet: {who: cli}
      - store_artifacts: {path: out, to: site}
workflows:
  ci:
    jobs: [build]
`

// TestE2EOfficialCLI drives CircleCI's unmodified CLI against orbit up:
// config validate and process (compile-config-with-defaults, with an orb
// from Orbit's registry), contexts end to end (through /graphql-unstable,
// or the REST routes once Orbit serves its OpenAPI document), project
// secrets, diagnostic, pipeline list and run (the run really runs), and
// orb validate / source / info for an imported orb.
func TestE2EOfficialCLI(t *testing.T) {
	orbDir := t.TempDir()
	p := startOrbit(t, t.TempDir(), freeAddr(t), "ORBIT_ORB_DIR="+orbDir)
	cli := newCircleCLI(t, p)
	work := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(work, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		return path
	}
	orbFile := write("orb.yml", cliOrb)
	for _, v := range []string{"1.0.0", "1.2.0"} {
		out, err := exec.Command(os.Getenv("ORBIT_BIN"), "orb", "import", "--orb-dir", orbDir, "acme/hello@"+v, orbFile).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	repo := gitRepo(t, map[string]string{".circleci/config.yml": cliConfig})
	p.follow(repo, "acme", "cli")

	t.Run("diagnostic", func(t *testing.T) {
		out := cli.ok(t, "", "diagnostic")
		assert.Contains(t, out, "API host: "+p.url)
		assert.Contains(t, out, "OK, got a token.")
		assert.Contains(t, out, "Hello, ")
	})

	t.Run("config validate and process", func(t *testing.T) {
		cfg := write("config.yml", cliConfig)
		out := cli.ok(t, "", "config", "validate", cfg)
		assert.Contains(t, out, "is valid")
		out = cli.ok(t, "", "config", "process", cfg)
		assert.Contains(t, out, `echo "hello cli"`, "the orb's command, from Orbit's registry (acme/hello@1 → 1.2.0), is expanded")
		bad := write("bad.yml", "version: 2.1\njobs:\n  build:\n    docker: [{image: a}]\n    steps: [nosuchstep]\nworkflows:\n  w:\n    jobs: [build]\n")
		out, err := cli.run("", "config", "validate", bad)
		require.Error(t, err, out)
		assert.Contains(t, out, `unknown step or command "nosuchstep"`, "Orbit's error, with its line")
	})

	t.Run("contexts", func(t *testing.T) {
		// The CLI takes a vcs type only for github and bitbucket; a local
		// organization is given by its id, as the project shows it.
		var proj struct {
			OrganizationID string `json:"organization_id"`
		}
		require.Equal(t, 200, p.do("GET", "/api/v2/project/local/acme/cli", nil, &proj))
		require.NotEmpty(t, proj.OrganizationID)
		org := []string{"--org-id", proj.OrganizationID}
		ctxCmd := func(args ...string) []string {
			return append(append([]string{"context", args[0]}, org...), args[1:]...)
		}
		cli.ok(t, "", ctxCmd("create", "deploy")...)
		assert.Contains(t, cli.ok(t, "", ctxCmd("list")...), "deploy")
		cli.ok(t, "s3cr3t-value", ctxCmd("store-secret", "deploy", "API_KEY")...)
		show := cli.ok(t, "", ctxCmd("show", "deploy")...)
		assert.Contains(t, show, "API_KEY")
		assert.NotContains(t, show, "s3cr3t-value", "a secret is never shown")
		cli.ok(t, "", ctxCmd("remove-secret", "deploy", "API_KEY")...)
		assert.NotContains(t, cli.ok(t, "", ctxCmd("show", "deploy")...), "API_KEY")
		cli.ok(t, "", ctxCmd("delete", "-f", "deploy")...)
		assert.NotContains(t, cli.ok(t, "", ctxCmd("list")...), "deploy")
	})

	t.Run("pipeline run", func(t *testing.T) {
		// The CLI names the project as CircleCI's standalone projects are
		// named, circleci/<org id>/<project id>; the definition is the
		// project's default one, as `pipeline list` shows it.
		var proj struct {
			ID             string `json:"id"`
			OrganizationID string `json:"organization_id"`
		}
		require.Equal(t, 200, p.do("GET", "/api/v2/project/local/acme/cli", nil, &proj))
		list := cli.ok(t, "", "pipeline", "list", proj.ID)
		m := regexp.MustCompile(`ID: (\S+)\nName: default`).FindStringSubmatch(list)
		require.NotNil(t, m, "the default definition is listed:\n%s", list)
		assert.Contains(t, list, "(.circleci/config.yml)")
		out := cli.ok(t, "", "pipeline", "run", proj.OrganizationID, proj.ID, "--pipeline-definition-id", m[1],
			"--repo-config", "--config-branch", "main", "--checkout-branch", "main")
		require.Contains(t, out, "Pipeline created successfully", out)
		id := regexp.MustCompile(`Pipeline ID: (\S+)`).FindStringSubmatch(out)
		require.NotNil(t, id, out)
		wf := p.waitWorkflowDone(id[1], 3*time.Minute)
		assert.Equal(t, "success", wf.Status, "the pipeline the CLI started ran")
		build := p.jobs(wf.ID)["build"]
		assert.Equal(t, "success", build.Status)
		assert.Contains(t, p.text(fmt.Sprintf("/api/v2/project/local/acme/cli/job/%d/output?step=1&task=0", build.JobNumber)), "hello cli",
			"the orb's step ran")
		var pl struct {
			VCS struct {
				Branch string `json:"branch"`
			} `json:"vcs"`
		}
		require.Equal(t, 200, p.do("GET", "/api/v2/pipeline/"+id[1], nil, &pl))
		assert.Equal(t, "main", pl.VCS.Branch)

		out, err := cli.run("", "pipeline", "run", proj.OrganizationID, proj.ID, "--pipeline-definition-id", "00000000-0000-0000-0000-000000000000",
			"--repo-config", "--config-branch", "main", "--checkout-branch", "main")
		require.Error(t, err, out)
		assert.Contains(t, out, "pipeline definition 00000000-0000-0000-0000-000000000000", "Orbit's 404 reaches the user")
	})

	t.Run("project secret", func(t *testing.T) {
		cli.ok(t, "", "project", "secret", "create", "local", "acme", "cli", "TOKEN", "--env-value", "abcd1234")
		out := cli.ok(t, "", "project", "secret", "list", "local", "acme", "cli")
		assert.Contains(t, out, "TOKEN")
		assert.NotContains(t, out, "abcd1234")
	})

	t.Run("orbs", func(t *testing.T) {
		assert.Contains(t, cli.ok(t, "", "orb", "validate", orbFile), "is valid")
		bad := write("bad-orb.yml", "version: 2.1\ncommands:\n  x:\n    stepz: [nosuchstep]\n")
		out, err := cli.run("", "orb", "validate", bad)
		require.Error(t, err, out)
		assert.Contains(t, out, `unknown key "stepz"`)
		assert.Contains(t, cli.ok(t, "", "orb", "source", "acme/hello@1.0.0"), `echo "hello << parameters.who >>"`)
		info := cli.ok(t, "", "orb", "info", "acme/hello")
		assert.Contains(t, info, "Latest: acme/hello@1.2.0", "@volatile is the newest release")
		assert.Contains(t, info, "Total-revisions: 2")
		assert.Contains(t, info, "Total-commands: 1")
		// Another installation fills its registry from this one, as from
		// CircleCI's: @volatile resolved there.
		copyDir := t.TempDir()
		imp, err := exec.Command(os.Getenv("ORBIT_BIN"), "orb", "import", "--from", p.url, "--token", p.token,
			"--orb-dir", copyDir, "acme/hello@volatile").CombinedOutput()
		require.NoError(t, err, string(imp))
		assert.Contains(t, string(imp), "imported acme/hello@1.2.0")
		assert.FileExists(t, filepath.Join(copyDir, "acme", "hello@1.2.0.yml"))
		out, err = cli.run("", "orb", "source", "acme/nothere@1.0.0")
		require.Error(t, err, out)
		assert.Contains(t, out, "no Orb 'acme/nothere@1.0.0' was found")
	})
}
