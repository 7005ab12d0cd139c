package agent_test

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/taskfiles"
)

// another is a second task on the harness's server (caches and workspaces
// pass between tasks), with its own directory.
func (h *harness) another(t *testing.T, token string, spec runner.TaskSpec) *harness {
	t.Helper()
	h.srv.Add(token, spec)
	cfg := h.cfg
	cfg.BaseDir = t.TempDir()
	cfg.Client = runner.NewClient(h.srv.URL, token, nil, runner.WithBackoff(5*time.Millisecond, 50*time.Millisecond))
	return &harness{srv: h.srv, token: token, cfg: cfg}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func TestCacheSavedByOneTaskRestoredByAnother(t *testing.T) {
	saveSteps := []runner.Step{
		run("make deps", "mkdir -p deps ~/.tool && echo lib > deps/lib.txt && echo cfg > ~/.tool/config && echo v1 > deps.lock"),
		{Type: runner.StepSaveCache, Name: "Saving cache", Key: `deps-{{ .Branch }}-{{ checksum "deps.lock" }}`,
			Paths: []string{"deps", "~/.tool", "missing-dir"}},
	}
	first := newHarness(t, runner.TaskSpec{TaskID: "t1", JobNumber: 1, Checkout: runner.Checkout{Branch: "main"}, Steps: saveSteps})
	out, task := first.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(1))
	assert.Contains(t, task.Output(1), "Warning: could not find ~/project/missing-dir")
	assert.Contains(t, task.Output(1), "Stored Cache to deps-main-")
	assert.Contains(t, task.Output(1), "  * ~/project/deps\n  * ~/.tool\n")

	again := first.another(t, "tok-again", runner.TaskSpec{TaskID: "t2", JobNumber: 2, Checkout: runner.Checkout{Branch: "main"}, Steps: saveSteps})
	out, task = again.run(t)
	require.Equal(t, agent.OutcomeSuccess, out)
	assert.Contains(t, task.Output(1), "Skipping cache generation, cache already exists for key: deps-main-")

	restore := first.another(t, "tok-restore", runner.TaskSpec{TaskID: "t3", JobNumber: 3, Checkout: runner.Checkout{Branch: "feature"}, Steps: []runner.Step{
		{Type: runner.StepRestoreCache, Name: "Restoring cache", Keys: []string{"deps-{{ .Branch }}-", "deps-"}},
		run("use", "cat deps/lib.txt ~/.tool/config"),
	}})
	out, task = restore.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(0))
	assert.Contains(t, task.Output(0), "Found a cache at deps-main-")
	assert.Contains(t, task.Output(0), "Restored 2 files")
	assert.Equal(t, "lib\ncfg\n", task.Output(1))

	miss := first.another(t, "tok-miss", runner.TaskSpec{TaskID: "t4", JobNumber: 4, Steps: []runner.Step{
		{Type: runner.StepRestoreCache, Keys: []string{"v9-{{ .Environment.NOPE }}x"}},
	}})
	out, task = miss.run(t)
	require.Equal(t, agent.OutcomeSuccess, out)
	assert.Contains(t, task.Output(0), "No cache is found for key: v9-x")
}

func TestCorruptCacheIsReportedAndSkipped(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{TaskID: "t1", JobNumber: 1, Steps: []runner.Step{
		run("older", "mkdir -p d && echo good > d/f"),
		{Type: runner.StepSaveCache, Key: "c-1-good", Paths: []string{"d"}},
	}})
	out, _ := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out)
	// A newer cache whose stored checksum does not match its bytes.
	ctx := context.Background()
	h.srv.Add("tok-bad", runner.TaskSpec{TaskID: "bad", JobNumber: 2})
	c := runner.NewClient(h.srv.URL, "tok-bad", nil)
	res, err := c.SaveCache(ctx, runner.CacheSaveRequest{Key: "c-2-bad"})
	require.NoError(t, err)
	require.NoError(t, c.PutObject(ctx, *res.Upload, strings.NewReader("not a tarball"), 13))
	require.NoError(t, c.CommitCache(ctx, runner.CacheCommit{Key: "c-2-bad", Size: 13, SHA256: strings.Repeat("ab", 32)}))

	restore := h.another(t, "tok-restore", runner.TaskSpec{TaskID: "t3", JobNumber: 3, Steps: []runner.Step{
		{Type: runner.StepRestoreCache, Keys: []string{"c-2", "c-"}},
		run("use", "cat d/f"),
	}})
	out, task := restore.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(0))
	assert.Contains(t, task.Output(0), "Error: the cache c-2-bad is corrupted (archive is corrupted: SHA-256")
	assert.Contains(t, task.Output(0), "Restored 1 files from cache c-1-good")
	assert.Equal(t, "good\n", task.Output(1))
}

