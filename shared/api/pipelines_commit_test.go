package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// TestPipelineCommitInTheAPI: a pipeline's vcs.commit is CircleCI's
// {subject, body} in every answer that shows a pipeline (each checked
// against both documents by the contract test), and absent while the commit
// is not known.
func TestPipelineCommitInTheAPI(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	ctx := context.Background()
	with, err := e.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: s.project.Slug,
		Trigger: store.Trigger{Type: "api", Actor: "alice"},
		VCS: store.PipelineVCS{OriginRepositoryURL: s.project.RepoURL, Branch: "main",
			Commit: vcs.NewCommit("Make the <dashboard> shine\n\nSo the 日本語 team sees it.", "Ada Lovelace", "ada@example.com")}})
	require.NoError(t, err)
	subjectOnly, err := e.st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: s.project.Slug,
		VCS: store.PipelineVCS{OriginRepositoryURL: s.project.RepoURL, Branch: "main", Commit: vcs.NewCommit("One line", "Ada Lovelace", "")}})
	require.NoError(t, err)
	want := map[string]any{
		with.ID:        obj{"subject": "Make the <dashboard> shine", "body": "So the 日本語 team sees it."},
		subjectOnly.ID: obj{"subject": "One line", "body": ""},
		s.pipeline.ID:  nil, // not known
	}
	vcsOf := func(p obj) obj { return p["vcs"].(obj) }
	for id, w := range want {
		got := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/pipeline/"+id, ""))
		if w == nil {
			assert.NotContains(t, vcsOf(got), "commit", id)
			continue
		}
		assert.Equal(t, w, vcsOf(got)["commit"], id)
	}
	byNumber := decodeBody[obj](t, e.do(http.MethodGet, "/api/v2/project/local/acme/api/pipeline/2", ""))
	assert.Equal(t, want[with.ID], vcsOf(byNumber)["commit"])

	for _, path := range []string{"/api/v2/project/local/acme/api/pipeline", "/api/v2/pipeline?org-slug=local/acme"} {
		rec := e.do(http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		list := decodeBody[obj](t, rec)
		seen := 0
		for _, it := range list["items"].([]any) {
			p := it.(obj)
			w, ok := want[p["id"].(string)]
			if !ok {
				continue
			}
			seen++
			if w == nil {
				assert.NotContains(t, vcsOf(p), "commit", path)
			} else {
				assert.Equal(t, w, vcsOf(p)["commit"], path)
			}
		}
		assert.Equal(t, len(want), seen, path)
	}
	assert.NotContains(t, e.do(http.MethodGet, "/api/v2/pipeline/"+with.ID, "").Body.String(), "ada@example.com",
		"the author's address is not in CircleCI's schema")
}

// TestOpenAPIPipelineCommit: Orbit's document describes vcs.commit as
// CircleCI's does: an optional object whose subject and body are required.
func TestOpenAPIPipelineCommit(t *testing.T) {
	doc := orbitDoc(t, newEnv(t))
	op := doc.Paths.Find("/pipeline/{id}").GetOperation(http.MethodGet)
	require.NotNil(t, op)
	pipe := op.Responses.Status(http.StatusOK).Value.Content["application/json"].Schema.Value
	vcsSchema := pipe.Properties["vcs"].Value
	require.NotNil(t, vcsSchema)
	assert.NotContains(t, vcsSchema.Required, "commit", "omitted while not known")
	commit := vcsSchema.Properties["commit"]
	require.NotNil(t, commit, "vcs.commit is described")
	assert.ElementsMatch(t, []string{"subject", "body"}, commit.Value.Required)
	for _, f := range []string{"subject", "body"} {
		assert.True(t, commit.Value.Properties[f].Value.Type.Is("string"), f)
	}
}
