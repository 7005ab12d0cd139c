package nomadagent_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"context"
	"github.com/hashicorp/nomad/api"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/nomadagent"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
)

func TestReachable(t *testing.T) {
	answer := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			assert.Equal(t, "/v1/status/leader", r.URL.Path)
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	tests := []struct {
		name, addr, want string
	}{
		{"healthy", answer(200, `"127.0.0.1:4647"`), ""},
		{"no leader", answer(200, `""`), "has no cluster leader"},
		{"error status", answer(500, `No cluster leader`), "answered 500"},
		{"not nomad", answer(200, `<html>`), "is it Nomad?"},
		{"nothing listening", closed, "nomad unreachable at " + closed},
		{"not a url", "::bad", "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := nomadagent.Reachable(context.Background(), tt.addr)
			if tt.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.want)
			}
		})
	}
}

func TestStartStop(t *testing.T) {
	bin := nomadtest.Binary(t)
	if testing.Short() {
		t.Skip("starts a Nomad agent")
	}
	ctx := context.Background()
	a, err := nomadagent.Start(ctx, nomadagent.Config{Binary: bin, DataDir: t.TempDir(), DieWithParent: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Stop() })
	require.NoError(t, nomadagent.Reachable(ctx, a.Addr()))
	// Purged builds' allocations are collected after minutes (ServerGC),
	// not after Nomad's 24 h.
	resp, err := http.Get(a.Addr() + "/v1/agent/self")
	require.NoError(t, err)
	var self struct {
		Config struct {
			Server struct{ JobGCInterval, JobGCThreshold, EvalGCThreshold, BatchEvalGCThreshold string }
		} `json:"config"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&self))
	_ = resp.Body.Close()
	gc := self.Config.Server
	assert.Equal(t, []string{"1m", "5m", "5m", "5m"}, []string{gc.JobGCInterval, gc.JobGCThreshold, gc.EvalGCThreshold, gc.BatchEvalGCThreshold})
	require.NoError(t, a.Stop())
	assert.ErrorContains(t, nomadagent.Reachable(ctx, a.Addr()), "nomad unreachable at")
	require.NoError(t, a.Stop(), "Stop twice is fine")
}

func TestStartFailsClearly(t *testing.T) {
	_, err := nomadagent.Start(context.Background(), nomadagent.Config{
		Binary: filepath.Join(t.TempDir(), "no-such-nomad"), DataDir: t.TempDir()})
	assert.ErrorContains(t, err, "no-such-nomad")
}

// TestLogIsBoundedAtInfo: the dev agent logs at INFO (-dev alone logs at
// DEBUG, 41 MB in four idle minutes) into a log Nomad rotates and prunes,
// so the logs on disk stay under (max files + 1) × rotate bytes.
func TestLogIsBoundedAtInfo(t *testing.T) {
	const rotateBytes, maxFiles = 4096, 2
	dir := t.TempDir()
	logFile := filepath.Join(dir, "logs", "nomad.log")
	require.NoError(t, os.MkdirAll(filepath.Dir(logFile), 0o755))
	a := nomadtest.StartAgent(t, func(c *nomadagent.Config) {
		c.LogFile, c.LogRotateBytes, c.LogRotateMaxFiles = logFile, rotateBytes, maxFiles
	})
	assert.Equal(t, logFile, a.LogFile())
	// Requests are logged at DEBUG: make some, then make INFO lines by
	// registering and stopping a job, until the log has rotated.
	client, err := api.NewClient(&api.Config{Address: a.Addr()})
	require.NoError(t, err)
	logs := func() []string {
		m, err := filepath.Glob(filepath.Join(filepath.Dir(logFile), "nomad*.log"))
		require.NoError(t, err)
		return m
	}
	rotated := func() int {
		m, err := filepath.Glob(filepath.Join(filepath.Dir(logFile), "nomad-*.log"))
		require.NoError(t, err)
		return len(m)
	}
	for i := 0; rotated() < maxFiles; i++ {
		require.Less(t, i, 200, "the log never rotated: %v", logs())
		job := api.NewBatchJob(fmt.Sprintf("log-%d", i), fmt.Sprintf("log-%d", i), "global", 50)
		job.AddDatacenter("*")
		task := api.NewTask("t", "raw_exec").SetConfig("command", "/bin/true")
		task.Resources = &api.Resources{CPU: ptr(20), MemoryMB: ptr(20)}
		job.AddTaskGroup(api.NewTaskGroup("g", 1).AddTask(task))
		_, _, err := client.Jobs().Register(job, nil)
		require.NoError(t, err)
		_, _, err = client.Jobs().Deregister(*job.ID, true, nil)
		require.NoError(t, err)
	}
	require.NoError(t, a.Stop())

	files := logs()
	assert.LessOrEqual(t, len(files), maxFiles+2, "current log + kept rotations + standard error: %v", files)
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		// Nomad rotates before a write once the file is full: one line over.
		assert.LessOrEqual(t, len(b), rotateBytes+4096, "%s is capped", f)
		all.Write(b)
	}
	assert.Contains(t, all.String(), "[INFO]")
	assert.NotContains(t, all.String(), "[DEBUG]")
	assert.NotContains(t, all.String(), "[TRACE]")
}

func ptr[T any](v T) *T { return &v }
