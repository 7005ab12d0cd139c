package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/store"
)

func TestSchedulesAPI(t *testing.T) {
	e := newEnv(t)
	seed(t, e.st)
	const base = "/api/v2/project/local/acme/api/schedule"
	rec := e.do(http.MethodPost, base, `{"name":"nightly","description":"every night","attribution-actor":"current",
		"timetable":{"per-hour":1,"hours-of-day":[3],"days-of-week":["MON","FRI"]},
		"parameters":{"branch":"release","deploy":true}}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	created := decodeBody[obj](t, rec)
	id := created["id"].(string)
	assert.Equal(t, "nightly", created["name"])
	assert.Equal(t, "local/acme/api", created["project-slug"])
	assert.Equal(t, obj{"per-hour": float64(1), "hours-of-day": []any{float64(3)}, "days-of-week": []any{"MON", "FRI"}}, created["timetable"])
	assert.Equal(t, obj{"branch": "release", "deploy": true}, created["parameters"])
	assert.Equal(t, "admin", created["actor"].(obj)["login"])

	// Stored: the evaluator reads it from the store.
	stored, err := e.st.GetPipelineSchedule(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, []string{"MON", "FRI"}, stored.Timetable.DaysOfWeek)
	assert.Equal(t, e.admin.ID, stored.ActorID)

	list := decodeBody[obj](t, e.do(http.MethodGet, base, ""))
	require.Len(t, list["items"], 1)
	assert.Nil(t, list["next_page_token"])

	rec = e.do(http.MethodPatch, "/api/v2/schedule/"+id, `{"attribution-actor":"system","timetable":{"per-hour":2,"hours-of-day":[1],"days-of-month":[1]}}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/schedule/"+id, ""))
	assert.Equal(t, "nightly", got["name"], "fields not given are kept")
	assert.Equal(t, "system-actor", got["actor"].(obj)["login"])
	assert.Equal(t, obj{"per-hour": float64(2), "hours-of-day": []any{float64(1)}, "days-of-month": []any{float64(1)}}, got["timetable"])

	for name, body := range map[string]string{
		"no name":        `{"attribution-actor":"system","timetable":{"per-hour":1,"hours-of-day":[3],"days-of-week":["MON"]},"parameters":{}}`,
		"bad timetable":  `{"name":"x","attribution-actor":"system","timetable":{"per-hour":0,"hours-of-day":[3],"days-of-week":["MON"]},"parameters":{}}`,
		"bad actor":      `{"name":"x","attribution-actor":"bob","timetable":{"per-hour":1,"hours-of-day":[3],"days-of-week":["MON"]},"parameters":{}}`,
		"branch and tag": `{"name":"x","attribution-actor":"system","timetable":{"per-hour":1,"hours-of-day":[3],"days-of-week":["MON"]},"parameters":{"branch":"a","tag":"b"}}`,
		"unknown field":  `{"name":"x","attribution-actor":"system","timetable":{"per_hour":1},"parameters":{}}`,
	} {
		rec := e.do(http.MethodPost, base, body)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", name, rec.Body.String())
	}

	rec = e.do(http.MethodDelete, "/api/v2/schedule/"+id, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v2/schedule/"+id, "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/api/v2/schedule/"+id, "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v2/project/local/acme/nope/schedule", "").Code)
}

// TestDeleteProject: the project goes, and with it what a project followed
// again under the same slug must not inherit (variables, schedules).
func TestDeleteProject(t *testing.T) {
	e := vaultEnv(t)
	const base = "/api/v2/project/local/acme/api"
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, base+"/envvar", `{"name":"TOKEN","value":"`+secretValue+`"}`).Code)
	rec := e.do(http.MethodPost, base+"/schedule", `{"name":"n","attribution-actor":"system","parameters":{},
		"timetable":{"per-hour":1,"hours-of-day":[3],"days-of-week":["MON"]}}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	schedID := decodeBody[obj](t, rec)["id"].(string)

	rec = e.do(http.MethodDelete, base, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "Project deleted.", decodeBody[obj](t, rec)["message"])
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, base, "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, base, "").Code)
	_, err := e.st.GetPipelineSchedule(t.Context(), schedID)
	assert.ErrorIs(t, err, store.ErrNotFound)

	// Followed again: nothing of the old one.
	_, err = e.st.CreateProject(t.Context(), store.Project{Slug: "local/acme/api", Name: "api", VCS: "local"})
	require.NoError(t, err)
	assert.Empty(t, decodeBody[obj](t, e.do(http.MethodGet, base+"/envvar", ""))["items"])
	assert.Empty(t, decodeBody[obj](t, e.do(http.MethodGet, base+"/schedule", ""))["items"])
}

func TestProjectSettings(t *testing.T) {
	e := newEnv(t)
	_, err := e.st.CreateProject(t.Context(), store.Project{Slug: "gh/acme/api", Name: "api", VCS: "github", DefaultBranch: "trunk"})
	require.NoError(t, err)
	seed(t, e.st) // local/acme/api
	get := func(slug string) obj {
		t.Helper()
		rec := e.do(http.MethodGet, "/api/v2/project/"+slug+"/settings", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return decodeBody[obj](t, rec)["advanced"].(obj)
	}
	gh, local := get("github/acme/api"), get("local/acme/api")
	assert.Equal(t, true, gh["set_github_status"])
	assert.Equal(t, false, local["set_github_status"], "only GitHub projects report commit statuses")
	assert.Equal(t, false, gh["autocancel_builds"])
	assert.Equal(t, []any{"trunk"}, gh["pr_only_branch_overrides"])

	const path = "/api/v2/project/gh/acme/api/settings"
	rec := e.do(http.MethodPatch, path, `{"advanced":{"set_github_status":true,"oss":false}}`)
	require.Equal(t, http.StatusOK, rec.Code, "Orbit's own values are accepted: %s", rec.Body.String())
	rec = e.do(http.MethodPatch, path, `{"advanced":{"autocancel_builds":true}}`)
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
	assert.Equal(t, "advanced.autocancel_builds cannot be true on Orbit: Orbit does not cancel redundant pipelines", decodeBody[obj](t, rec)["message"])
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodPatch, path, `{"advanced":{"autocancel":true}}`).Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v2/project/gh/acme/nope/settings", "").Code)
}
