package awsshape

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv"
)

const pipelineConfig = `version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - run: mkdir -p out deps && echo built > out/app.txt && echo dep > deps/lib.txt
      - save_cache: {key: 'deps-{{ checksum "README.md" }}', paths: [deps]}
      - persist_to_workspace: {root: out, paths: [app.txt]}
  test-a:
    docker: [{image: cimg/base:stable}]
    steps:
      - attach_workspace: {at: ws}
      - run: cat ws/app.txt && echo "key=$CLOUD_KEY" && mkdir -p rep && echo report > rep/report.txt && head -c 7000000 /dev/urandom > rep/big.bin && awk 'BEGIN { for (i = 0; i < 200000; i++) print "<script>alert(1)</script>" }' > rep/page.html
      - store_artifacts: {path: rep}
  test-b:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - restore_cache: {keys: ['deps-{{ checksum "README.md" }}']}
      - run: cat deps/lib.txt
  unit:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: |
          mkdir -p results/go
          {
            echo '<testsuite name="unit">'
            for i in $(seq 1 2500); do echo "<testcase classname=\"pkg\" name=\"Test$i\" time=\"0.01\"/>"; done
            echo '<testcase classname="pkg" name="TestFails" time="0.5"><failure message="boom">want 1</failure></testcase>'
            echo '</testsuite>'
          } > results/go/report.xml
      - store_test_results: {path: results}
  hold:
    type: approval
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo deployed
workflows:
  ci:
    jobs:
      - build
      - test-a: {requires: [build], context: [cloud]}
      - test-b: {requires: [build]}
      - unit: {requires: [build]}
      - hold: {type: approval, requires: [test-a, test-b, unit]}
      - deploy: {requires: [hold]}
`

func (s *shape) do(t testing.TB, method, path string, body, out any) int {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		b, err = json.Marshal(body)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func gitRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	for name, content := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init"}} {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	return dir
}

// startBridge runs `orbit bridge` as its own process on the real Nomad
// agent, reading the run queue in moto, reaching the runner API through the
// front.
func (s *shape) startBridge(t testing.TB, extra ...string) *exec.Cmd {
	t.Helper()
	bin := testenv.Need(t, "ORBIT_BIN", "make test builds bin/orbit")
	nomad := testenv.Need(t, "NOMAD_ADDR", "make test starts a Nomad agent")
	log := &testenv.Buffer{}
	cmd := exec.Command(bin, "bridge", "--addr", freeAddr(t), "--nomad-addr", nomad, "--api-url", s.url)
	cmd.Env = append(append(os.Environ(), s.env...), "ORBIT_RESOURCE_SCALE=0.05", "ORBIT_HEARTBEAT_INTERVAL=5s", "ORBIT_LOG_FORMAT=text")
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("bridge log:\n%s", log.String())
		}
	})
	return cmd
}

type job struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Status            string `json:"status"`
	JobNumber         int64  `json:"job_number"`
	ApprovalRequestID string `json:"approval_request_id"`
}

func (s *shape) jobs(t testing.TB, wid string) map[string]job {
	var page struct{ Items []job }
	s.do(t, "GET", "/api/v2/workflow/"+wid+"/job", nil, &page)
	m := map[string]job{}
	for _, j := range page.Items {
		m[j.Name] = j
	}
	return m
}

func (s *shape) workflowStatus(t testing.TB, pid string) (string, string) {
	var page struct{ Items []struct{ ID, Status string } }
	s.do(t, "GET", "/api/v2/pipeline/"+pid+"/workflow", nil, &page)
	if len(page.Items) != 1 {
		return "", ""
	}
	return page.Items[0].ID, page.Items[0].Status
}

