// Package localstack_test runs the AWS shape's end-to-end pipeline against
// Orbit deployed on LocalStack by `make localstack-up` (cdklocal). It needs
// Docker, so `make test` does not run it (it skips, saying so); run it with
// `make localstack-test`, which deploys first and sets
// ORBIT_LOCALSTACK_OUTPUTS. See localstack/README.md.
package localstack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deployment is Orbit on LocalStack as the stack's outputs describe it.
type deployment struct {
	t       *testing.T
	api     string // ApiUrl, e.g. https://<id>.execute-api.localhost.localstack.cloud:4566
	token   string // Circle-Token, when the API wants one
	work    string // the directory shared with the Lambda and Nomad containers
	outputs map[string]string
}

func deployed(t *testing.T) *deployment {
	t.Helper()
	path := os.Getenv("ORBIT_LOCALSTACK_OUTPUTS")
	if path == "" {
		// Not testenv.Need: make test cannot start LocalStack (no Docker),
		// so CI skips this too, and says why.
		t.Skip("not run: needs Orbit deployed on LocalStack (Docker); make localstack-test deploys it and sets ORBIT_LOCALSTACK_OUTPUTS")
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err, "stack outputs (written by cdklocal deploy --outputs-file)")
	var stacks map[string]map[string]string
	require.NoError(t, json.Unmarshal(raw, &stacks), "stack outputs %s", path)
	d := &deployment{t: t, outputs: map[string]string{}, token: os.Getenv("ORBIT_LOCALSTACK_TOKEN"),
		work: os.Getenv("ORBIT_LOCALSTACK_WORK")}
	for _, outs := range stacks {
		for k, v := range outs {
			d.outputs[k] = v
		}
	}
	d.api = strings.TrimRight(d.outputs["ApiUrl"], "/")
	require.NotEmpty(t, d.api, "the stack outputs no ApiUrl (outputs: %v)", d.outputs)
	require.NotEmpty(t, d.work, "ORBIT_LOCALSTACK_WORK (set by localstack/lib.sh) is the directory the containers share")
	return d
}

