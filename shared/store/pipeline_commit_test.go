package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// TestPipelineCommitRoundTrip: a pipeline's commit (multi-byte text and
// markup included) comes back as stored from every read, survives an
// update, and a pipeline without one reads back with none.
func TestPipelineCommitRoundTrip(t *testing.T) {
	forEachDriver(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		_, err := st.CreateProject(ctx, store.Project{Slug: "local/acme/api", Name: "api"})
		require.NoError(t, err)
		commit := vcs.NewCommit("Make the <dashboard> shine ✨\n\nSo the 日本語 team sees it.", "Ada Lovelace", "ada@example.com")
		with, err := st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: "local/acme/api",
			VCS: store.PipelineVCS{Branch: "main", Commit: commit}})
		require.NoError(t, err)
		without, err := st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: "local/acme/api", VCS: store.PipelineVCS{Branch: "main"}})
		require.NoError(t, err)

		got, err := st.GetPipeline(ctx, with.ID)
		require.NoError(t, err)
		assert.Equal(t, commit, got.VCS.Commit)
		got, err = st.GetPipelineByNumber(ctx, "local/acme/api", with.Number)
		require.NoError(t, err)
		assert.Equal(t, commit, got.VCS.Commit)
		list, _, err := st.ListPipelines(ctx, "local/acme/api", "", 10)
		require.NoError(t, err)
		require.Len(t, list, 2)
		byID := map[string]vcs.Commit{list[0].ID: list[0].VCS.Commit, list[1].ID: list[1].VCS.Commit}
		assert.Equal(t, commit, byID[with.ID])
		assert.True(t, byID[without.ID].IsZero())

		_, err = st.UpdatePipeline(ctx, with.ID, func(p *store.Pipeline) error { p.VCS.Revision = "abc123"; return nil })
		require.NoError(t, err)
		got, err = st.GetPipeline(ctx, with.ID)
		require.NoError(t, err)
		assert.Equal(t, commit, got.VCS.Commit, "kept by an update of another field")

		later := vcs.NewCommit("Fetched later", "Grace Hopper", "")
		_, err = st.UpdatePipeline(ctx, without.ID, func(p *store.Pipeline) error { p.VCS.Commit = later; return nil })
		require.NoError(t, err)
		got, err = st.GetPipeline(ctx, without.ID)
		require.NoError(t, err)
		assert.Equal(t, later, got.VCS.Commit)
	})
}
