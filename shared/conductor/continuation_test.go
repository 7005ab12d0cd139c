package conductor

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/store"
)

const setupCfg = "version: 2.1\nsetup: true\njobs:\n  gen: {docker: [{image: x}], steps: [{run: make config}]}\nworkflows:\n  setup: {jobs: [gen]}\n"

const nextCfg = "version: 2.1\nparameters:\n  env: {type: string}\njobs:\n  deploy: {docker: [{image: x}], steps: [{run: deploy << pipeline.parameters.env >>}]}\nworkflows:\n  deploy: {jobs: [deploy]}\n"

// continuationKeyOf dispatches a job and returns the continuation key its
// task spec gives ("" for none).
func continuationKeyOf(t *testing.T, h *harness, wid, job string) string {
	t.Helper()
	h.call(Request{Action: "start_workflow", WorkflowID: wid})
	h.call(Request{Action: "dispatch", WorkflowID: wid, JobName: job, TaskToken: "t"})
	require.NotEmpty(t, h.queue.msgs)
	spec, err := h.c.TaskSpec(context.Background(), h.queue.msgs[len(h.queue.msgs)-1].TaskID)
	require.NoError(t, err)
	for _, e := range spec.Environment {
		if e.Name == ContinuationEnv {
			assert.Contains(t, spec.Secrets, e.Value, "the key is masked in the output")
			return e.Value
		}
	}
	return ""
}

func TestContinue(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, fakeSource{"rev-main": setupCfg})
	p, wid := h.setup("main")
	key := continuationKeyOf(t, h, wid, "gen")
	require.NotEmpty(t, key, "a setup pipeline's job gets its continuation key")

	for _, tt := range []struct {
		name string
		req  ContinueRequest
		want error
		msg  string
	}{
		{"a forged key", ContinueRequest{Key: key + "x", Configuration: nextCfg}, ErrBadContinuation, "invalid continuation key"},
		{"another purpose's token", ContinueRequest{Key: h.c.cfg.Tokens.Sign("continue/"+p.ID, h.st.Now().Add(3600e9)), Configuration: nextCfg}, ErrBadContinuation, "invalid continuation key"},
		{"no configuration", ContinueRequest{Key: key}, ErrBadTrigger, "configuration is required"},
		{"a config that does not compile", ContinueRequest{Key: key, Configuration: nextCfg}, ErrBadTrigger, `pipeline parameter "env" has no default`},
		{"a setup config again", ContinueRequest{Key: key, Configuration: setupCfg}, ErrBadTrigger, "a continuation config cannot be a setup config"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.c.Continue(ctx, tt.req)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}

	// The refusals left the pipeline continuable; two concurrent calls
	// continue it once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.c.Continue(ctx, ContinueRequest{Key: key, Configuration: nextCfg, Parameters: map[string]any{"env": "prod"}})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			assert.ErrorIs(t, err, ErrContinued)
		}
	}
	assert.Equal(t, 1, ok, "a key is used once")
	wfs := h.orch.startedOf("workflow")
	require.Len(t, wfs, 2, "the continued config's workflow starts in the same pipeline")
	w, err := h.st.GetWorkflow(ctx, wfs[1])
	require.NoError(t, err)
	assert.Equal(t, "deploy", w.Name)
	assert.Equal(t, p.ID, w.PipelineID)
	cfg, err := h.st.GetPipelineConfig(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, nextCfg, cfg.ContinuedSource)

	// After the continuation, no job is given the key any more.
	assert.Empty(t, continuationKeyOf(t, h, wfs[1], "deploy"))
}

func TestContinueNotASetupPipeline(t *testing.T) {
	h := newHarness(t, fakeSource{"rev-main": diamond})
	p, _ := h.setup("main")
	key := h.c.continuationKey(store.Pipeline{ID: p.ID})
	_, err := h.c.Continue(context.Background(), ContinueRequest{Key: key, Configuration: nextCfg})
	assert.ErrorIs(t, err, ErrBadContinuation)
}