func TestWorkspaceThroughThreeJobs(t *testing.T) {
	build := newHarness(t, runner.TaskSpec{TaskID: "b", JobName: "build", WorkflowID: "wf", Steps: []runner.Step{
		run("build", "mkdir -p out/bin out/tmp && echo app > out/bin/app && echo junk > out/tmp/x && echo m > out/manifest.json"),
		{Type: runner.StepPersistToWorkspace, Root: "out", Paths: []string{"bin/**", "*.json"}},
	}})
	out, task := build.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(1))
	assert.Contains(t, task.Output(1), "Uploading workspace layer (2 files")

	test := build.another(t, "tok-test", runner.TaskSpec{TaskID: "t", JobName: "test", WorkflowID: "wf", Steps: []runner.Step{
		{Type: runner.StepAttachWorkspace, At: "~/ws"},
		run("test", "cat ~/ws/bin/app && test ! -e ~/ws/tmp && echo report > r.txt && echo app2 > ~/ws/bin/app"),
		{Type: runner.StepPersistToWorkspace, Root: "~/ws", Paths: []string{"bin/app"}},
		{Type: runner.StepPersistToWorkspace, Root: ".", Paths: []string{"r.txt"}},
	}})
	test.srv.SetFiles(taskfiles.TaskContext{TaskID: "t", ProjectSlug: "gh/acme/project", JobName: "test", Attempt: 1,
		WorkflowID: "wf", Upstream: map[string]int{"build": 1}})
	out, task = test.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(0)+task.Output(2))
	assert.Equal(t, "app\n", task.Output(1))

	at := t.TempDir() // an absolute path outside HOME
	deploy := build.another(t, "tok-deploy", runner.TaskSpec{TaskID: "d", JobName: "deploy", WorkflowID: "wf", Steps: []runner.Step{
		{Type: runner.StepAttachWorkspace, At: at},
		run("deploy", "cat "+at+"/bin/app "+at+"/manifest.json "+at+"/r.txt"),
	}})
	deploy.srv.SetFiles(taskfiles.TaskContext{TaskID: "d", ProjectSlug: "gh/acme/project", JobName: "deploy", Attempt: 1,
		WorkflowID: "wf", Upstream: map[string]int{"build": 1, "test": 1}})
	out, task = deploy.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(0)+task.Output(1))
	assert.Contains(t, task.Output(0), "Applied 3 layers")
	assert.Equal(t, "app2\nm\nreport\n", task.Output(1), "later layers win")

	noMatch := build.another(t, "tok-nomatch", runner.TaskSpec{TaskID: "n", WorkflowID: "wf", Steps: []runner.Step{
		run("nothing", "true"),
		{Type: runner.StepPersistToWorkspace, Root: ".", Paths: []string{"nothing/*"}},
	}})
	out, task = noMatch.run(t)
	assert.Equal(t, agent.OutcomeFailed, out)
	assert.Contains(t, task.Last(1).Message, `"nothing/*" matched nothing`)
}

