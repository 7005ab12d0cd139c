package github_test

import (
	"context"
	"testing"
	"time"

	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs/github"
	"github.com/orbit-ci/orbit/shared/vcs/githubtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNotifierPostsJobStatuses drives a GitHub project's jobs through the
// store's one status writer and expects the fake GitHub to receive one
// status per transition, in order, context "ci/circleci: <job>", linking
// the job's page; a local project's job posts nothing.
func TestNotifierPostsJobStatuses(t *testing.T) {
	fake, d, _ := setup(t)
	db, err := boltkv.Open(t.TempDir()+"/kv.db", boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	st := store.New(db, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := github.NewNotifier(github.NotifierConfig{Poster: d, Pipelines: st, BaseURL: "https://orbit.example.com/",
		Retry: github.RetryConfig{Sleep: func(context.Context, time.Duration) error { return nil }}})
	st.Observe(n)
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()

	for _, slug := range []string{"gh/acme/api", "local/acme/api"} {
		p, err := st.CreatePipeline(ctx, store.Pipeline{ID: "p-" + slug[:2], ProjectSlug: slug, VCS: store.PipelineVCS{Revision: sha1}})
		require.NoError(t, err)
		wf := "wf-" + slug[:2]
		require.NoError(t, st.CreateWorkflow(ctx, store.Workflow{ID: wf, Name: "build", PipelineID: p.ID, ProjectSlug: slug},
			[]store.Job{{ID: "j-" + slug[:2], WorkflowID: wf, PipelineID: p.ID, ProjectSlug: slug, Name: "test", Type: "build", Status: status.JobBlocked}}))
		for _, to := range []status.Job{status.JobQueued, status.JobRunning, status.JobSuccess} {
			_, err := st.TransitionJob(ctx, wf, "test", func(*store.Job) (status.Job, error) { return to, nil })
			require.NoError(t, err)
		}
	}
	want := []githubtest.Status{
		{SHA: sha1, State: "pending", Context: "ci/circleci: test", TargetURL: "https://orbit.example.com/ui/pipeline/p-gh#job-j-gh", Description: "Queued"},
		{SHA: sha1, State: "pending", Context: "ci/circleci: test", TargetURL: "https://orbit.example.com/ui/pipeline/p-gh#job-j-gh", Description: "Running"},
		{SHA: sha1, State: "success", Context: "ci/circleci: test", TargetURL: "https://orbit.example.com/ui/pipeline/p-gh#job-j-gh", Description: "Your tests passed on Orbit!"},
	}
	require.Eventually(t, func() bool { return len(fake.Statuses("acme", "api")) >= len(want) }, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, want, fake.Statuses("acme", "api"))
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

// TestNotifierNeverBlocks: with GitHub down and the queue full, job
// transitions still complete at once.
func TestNotifierNeverBlocks(t *testing.T) {
	n := github.NewNotifier(github.NotifierConfig{Queue: 1})
	for i := 0; i < 100; i++ { // nobody runs the queue: all but one are dropped, none blocks
		n.OnJob(context.Background(), store.Job{ProjectSlug: "gh/acme/api", Name: "test", Status: status.JobRunning})
	}
	for _, s := range []status.Job{status.JobBlocked, status.JobNotRun, status.JobOnHold} {
		_, _, ok := github.StatusFor(s)
		assert.False(t, ok, s)
	}
	for s, want := range map[status.Job]string{status.JobFailed: "failure", status.JobTimedOut: "failure", status.JobInfrastructureFail: "error", status.JobCanceled: "error"} {
		got, _, ok := github.StatusFor(s)
		assert.True(t, ok)
		assert.Equal(t, want, got, s)
	}
}
