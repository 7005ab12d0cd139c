package conductor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// TestConfigWarningsDoNotErrorThePipeline: a config with keys CircleCI
// tolerates runs, and its warnings are in the pipeline's errors list
// (CircleCI's type "config", saying "warning"), once even when the compile
// task is retried.
func TestConfigWarningsDoNotErrorThePipeline(t *testing.T) {
	cfg := "version: 2.1\njobs:\n  build:\n    docker: [{image: x}]\n    steps:\n      - run: make test\n      - store_test_results: {path: r, when: always}\nworkflows:\n  w: {jobs: [build]}\n"
	h := newHarness(t, fakeSource{"rev-main": cfg})
	p, wid := h.setup("main")
	require.NotEmpty(t, wid, "the pipeline runs")
	ctx := context.Background()
	p, err := h.st.GetPipeline(ctx, p.ID)
	require.NoError(t, err)
	assert.NotEqual(t, status.PipelineErrored, p.State)
	assert.Equal(t, []store.PipelineError{{Type: "config", Message: ".circleci/config.yml:7:39: warning: jobs.build.steps[1].store_test_results.when: has no effect: store_test_results runs whether or not earlier steps failed, as on CircleCI"}}, p.Errors)

	// A compile retried after the warnings were recorded adds none twice.
	plan, err := config.Compile([]byte(cfg), config.Options{Filename: ".circleci/config.yml"})
	require.NoError(t, err)
	require.NoError(t, h.c.recordWarnings(ctx, p.ID, plan.Warnings))
	again, err := h.st.GetPipeline(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, p.Errors, again.Errors)
}
