package nomadbridge_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/memmetrics"
)

func summary(complete, failed, lost int) *api.JobSummary {
	return &api.JobSummary{Summary: map[string]api.TaskGroupSummary{"build": {Complete: complete, Failed: failed, Lost: lost}}}
}

func TestCountJobs(t *testing.T) {
	jobs := []*api.JobListStub{
		{Status: "pending"}, {Status: "running"}, {Status: "running"},
		{Status: "dead", JobSummary: summary(1, 0, 0)},
		{Status: "dead", JobSummary: summary(0, 1, 0)},
		{Status: "dead", JobSummary: summary(1, 0, 1)},
		{Status: "dead"},
	}
	assert.Equal(t, nomadbridge.JobCounts{Pending: 1, Running: 2, Complete: 1, Dead: 4}, nomadbridge.CountJobs(jobs))
}

func TestMetricsAndHealth(t *testing.T) {
	m := memmetrics.New()
	u := newUnit(t, func(c *nomadbridge.Config) { c.Metrics, c.MetricsInterval = m, 10*time.Millisecond })
	for id, st := range map[string]*api.JobListStub{
		"p": {Status: "pending"}, "r": {Status: "running"},
		"c": {Status: "dead", JobSummary: summary(1, 0, 0)}, "f": {Status: "dead", JobSummary: summary(0, 1, 0)},
	} {
		_, _, err := u.jobs.Register(&api.Job{ID: &id}, nil)
		require.NoError(t, err)
		u.jobs.setStatus(id, st)
	}
	u.start(t)
	value := func(name string) float64 { v, _ := m.Value(name); return v }
	require.Eventually(t, func() bool { _, ok := m.Value(metrics.NomadJobsDead); return ok }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 0.0, value(metrics.NomadPollFailure))
	assert.Equal(t, 1.0, value(metrics.NomadJobsPending))
	assert.Equal(t, 1.0, value(metrics.NomadJobsRunning))
	assert.Equal(t, 1.0, value(metrics.NomadJobsComplete))
	assert.Equal(t, 2.0, value(metrics.NomadJobsDead))

	rec := httptest.NewRecorder()
	u.bridge.StatusHandler("v1").ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	assert.Equal(t, 200, rec.Code, rec.Body.String())

	u.jobs.mu.Lock()
	u.jobs.listErr = errors.New("connection refused")
	u.jobs.mu.Unlock()
	require.Eventually(t, func() bool { return value(metrics.NomadPollFailure) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1.0, value(metrics.NomadJobsRunning), "the last counts are kept")
	rec = httptest.NewRecorder()
	u.bridge.StatusHandler("v1").ServeHTTP(rec, httptest.NewRequest("GET", "/health-check", nil))
	assert.Equal(t, 500, rec.Code)
	var body struct {
		Status       string
		Dependencies map[string]string
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, "unhealthy", body.Status)
	assert.Contains(t, body.Dependencies["nomad"], "connection refused")
	assert.Equal(t, "ok", body.Dependencies["run_queue"])
}