func (d *deployment) do(method, path string, body, out any) int {
	d.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(d.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.api+path, rd)
	require.NoError(d.t, err)
	req.Header.Set("Content-Type", "application/json")
	if d.token != "" {
		req.Header.Set("Circle-Token", d.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(d.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil && resp.StatusCode < 300 {
			d.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func (d *deployment) text(path string) string {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.api+path, nil)
	require.NoError(d.t, err)
	if d.token != "" {
		req.Header.Set("Circle-Token", d.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	require.Equal(d.t, http.StatusOK, resp.StatusCode, "GET %s: %s", path, b)
	return string(b)
}

// repo creates a git repository in the shared work directory, so the api
// and conductor Lambdas (config) and the agents on Nomad (checkout) read it
// at the same path.
func (d *deployment) repo(files map[string]string) string {
	d.t.Helper()
	dir, err := os.MkdirTemp(d.work, "repo-")
	require.NoError(d.t, err)
	d.t.Cleanup(func() { _ = os.RemoveAll(dir) })
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(d.t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(d.t, os.WriteFile(path, []byte(content), 0o644))
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"}} {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		require.NoError(d.t, err, string(out))
	}
	return dir
}

type job struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Type              string `json:"type"`
	Status            string `json:"status"`
	JobNumber         int64  `json:"job_number"`
	ApprovalRequestID string `json:"approval_request_id"`
}

func (d *deployment) jobs(wid string) map[string]job {
	var page struct{ Items []job }
	d.do("GET", "/api/v2/workflow/"+wid+"/job", nil, &page)
	m := map[string]job{}
	for _, j := range page.Items {
		m[j.Name] = j
	}
	return m
}

func (d *deployment) workflowStatus(pid string) (id, status string) {
	var page struct {
		Items []struct{ ID, Status string }
	}
	d.do("GET", "/api/v2/pipeline/"+pid+"/workflow", nil, &page)
	if len(page.Items) != 1 {
		return "", ""
	}
	return page.Items[0].ID, page.Items[0].Status
}

// output is the text of the job's step whose name contains step.
func (d *deployment) output(slug string, j job, step string) string {
	d.t.Helper()
	var steps struct {
		Items []struct {
			Index int
			Name  string
		}
	}
	require.Equal(d.t, 200, d.do("GET", fmt.Sprintf("/api/v2/project/%s/job/%d/steps", slug, j.JobNumber), nil, &steps))
	for _, s := range steps.Items {
		if strings.Contains(s.Name, step) {
			return d.text(fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=%d&task=0", slug, j.JobNumber, s.Index))
		}
	}
	d.t.Fatalf("job %s has no step named like %q", j.Name, step)
	return ""
}

// pipelineConfig is the AWS shape's end-to-end pipeline: fan-out and
// fan-in, a cache, a workspace, an approval, a context secret (KMS) and an
// artifact (S3).
const pipelineConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - restore_cache: {keys: ['deps-v1-{{ checksum "deps.txt" }}']}
      - run: {name: Dependencies, command: 'mkdir -p deps && cp deps.txt deps/'}
      - save_cache: {key: 'deps-v1-{{ checksum "deps.txt" }}', paths: [deps]}
      - run: {name: Build, command: 'mkdir -p ws && echo built-on-localstack > ws/out.txt'}
      - persist_to_workspace: {root: ws, paths: [out.txt]}
  test-a:
    docker: [{image: cimg/base:stable}]
    steps:
      - attach_workspace: {at: ws}
      - run: {name: Suite a, command: 'echo "suite a saw $(cat ws/out.txt)"'}
  test-b:
    docker: [{image: cimg/base:stable}]
    steps:
      - attach_workspace: {at: ws}
      - run: {name: Suite b, command: 'echo "suite b saw $(cat ws/out.txt)"'}
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: {name: Deploy, command: 'echo "deploying with $CLOUD_KEY" && mkdir -p out && echo report > out/report.txt'}
      - store_artifacts: {path: out/report.txt, destination: report.txt}
workflows:
  ci:
    jobs:
      - build
      - test-a: {requires: [build]}
      - test-b: {requires: [build]}
      - hold: {type: approval, requires: [test-a, test-b]}
      - deploy: {requires: [hold], context: [cloud]}
`

// TestLocalStackPipeline runs the pipeline on the deployed stack: the API
// and conductor as LocalStack Lambdas behind API Gateway, the three state
// machines in LocalStack's Step Functions, DynamoDB, S3, SQS and KMS in
// LocalStack, and orbit bridge feeding the Nomad agent of compose.yaml.
func TestLocalStackPipeline(t *testing.T) {
	d := deployed(t)
	repo := d.repo(map[string]string{".circleci/config.yml": pipelineConfig, "deps.txt": "left-pad 1.3.0\n"})

	var proj struct{ Slug, Message string }
	require.Equal(t, 201, d.do("POST", "/api/v2/project", map[string]string{"path": repo, "org": "acme", "name": "shop"}, &proj), proj.Message)
	slug := proj.Slug

	const secret = "ls-secret-4242"
	var ctx struct{ ID, Message string }
	require.Equal(t, 200, d.do("POST", "/api/v2/context", map[string]any{"name": "cloud",
		"owner": map[string]string{"slug": strings.TrimSuffix(slug, "/shop"), "type": "organization"}}, &ctx), ctx.Message)
	require.Equal(t, 200, d.do("PUT", "/api/v2/context/"+ctx.ID+"/environment-variable/CLOUD_KEY",
		map[string]string{"value": secret}, nil))

	var pl struct{ ID, Message string }
	require.Equal(t, 201, d.do("POST", "/api/v2/project/"+slug+"/pipeline", map[string]string{"branch": "main"}, &pl), pl.Message)

	var wid, status string
	require.Eventually(t, func() bool {
		wid, status = d.workflowStatus(pl.ID)
		return status == "on_hold" || status == "failed" || status == "error"
	}, 10*time.Minute, time.Second, "the workflow reaches the approval")
	require.Equal(t, "on_hold", status)
	jobs := d.jobs(wid)
	for _, name := range []string{"build", "test-a", "test-b"} {
		assert.Equal(t, "success", jobs[name].Status, name)
	}
	require.NotEmpty(t, jobs["hold"].ApprovalRequestID)
	require.Equal(t, 202, d.do("POST", "/api/v2/workflow/"+wid+"/approve/"+jobs["hold"].ApprovalRequestID, nil, nil))
	require.Eventually(t, func() bool {
		_, status = d.workflowStatus(pl.ID)
		return status == "success" || status == "failed" || status == "error"
	}, 10*time.Minute, time.Second, "the workflow finishes after the approval")
	require.Equal(t, "success", status)
	jobs = d.jobs(wid)

	assert.Contains(t, d.output(slug, jobs["test-a"], "Suite a"), "suite a saw built-on-localstack", "the workspace crossed jobs")
	assert.Contains(t, d.output(slug, jobs["test-b"], "Suite b"), "suite b saw built-on-localstack")
	deploy := d.output(slug, jobs["deploy"], "Deploy")
	assert.Contains(t, deploy, "deploying with ", "the context reached the job")
	assert.NotContains(t, deploy, secret, "the secret is masked in the output")

	var arts struct {
		Items []struct{ Path, URL string }
	}
	require.Equal(t, 200, d.do("GET", fmt.Sprintf("/api/v2/project/%s/%d/artifacts", slug, jobs["deploy"].JobNumber), nil, &arts))
	require.Len(t, arts.Items, 1)
	assert.Equal(t, "report.txt", arts.Items[0].Path)

	// A second pipeline restores the cache the first one saved.
	require.Equal(t, 201, d.do("POST", "/api/v2/project/"+slug+"/pipeline", map[string]string{"branch": "main"}, &pl), pl.Message)
	require.Eventually(t, func() bool {
		wid, status = d.workflowStatus(pl.ID)
		return status == "on_hold" || status == "failed" || status == "error"
	}, 10*time.Minute, time.Second)
	restored := d.output(slug, d.jobs(wid)["build"], "Restoring cache")
	assert.Contains(t, restored, "deps-v1-", "the cache saved by the first pipeline is found")
}