// TestPipelineOnTheAWSShape: fan-out/fan-in, an approval, a context secret
// (KMS), a cache, a workspace, artifacts (S3) and test results go green on
// the aws shape, the output readable through the API, the tests page by
// page, a large HTML artifact served from S3 as plain text; the AWS
// requests it made are logged (docs/COST.md).
func TestPipelineOnTheAWSShape(t *testing.T) {
	s := startShape(t, 3, 3)
	s.startBridge(t)
	repo := gitRepo(t, map[string]string{".circleci/config.yml": pipelineConfig, "README.md": "x\n"})
	var proj struct{ Slug, Message string }
	require.Equal(t, 201, s.do(t, "POST", "/api/v2/project", map[string]string{"path": repo, "org": "acme", "name": "shop"}, &proj), proj.Message)

	var ctxRec struct{ ID, Message string }
	require.Equal(t, 200, s.do(t, "POST", "/api/v2/context", map[string]any{"name": "cloud", "owner": map[string]string{"slug": "local/acme", "type": "organization"}}, &ctxRec), ctxRec.Message)
	secret := "kms-sealed-" + randomSuffix()
	require.Equal(t, 200, s.do(t, "PUT", "/api/v2/context/"+ctxRec.ID+"/environment-variable/CLOUD_KEY", map[string]string{"value": secret}, nil))

	var pl struct{ ID, Message string }
	require.Equal(t, 201, s.do(t, "POST", "/api/v2/project/"+proj.Slug+"/pipeline", map[string]string{"branch": "main"}, &pl), pl.Message)
	var wid, st string
	require.Eventually(t, func() bool { wid, st = s.workflowStatus(t, pl.ID); return st == "on_hold" || terminal(st) },
		2*time.Minute, 200*time.Millisecond, "workflow on hold")
	require.Equal(t, "on_hold", st, "%+v", s.jobs(t, wid))
	jobs := s.jobs(t, wid)
	for _, n := range []string{"build", "test-a", "test-b", "unit"} {
		assert.Equal(t, "success", jobs[n].Status, n)
	}
	require.Equal(t, 202, s.do(t, "POST", "/api/v2/workflow/"+wid+"/approve/"+jobs["hold"].ApprovalRequestID, nil, nil))
	require.Eventually(t, func() bool { _, st = s.workflowStatus(t, pl.ID); return terminal(st) }, 2*time.Minute, 200*time.Millisecond)
	require.Equal(t, "success", st, "%+v", s.jobs(t, wid))
	jobs = s.jobs(t, wid)

	out := s.output(t, proj.Slug, jobs["test-a"].JobNumber, 1)
	assert.Contains(t, out, "built")
	assert.Contains(t, out, "key=********", "the context secret is masked")
	assert.NotContains(t, out, secret)
	assert.Contains(t, s.output(t, proj.Slug, jobs["test-b"].JobNumber, 2), "dep")
	assert.Contains(t, s.output(t, proj.Slug, jobs["deploy"].JobNumber, 0), "deployed")

	var arts struct{ Items []struct{ Path, URL string } }
	require.Equal(t, 200, s.do(t, "GET", fmt.Sprintf("/api/v2/project/%s/%d/artifacts", proj.Slug, jobs["test-a"].JobNumber), nil, &arts))
	require.Len(t, arts.Items, 3)
	var big, page string
	for _, a := range arts.Items {
		switch a.Path {
		case "rep/big.bin":
			big = a.URL
		case "rep/page.html":
			page = a.URL
		}
	}
	require.NotEmpty(t, big, "%+v", arts.Items)
	// Over Lambda's 6 MB response limit: the api answers a redirect to the
	// presigned S3 URL, and the download never passes through the Lambda.
	// Counted by path: the bridge's and agents' runner API calls share
	// the front and may still be finishing.
	bigURL, err := url.Parse(big)
	require.NoError(t, err)
	before := s.front.requestsTo(bigURL.Path)
	resp, err := s.client.Get(big)
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.EqualValues(t, 7000000, n)
	assert.Equal(t, before+1, s.front.requestsTo(bigURL.Path), "one API request, then S3")

	// HTML over the response budget comes from S3 too, as plain text: the
	// presigned URL carries the artifact policy's type (moto ignores
	// response-content-type; the cloud's proxy applies it as S3 does).
	resp, err = s.client.Get(page)
	require.NoError(t, err)
	html, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Len(t, html, 200000*26)
	assert.NotEqual(t, resp.Request.URL.Host, strings.TrimPrefix(s.url, "http://"), "served by S3, not the api Lambda")
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"), "HTML is served as plain text from S3")

	s.assertTestPages(t, proj.Slug, jobs["unit"].JobNumber)
	s.report(t, 5) // five jobs ran on Nomad
}