func TestArtifactsAndTestResults(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{TaskID: "t", JobNumber: 9, Index: 1, Secrets: []string{"b_test.go:3"}, Steps: []runner.Step{
		run("produce", `mkdir -p reports/sub results/go && echo '<h1>hi</h1>' > reports/index.html && echo log > reports/sub/app.log
cat > results/go/report.xml <<'XML'
<testsuite><testcase name="TestA" classname="pkg" file="a_test.go" time="1.5"/>
<testcase name="TestB" classname="pkg" file="b_test.go" time="0.5"><failure message="nope">b_test.go:3</failure></testcase></testsuite>
XML
echo 'not xml' > results/go/broken.xml`),
		{Type: runner.StepStoreArtifacts, Path: "reports", Destination: "site"},
		{Type: runner.StepStoreArtifacts, Path: "reports/sub/app.log"},
		{Type: runner.StepStoreArtifacts, Path: "does-not-exist"},
		{Type: runner.StepStoreTestResults, Path: "results"},
	}})
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(1)+task.Output(4))
	assert.Contains(t, task.Output(1), "Uploaded 2 artifacts")
	assert.Contains(t, task.Output(3), "No artifact files found")
	assert.Contains(t, task.Output(4), "Warning: skipping ~/project/results/go/broken.xml")
	assert.Contains(t, task.Output(4), "Found 2 test result files: 2 tests, 1 failed, 0 skipped")

	svc := h.srv.Files.Service
	ctx := context.Background()
	arts, err := svc.Artifacts(ctx, "gh/acme/project", 9)
	require.NoError(t, err)
	assert.Equal(t, []taskfiles.Artifact{
		{Path: "reports/sub/app.log", NodeIndex: 1, Size: 4},
		{Path: "site/index.html", NodeIndex: 1, Size: 12},
		{Path: "site/sub/app.log", NodeIndex: 1, Size: 4},
	}, arts)
	_, info, err := svc.OpenArtifact(ctx, "gh/acme/project", 9, 1, "site/index.html")
	require.NoError(t, err)
	assert.Equal(t, "text/html; charset=utf-8", info.ContentType)

	tests, err := svc.Tests(ctx, "gh/acme/project", 9, 1)
	require.NoError(t, err)
	assert.Equal(t, []junit.Test{
		{Name: "TestA", Classname: "pkg", File: "a_test.go", RunTime: 1.5, Result: "success", Source: "go"},
		{Name: "TestB", Classname: "pkg", File: "b_test.go", RunTime: 0.5, Result: "failure", Message: "nope\n********", Source: "go"},
	}, tests)
}

func TestShimSplitsByTimingsAndHalts(t *testing.T) {
	ctx := context.Background()
	// An earlier run of the job stored timings on the branch.
	h := newHarness(t, runner.TaskSpec{TaskID: "r1", JobName: "test", JobNumber: 1, Checkout: runner.Checkout{Branch: "main"}})
	c := runner.NewClient(h.srv.URL, h.token, nil)
	require.NoError(t, c.StoreTests(ctx, 0, 0, runner.TestBatch{Tests: []junit.Test{
		{Name: "a", File: "a_test.go", RunTime: 9}, {Name: "b", File: "b_test.go", RunTime: 5},
		{Name: "c", File: "c_test.go", RunTime: 4},
	}}))
	for node, want := range []string{"a_test.go", "b_test.go c_test.go"} {
		h := h.another(t, "tok-node"+string(rune('0'+node)), runner.TaskSpec{
			TaskID: "r2-" + string(rune('0'+node)), JobName: "test", JobNumber: 2, Index: node,
			Checkout:    runner.Checkout{Branch: "main"},
			Environment: []runner.EnvVar{{Name: "CIRCLE_NODE_INDEX", Value: string(rune('0' + node))}, {Name: "CIRCLE_NODE_TOTAL", Value: "2"}},
			Steps: []runner.Step{
				run("files", "touch a_test.go b_test.go c_test.go"),
				run("split", `echo $(circleci tests glob "*_test.go" | circleci tests split --split-by=timings)`),
				run("halt", "circleci step halt"),
				run("never", "echo must not run"),
			},
		})
		out, task := h.run(t)
		require.Equal(t, agent.OutcomeSuccess, out, task.Output(1))
		assert.Equal(t, want+"\n", task.Output(1), "node %d", node)
		assert.Equal(t, runner.StatusSuccess, task.Last(2).Status)
		assert.Empty(t, task.Steps[3], "no step runs after circleci step halt")
	}
}

