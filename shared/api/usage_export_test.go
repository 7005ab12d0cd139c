package api_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/blob/dirblob"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/usage"
)

// ranJob stores a pipeline of slug with one job "name" that ran from
// started for secs seconds.
func ranJob(t *testing.T, st *store.Store, slug, name string, started time.Time, secs int) store.Job {
	t.Helper()
	ctx := t.Context()
	p, err := st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: slug, Trigger: store.Trigger{Type: "api", Actor: "alice"},
		VCS: store.PipelineVCS{Branch: "main", OriginRepositoryURL: "/src/" + slug}})
	require.NoError(t, err)
	stopped := started.Add(time.Duration(secs) * time.Second)
	w := store.Workflow{ID: p.ID + "-wf", Name: "build", PipelineID: p.ID, ProjectSlug: slug, Status: status.WorkflowSuccess,
		CreatedAt: started, StoppedAt: &stopped}
	j := store.Job{ID: p.ID + "-" + name, WorkflowID: w.ID, PipelineID: p.ID, ProjectSlug: slug, Name: name, Type: "build",
		Status: status.JobSuccess, Number: p.Number, Parallelism: 2, StartedAt: &started, StoppedAt: &stopped,
		Spec: []byte(`{"job":{"executor":{"type":"docker","resource_class":"large"}}}`)}
	require.NoError(t, st.CreateWorkflow(ctx, w, []store.Job{j}))
	return j
}

func TestUsageExportWritesTheOrgsJobsToADownloadableCSV(t *testing.T) {
	blobs, err := dirblob.New(dirblob.Config{Root: t.TempDir(), BaseURL: "http://orbit.test/blob", Secret: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	e := newEnv(t, func(c *api.Config) {
		ex, err := usage.NewExports(usage.ExportsConfig{KV: scratchKV(t), Records: c.Store, Blobs: blobs})
		require.NoError(t, err)
		c.Integrations.UsageExports = ex
		c.Blobs = blobs.Handler()
	})
	for _, slug := range []string{"local/acme/api", "local/other/web"} {
		_, err := e.st.CreateProject(t.Context(), store.Project{Slug: slug, Name: slug[strings.LastIndex(slug, "/")+1:], VCS: "local"})
		require.NoError(t, err)
	}
	now := time.Now().UTC()
	in := ranJob(t, e.st, "local/acme/api", "test", now.Add(-2*time.Hour), 90)
	ranJob(t, e.st, "local/acme/api", "old", now.Add(-20*24*time.Hour), 30) // before the window
	ranJob(t, e.st, "local/other/web", "lint", now.Add(-2*time.Hour), 30)   // another organization
	org := ids.Org("local/acme")

	start, end := now.Add(-24*time.Hour).Format(time.RFC3339), now.Add(time.Minute).Format(time.RFC3339)
	rec := e.do("POST", "/api/v2/organizations/"+org+"/usage_export_job", `{"start":"`+start+`","end":"`+end+`"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	job := decodeBody[obj](t, rec)
	assert.Equal(t, "completed", job["state"])
	for _, k := range []string{"usage_export_job_id", "start", "end", "download_urls"} {
		assert.Contains(t, job, k)
	}

	rec = e.do("GET", "/api/v2/organizations/"+org+"/usage_export_job/"+job["usage_export_job_id"].(string), "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := decodeBody[obj](t, rec)
	require.Len(t, got["download_urls"], 1)
	u, err := url.Parse(got["download_urls"].([]any)[0].(string))
	require.NoError(t, err)
	dl := e.do("GET", u.RequestURI(), "", anonymous...)
	require.Equal(t, http.StatusOK, dl.Code, dl.Body.String())
	rows, err := csv.NewReader(dl.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2, "the header and the one job of acme in the window")
	row := map[string]string{}
	for i, c := range rows[0] {
		row[c] = rows[1][i]
	}
	assert.Equal(t, usage.ExportColumns, rows[0])
	assert.Equal(t, in.ID, row["JOB_ID"])
	assert.Equal(t, "90", row["JOB_RUN_SECONDS"])
	assert.Equal(t, "large", row["RESOURCE_CLASS"])
	assert.Equal(t, "2", row["PARALLELISM"])
	assert.Equal(t, org, row["ORGANIZATION_ID"])
	assert.Equal(t, ids.Project("local/acme/api"), row["PROJECT_ID"])

	// Another organization's id does not reach this job.
	rec = e.do("GET", "/api/v2/organizations/"+ids.Org("local/other")+"/usage_export_job/"+job["usage_export_job_id"].(string), "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

func TestUsageExportRefusesBadWindowsAndNonAdmins(t *testing.T) {
	blobs, err := dirblob.New(dirblob.Config{Root: t.TempDir(), BaseURL: "http://orbit.test/blob", Secret: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	e := newEnv(t, func(c *api.Config) {
		ex, err := usage.NewExports(usage.ExportsConfig{KV: scratchKV(t), Records: c.Store, Blobs: blobs})
		require.NoError(t, err)
		c.Integrations.UsageExports = ex
	})
	_, err = e.st.CreateProject(t.Context(), store.Project{Slug: "local/acme/api", Name: "api", VCS: "local"})
	require.NoError(t, err)
	path := "/api/v2/organizations/" + ids.Org("local/acme") + "/usage_export_job"
	cases := []struct{ name, body, msg string }{
		{"end before start", `{"start":"2026-01-10T00:00:00Z","end":"2026-01-01T00:00:00Z"}`, "not after start"},
		{"window too long", `{"start":"` + time.Now().Add(-60*24*time.Hour).Format(time.RFC3339) + `","end":"` + time.Now().Format(time.RFC3339) + `"}`, "31 days"},
		{"no end", `{"start":"2026-01-10T00:00:00Z"}`, "start and end are required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("POST", path, tc.body)
			require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			assert.Contains(t, decodeBody[obj](t, rec)["message"], tc.msg)
		})
	}
	writer := e.tokenOf("writer", "write")
	rec := e.do("POST", path, `{"start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00Z"}`, "Circle-Token", writer)
	assert.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
	rec = e.do("POST", "/api/v2/organizations/00000000-0000-0000-0000-000000000000/usage_export_job", `{"start":"2026-01-01T00:00:00Z","end":"2026-01-02T00:00:00Z"}`)
	assert.Equal(t, http.StatusNotFound, rec.Code)
}