// assertTestPages: the unit job's 2,501 results went through the api
// Lambda in batches, and come back through it page by page
// (next_page_token ↔ page-token), each test once.
func (s *shape) assertTestPages(t *testing.T, slug string, num int64) {
	t.Helper()
	assert.Equal(t, 2, s.front.requestsWhere(func(p string) bool {
		return strings.HasPrefix(p, "/runner/v1/task/steps/") && strings.HasSuffix(p, "/tests")
	}), "2,501 results in two batches through the front")
	path := fmt.Sprintf("/api/v2/project/%s/%d/tests", slug, num)
	before := s.front.requestsTo(path)
	seen := map[string]string{}
	var sizes []int
	token := ""
	for len(sizes) < 10 {
		var pg struct {
			Items []struct {
				Name, Result, Message, Source string
			}
			NextPageToken *string `json:"next_page_token"`
			Message       string
		}
		q := path
		if token != "" {
			q += "?page-token=" + url.QueryEscape(token)
		}
		require.Equal(t, 200, s.do(t, "GET", q, nil, &pg), pg.Message)
		sizes = append(sizes, len(pg.Items))
		for _, it := range pg.Items {
			_, dup := seen[it.Name]
			assert.False(t, dup, "%s listed once", it.Name)
			seen[it.Name] = it.Result
			assert.Equal(t, "go", it.Source)
		}
		if pg.NextPageToken == nil {
			break
		}
		token = *pg.NextPageToken
	}
	assert.Equal(t, []int{1000, 1000, 501}, sizes, "pages of 1,000")
	assert.Len(t, seen, 2501)
	assert.Equal(t, "failure", seen["TestFails"])
	assert.Equal(t, "success", seen["Test2500"])
	assert.Equal(t, before+3, s.front.requestsTo(path), "each page one request through the api Lambda")
}

func terminal(st string) bool {
	switch st {
	case "success", "failed", "error", "canceled", "not_run", "unauthorized":
		return true
	}
	return false
}

func (s *shape) output(t testing.TB, slug string, num int64, step int) string {
	t.Helper()
	code, b := s.get(t, fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=%d&task=0", slug, num, step))
	require.Equal(t, 200, code, string(b))
	return string(b)
}

// report logs the AWS requests the run made, per job, for docs/COST.md.
func (s *shape) report(t testing.TB, jobs int) {
	var lines []string
	counts := s.aws.snapshot()
	for _, k := range sortedKeys(counts) {
		lines = append(lines, fmt.Sprintf("%-45s %5d  %7.1f/job", k, counts[k], float64(counts[k])/float64(jobs)))
	}
	for _, f := range []*function{s.api, s.conductor} {
		n, busy := f.stats()
		lines = append(lines, fmt.Sprintf("lambda %-38s %5d  %7.1f/job  %.3f s/invocation", f.name, n, float64(n)/float64(jobs), busy.Seconds()/float64(max(n, 1))))
	}
	lines = append(lines, fmt.Sprintf("%-45s %5d  %7.1f/job", "apigateway requests", s.front.requests.Load(), float64(s.front.requests.Load())/float64(jobs)))
	entered := 0
	close(s.started)
	for arn := range s.started {
		h, err := s.engine.History(t.Context(), arn)
		require.NoError(t, err)
		for _, e := range h {
			if strings.HasSuffix(e.Type, "StateEntered") {
				entered++
			}
		}
	}
	lines = append(lines, fmt.Sprintf("%-45s %5d  %7.1f/job", "states transitions (states entered)", entered, float64(entered)/float64(jobs)))
	t.Logf("AWS requests of the pipeline (%d jobs on Nomad):\n%s", jobs, strings.Join(lines, "\n"))
}
