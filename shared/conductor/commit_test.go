package conductor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/testenv"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// fakeCommits answers Commit with commit, or err; block makes it wait for
// its context to end (a host that does not answer).
type fakeCommits struct {
	commit vcs.Commit
	err    error
	block  bool

	mu    sync.Mutex
	calls []string // repoURL@revision
}

func (f *fakeCommits) Commit(ctx context.Context, repoURL, revision string) (vcs.Commit, error) {
	f.mu.Lock()
	f.calls = append(f.calls, repoURL+"@"+revision)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return vcs.Commit{}, ctx.Err()
	}
	return f.commit, f.err
}

func (f *fakeCommits) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// TestPipelineCommit: fetch_config records the commit of a pipeline that
// came without one (API trigger), keeps the one a webhook brought without
// asking, and a commit that cannot be read (an error, a host that does not
// answer within CommitTimeout) leaves the pipeline running without one and
// a warning logged.
func TestPipelineCommit(t *testing.T) {
	ada := vcs.NewCommit("Make the <dashboard> shine\n\nBody.", "Ada Lovelace", "ada@example.com")
	pushed := vcs.NewCommit("From the push", "Grace Hopper", "")
	tests := []struct {
		name      string
		commits   *fakeCommits
		given     vcs.Commit
		want      vcs.Commit
		wantCalls []string
		wantWarn  bool
	}{
		{name: "read at the resolved revision", commits: &fakeCommits{commit: ada}, want: ada, wantCalls: []string{"/repo@rev-main"}},
		{name: "brought by the trigger", commits: &fakeCommits{commit: ada}, given: pushed, want: pushed},
		{name: "read fails", commits: &fakeCommits{err: errors.New("github: 503 Service Unavailable")}, wantCalls: []string{"/repo@rev-main"}, wantWarn: true},
		{name: "host does not answer", commits: &fakeCommits{block: true}, wantCalls: []string{"/repo@rev-main"}, wantWarn: true},
		{name: "no commit source", given: vcs.Commit{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fakeSource{"rev-main": diamond})
			var logs testenv.Buffer
			h.c.log = slog.New(slog.NewJSONHandler(&logs, nil))
			if tt.commits != nil {
				h.c.cfg.Commits = tt.commits
			}
			h.c.cfg.CommitTimeout = 50 * time.Millisecond
			p, err := h.c.Trigger(t.Context(), TriggerRequest{ProjectSlug: "local/acme/app", Commit: tt.given})
			require.NoError(t, err)
			assert.Equal(t, tt.given, p.VCS.Commit, "stored with the pipeline")
			require.True(t, h.call(Request{Action: "fetch_config", PipelineID: p.ID}).OK, "the config is fetched whatever happened to the commit")
			got, err := h.st.GetPipeline(t.Context(), p.ID)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.VCS.Commit)
			assert.Equal(t, "rev-main", got.VCS.Revision)
			assert.Equal(t, status.PipelinePending, got.State)
			if tt.commits != nil {
				assert.Equal(t, tt.wantCalls, tt.commits.called())
			}
			if tt.wantWarn {
				assert.Contains(t, logs.String(), `"level":"WARN","msg":"pipeline commit not read; the pipeline shows none"`)
				assert.Contains(t, logs.String(), `"pipeline_id":"`+p.ID+`"`)
			} else {
				assert.NotContains(t, logs.String(), "pipeline commit not read")
			}
		})
	}
}

// TestPipelineCommitOfErroredPipeline: a pipeline whose config cannot be
// read still shows its commit, so the page that explains the error says
// which commit it was.
func TestPipelineCommitOfErroredPipeline(t *testing.T) {
	ada := vcs.NewCommit("Remove the config", "Ada Lovelace", "")
	h := newHarness(t, fakeSource{})
	h.c.cfg.Commits = &fakeCommits{commit: ada}
	p, err := h.c.Trigger(t.Context(), TriggerRequest{ProjectSlug: "local/acme/app"})
	require.NoError(t, err)
	assert.False(t, h.call(Request{Action: "fetch_config", PipelineID: p.ID}).OK)
	got, err := h.st.GetPipeline(t.Context(), p.ID)
	require.NoError(t, err)
	assert.Equal(t, status.PipelineErrored, got.State)
	assert.Equal(t, ada, got.VCS.Commit)
}
