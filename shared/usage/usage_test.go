package usage_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/usage"
)

func TestWeek(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{name: "monday", at: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), want: "2026-11-30"},
		{name: "sunday night", at: time.Date(2026, 12, 6, 23, 59, 0, 0, time.UTC), want: "2026-11-30"},
		{name: "wednesday", at: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), want: "2026-11-30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, usage.Week(tc.at)) })
	}
}

func TestCompute(t *testing.T) {
	ctx := t.Context()
	kvs, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { kvs.Close() })
	st := store.New(kvs, nil)
	week := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, slug := range []string{"local/acme/api", "local/acme/web", "gh/other/x"} {
		_, err := st.CreateProject(ctx, store.Project{Slug: slug, CreatedAt: week.AddDate(0, 0, -30)})
		require.NoError(t, err)
	}
	_, err = st.CreateProject(ctx, store.Project{Slug: "local/acme/new", CreatedAt: week})
	require.NoError(t, err)
	job := func(name, executor string, start time.Time, d time.Duration) store.Job {
		stop := start.Add(d)
		return store.Job{ID: name + start.String(), Name: name, Status: status.JobSuccess, StartedAt: &start, StoppedAt: &stop,
			Spec: []byte(`{"job":{"executor":{"type":"` + executor + `"}}}`)}
	}
	add := func(slug string, jobs ...store.Job) {
		p, err := st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: slug})
		require.NoError(t, err)
		for i := range jobs {
			jobs[i].WorkflowID, jobs[i].PipelineID, jobs[i].ProjectSlug = p.ID+"-w", p.ID, slug
		}
		require.NoError(t, st.CreateWorkflow(ctx, store.Workflow{ID: p.ID + "-w", PipelineID: p.ID, ProjectSlug: slug, CreatedAt: week}, jobs))
	}
	add("local/acme/api", job("a", "docker", week, 90*time.Second), job("b", "macos", week, 10*time.Minute))
	add("local/acme/web", job("c", "machine", week, 5*time.Minute))
	add("local/acme/new", job("d", "docker", week, time.Minute))
	add("gh/other/x", job("e", "docker", week.AddDate(0, 0, 7), 3*time.Minute))

	rep, err := usage.Compute(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, []usage.AccountWeek{
		{UTCWeek: "2026-11-30", AccountID: "local/acme", CurrentMacOS: 10, CurrentLinux: 2 + 5 + 1},
		{UTCWeek: "2026-12-07", AccountID: "gh/other", CurrentLinux: 3},
	}, rep.Accounts)
	require.Len(t, rep.Jobs, 2)
	w := rep.Jobs[0].Columns
	assert.Len(t, w, len(usage.JobColumns))
	assert.EqualValues(t, 8, w["usage_private_linux_current"])
	assert.EqualValues(t, 10, w["usage_private_macos_current"])
	assert.EqualValues(t, 3, w["projects_private_linux_current"]+w["projects_private_macos_current"], "api, web, new")
	assert.EqualValues(t, 1, w["new_projects_private_linux_current"], "new was followed that week")
	assert.Zero(t, w["usage_oss_linux_legacy"])
}
