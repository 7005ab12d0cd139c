package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
)

func TestGroupsOfAnOrganization(t *testing.T) {
	e := newEnv(t)
	_, err := e.st.CreateProject(t.Context(), store.Project{Slug: "local/acme/api", Name: "api", VCS: "local"})
	require.NoError(t, err)
	base := "/api/v2/organizations/" + ids.Org("local/acme") + "/groups"
	var made []string
	for _, name := range []string{"release", "oncall", "docs"} {
		rec := e.do("POST", base, `{"name":"`+name+`","description":"the `+name+` people"}`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		g := decodeBody[obj](t, rec)
		assert.Equal(t, name, g["name"])
		made = append(made, g["id"].(string))
	}
	rec := e.do("POST", base, `{"name":"docs"}`)
	assert.Equal(t, http.StatusBadRequest, rec.Code, "names are unique")

	page := decodeBody[obj](t, e.do("GET", base+"?limit=2", ""))
	assert.Len(t, page["items"], 2)
	assert.Equal(t, float64(3), page["total_count"])
	require.NotNil(t, page["next_page_token"])
	rest := decodeBody[obj](t, e.do("GET", base+"?limit=2&page-token="+page["next_page_token"].(string), ""))
	assert.Len(t, rest["items"], 1)
	assert.Nil(t, rest["next_page_token"])

	assert.Equal(t, "oncall", e.getObj(base + "/" + made[1])["name"])
	rec = e.do("DELETE", base+"/"+made[1], "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, obj{"message": "Group deleted."}, decodeBody[obj](t, rec))
	assert.Equal(t, http.StatusNotFound, e.do("GET", base+"/"+made[1], "").Code)

	reader := e.tokenOf("reader", "read")
	assert.Equal(t, http.StatusOK, e.do("GET", base, "", "Circle-Token", reader).Code)
	assert.Equal(t, http.StatusForbidden, e.do("POST", base, `{"name":"x"}`, "Circle-Token", reader).Code)
	outsider := e.tokenOf("outsider", "")
	assert.Equal(t, http.StatusForbidden, e.do("GET", base, "", "Circle-Token", outsider).Code, "not a member of the organization")
}