func TestOutputCapNoticesAndSetupSteps(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{
		Notices: []string{"Orbit: the image cimg/go:1.22 was not used."},
		SSHKeys: []runner.SSHKey{{Fingerprint: "SHA256:abc", Hostname: "git.example.com", PrivateKey: "-----BEGIN KEY-----\nx\n-----END KEY-----"}},
		Steps: []runner.Step{
			run("loud", `printf '\033[31m'; head -c 5000 /dev/zero | tr '\0' x; echo; echo still running >&2; touch ~/after`),
			{Type: runner.StepAddSSHKeys, Fingerprints: []string{"SHA256:abc", "de:ad:be:ef"}},
			{Type: runner.StepSetupRemoteDocker},
			run("after", "test -e ~/after && cat ~/.ssh/config"),
		},
	})
	h.cfg.MaxStepOutput = 1000
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(1))
	o := task.Output(0)
	assert.True(t, strings.HasPrefix(o, "Orbit: the image cimg/go:1.22 was not used.\n\x1b[31mxxx"), o[:60])
	assert.True(t, strings.HasSuffix(o, agent.TruncationLine(1000)), o[len(o)-200:])
	assert.LessOrEqual(t, len(o), 1000+len(agent.TruncationLine(1000)))
	assert.NotContains(t, o, "still running")
	assert.Contains(t, task.Output(1), "Installed key SHA256:abc for git.example.com")
	assert.Contains(t, task.Output(1), "Warning: no SSH key with fingerprint de:ad:be:ef")
	assert.Contains(t, task.Output(2), "no remote Docker engine")
	assert.Contains(t, task.Output(3), "Host git.example.com\n  IdentityFile ")
	assert.NotContains(t, task.Output(3), "BEGIN KEY")
}

func TestHostExecutorNotice(t *testing.T) {
	tests := []struct {
		name string
		spec runner.TaskSpec
		want []string
	}{
		{name: "docker", spec: runner.TaskSpec{Executor: "docker", Image: "cimg/go:1.22",
			Images: []runner.Image{{Image: "cimg/go:1.22"}, {Image: "postgres:16"}, {Image: "redis:7"}}},
			want: []string{
				"Orbit host executor (Nomad raw_exec on node-1): the image cimg/go:1.22 was NOT pulled or used; steps run directly on the Nomad client, with its own tools.",
				"Orbit: the service containers (postgres:16, redis:7) were NOT started.",
			}},
		{name: "primary command", spec: runner.TaskSpec{Executor: "docker", Image: "cimg/base:stable",
			Images: []runner.Image{{Image: "cimg/base:stable", Command: []string{"sleep", "60"}}}},
			want: []string{
				"Orbit host executor (Nomad raw_exec on node-1): the image cimg/base:stable was NOT pulled or used; steps run directly on the Nomad client, with its own tools.",
				"Orbit: the primary image's command (sleep 60) was NOT run.",
			}},
		{name: "machine", spec: runner.TaskSpec{Executor: "machine", Image: "ubuntu-2204:current"},
			want: []string{"Orbit host executor (Nomad raw_exec on node-1): the machine executor (image ubuntu-2204:current) needs a VM, and this Orbit has no VM pool; steps run directly on the Nomad client instead."}},
		{name: "no image", spec: runner.TaskSpec{Executor: "docker"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Steps = []runner.Step{run("x", "echo step")}
			h := newHarness(t, tt.spec)
			h.cfg.HostDriver, h.cfg.Host = "raw_exec", "node-1"
			out, task := h.run(t)
			require.Equal(t, agent.OutcomeSuccess, out)
			want := ""
			for _, l := range tt.want {
				want += l + "\n"
			}
			assert.Equal(t, want+"step\n", task.Output(0))
		})
	}
}

