package audit_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// TestWorkflowEventsFromTheStore: the observer turns a workflow's start
// and its error (the workflow machine itself failed) into workflow.start
// and workflow.error, with the triggering user as actor, and records each
// once however often the change is observed.
func TestWorkflowEventsFromTheStore(t *testing.T) {
	ctx := context.Background()
	r, err := audit.New(audit.Config{KV: newKV(t), Blobs: newDirBlob(t)})
	require.NoError(t, err)
	st := store.New(newKV(t), nil)
	st.Observe(audit.Workflows{Recorder: r, Pipelines: st})
	_, err = st.CreateProject(ctx, store.Project{Slug: "local/acme/api", Name: "api", VCS: "local"})
	require.NoError(t, err)
	p, err := st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: "local/acme/api", Trigger: store.Trigger{Type: "api", Actor: "alice"},
		VCS: store.PipelineVCS{Branch: "main"}})
	require.NoError(t, err)
	w := store.Workflow{ID: uuid.NewString(), Name: "ci", PipelineID: p.ID, PipelineNumber: p.Number, ProjectSlug: p.ProjectSlug,
		Status: status.WorkflowRunning}
	require.NoError(t, st.CreateWorkflow(ctx, w, nil))
	for range 2 { // a duplicated transition attempt changes nothing
		_, _ = st.TransitionWorkflow(ctx, w.ID, func(*store.Workflow) (status.Workflow, error) { return status.WorkflowError, nil })
	}
	_, err = r.Flush(ctx)
	require.NoError(t, err)
	events, err := r.Events(ctx, p.CreatedAt.Add(-1), p.CreatedAt.Add(3600e9))
	require.NoError(t, err)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
		assert.Equal(t, "alice", e.Actor.Name, "the triggering user acts")
		assert.NoError(t, e.Validate())
	}
	assert.ElementsMatch(t, []string{audit.WorkflowStart, audit.WorkflowError}, actions)
}
