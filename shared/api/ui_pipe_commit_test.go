package api_test

import (
	"html/template"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// TestUIPipelineCommit: the dashboard, project, pipeline and workflow pages
// show a pipeline's commit subject (clipped to 72 bytes on a rune boundary,
// with an ellipsis, whole in the title) and author, escaped; a pipeline
// whose commit is not known shows none.
func TestUIPipelineCommit(t *testing.T) {
	e := newEnv(t)
	s := seed(t, e.st)
	// 70 bytes, then "日" (3 bytes) across the 72-byte line: the cut falls
	// before it.
	subject := "<script>alert(1)</script> Make the <dashboard> shine, all of it now" + "!!!日本語"
	require.Equal(t, 70, len(subject)-len("日本語"))
	clipped := "<script>alert(1)</script> Make the <dashboard> shine, all of it now!!!…"
	_, err := e.st.UpdatePipeline(t.Context(), s.pipeline.ID, func(p *store.Pipeline) error {
		p.VCS.Commit = vcs.NewCommit(subject+"\n\nThe <body>.", "<b>Ada</b> Lovelace", "ada@example.com")
		return nil
	})
	require.NoError(t, err)
	short, err := e.st.CreatePipeline(t.Context(), store.Pipeline{ProjectSlug: s.project.Slug,
		VCS: store.PipelineVCS{Branch: "main", Commit: vcs.NewCommit("Make the <dashboard> shine", "Ada Lovelace", "")}})
	require.NoError(t, err)

	for _, page := range []string{"/", "/ui/project/local/acme/api", "/ui/pipeline/" + s.pipeline.ID, "/ui/workflow/" + s.workflow.ID} {
		rec := e.do(http.MethodGet, page, "")
		require.Equal(t, http.StatusOK, rec.Code, page)
		body := rec.Body.String()
		assert.NotContains(t, body, "<script>alert(1)", page)
		assert.NotContains(t, body, "<dashboard>", page)
		assert.NotContains(t, body, "<b>Ada", page)
		assert.Contains(t, body, `<span class="commit-subject" title="`+template.HTMLEscapeString(subject)+`">`+template.HTMLEscapeString(clipped)+`</span>`, page)
		assert.Contains(t, body, `<span class="muted">by</span> <span class="commit-author">`+template.HTMLEscapeString("<b>Ada</b> Lovelace")+`</span>`, page)
		assert.NotContains(t, body, "ada@example.com", page)
	}
	pipe := e.do(http.MethodGet, "/ui/pipeline/"+s.pipeline.ID, "").Body.String()
	assert.Contains(t, pipe, "<pre>The &lt;body&gt;.</pre>", "the pipeline page has the whole message")

	for _, page := range []string{"/", "/ui/pipeline/" + short.ID} {
		body := e.do(http.MethodGet, page, "").Body.String()
		assert.Contains(t, body, `title="Make the &lt;dashboard&gt; shine">Make the &lt;dashboard&gt; shine</span>`, "%s: not clipped, no ellipsis", page)
	}
	unknown, err := e.st.CreatePipeline(t.Context(), store.Pipeline{ProjectSlug: s.project.Slug, VCS: store.PipelineVCS{Branch: "main"}})
	require.NoError(t, err)
	assert.NotContains(t, e.do(http.MethodGet, "/ui/pipeline/"+unknown.ID, "").Body.String(), "pipe-commit")
	dash := e.do(http.MethodGet, "/", "").Body.String()
	assert.Equal(t, 2, strings.Count(dash, `class="pipe-commit"`), "the pipeline without a commit shows none")
}