func TestProxyAndCustomCAReachSteps(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "internal ok") }))
	defer srv.Close()
	caDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(caDir, "corp.crt"),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
	t.Setenv("HTTPS_PROXY", "http://proxy.corp:3128")
	t.Setenv("NO_PROXY", "127.0.0.1,localhost")
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{
		run("proxy", `echo "$HTTPS_PROXY|$NO_PROXY"`),
		run("tls", "curl -sS "+srv.URL),
	}})
	h.cfg.CACertDir = caDir
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeSuccess, out, task.Output(1))
	assert.Equal(t, "http://proxy.corp:3128|127.0.0.1,localhost\n", task.Output(0))
	assert.Equal(t, "internal ok", task.Output(1), "curl trusts the custom root CA")
}

func TestMaxAutoReruns(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{Steps: []runner.Step{
		{Type: runner.StepRun, Name: "flaky", MaxAutoReruns: 3, AutoRerunDelay: runner.Duration(10 * time.Millisecond),
			Command: `n=$(cat ~/tries 2>/dev/null || echo 0); n=$((n+1)); echo $n > ~/tries; echo "try $n"; [ $n -ge 2 ]`},
		{Type: runner.StepRun, Name: "always fails", MaxAutoReruns: 1, Command: "echo no; exit 2"},
	}})
	out, task := h.run(t)
	assert.Equal(t, agent.OutcomeFailed, out)
	assert.Equal(t, runner.StatusSuccess, task.Last(0).Status)
	assert.Equal(t, "try 1\n\nExited with code exit status 1\n\nAutomatic rerun 1 of 3 (max_auto_reruns) in 10ms\n\ntry 2\n", task.Output(0))
	assert.Equal(t, runner.StatusFailed, task.Last(1).Status)
	assert.Equal(t, 2, strings.Count(task.Output(1), "no\n"), "one rerun, then the step fails")
}

// TestFailedJobKeepsArtifactsAndTestResults: after the test step fails,
// store_test_results and store_artifacts still run (as on CircleCI, also
// for plans without a when, compiled before the compiler set one), so the
// failing test reaches the tests API; other steps are skipped.
func TestFailedJobKeepsArtifactsAndTestResults(t *testing.T) {
	h := newHarness(t, runner.TaskSpec{TaskID: "t", JobNumber: 7, Steps: []runner.Step{
		run("test", `mkdir -p results/go && cat > results/go/report.xml <<'XML'
<testsuite><testcase name="TestOK" classname="pkg" time="0.1"/>
<testcase name="TestBroken" classname="pkg" time="0.2"><failure message="want 1, got 2">x_test.go:9</failure></testcase></testsuite>
XML
echo log > test.log; exit 1`),
		{Type: runner.StepPersistToWorkspace, Root: ".", Paths: []string{"results"}},
		{Type: runner.StepStoreTestResults, Path: "results", When: "always"},
		{Type: runner.StepStoreArtifacts, Path: "test.log"},
		run("after", "echo after"),
	}})
	out, task := h.run(t)
	require.Equal(t, agent.OutcomeFailed, out)
	assert.Equal(t, runner.StatusFailed, task.Last(0).Status)
	assert.Empty(t, task.Steps[1], "persist_to_workspace runs only while the steps before succeed")
	assert.Equal(t, runner.StatusSuccess, task.Last(2).Status, task.Output(2))
	assert.Contains(t, task.Output(2), "2 tests, 1 failed")
	assert.Equal(t, runner.StatusSuccess, task.Last(3).Status, task.Output(3))
	assert.Empty(t, task.Steps[4], "a run step after the failure is skipped")

	ctx := context.Background()
	tests, err := h.srv.Files.Service.Tests(ctx, "gh/acme/project", 7, 1)
	require.NoError(t, err)
	require.Len(t, tests, 2)
	assert.Equal(t, "TestBroken", tests[1].Name)
	assert.Equal(t, "failure", tests[1].Result)
	arts, err := h.srv.Files.Service.Artifacts(ctx, "gh/acme/project", 7)
	require.NoError(t, err)
	assert.Equal(t, []taskfiles.Artifact{{Path: "test.log", NodeIndex: 0, Size: 4}}, arts)
}
