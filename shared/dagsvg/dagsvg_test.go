package dagsvg

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLayoutColumnsByDeepestRequirement(t *testing.T) {
	nodes := []Node{
		{Name: "build"},
		{Name: "lint"},
		{Name: "test", Requires: []string{"build"}},
		{Name: "hold", Requires: []string{"test", "lint"}},
		{Name: "deploy", Requires: []string{"hold", "build"}},
		{Name: "orphan", Requires: []string{"not-in-this-workflow"}},
	}
	col, row := Layout(nodes)
	assert.Equal(t, []int{0, 0, 1, 2, 3, 0}, col)
	assert.Equal(t, []int{0, 1, 0, 0, 0, 2}, row)
}

func TestLayoutOrdersByParentsRow(t *testing.T) {
	// b-child requires the second root, a-child the first: children follow
	// their parents' rows, not their own order.
	nodes := []Node{
		{Name: "one"}, {Name: "two"},
		{Name: "b-child", Requires: []string{"two"}},
		{Name: "a-child", Requires: []string{"one"}},
	}
	_, row := Layout(nodes)
	assert.Equal(t, 1, row[2])
	assert.Equal(t, 0, row[3])
}

func TestLayoutSurvivesACycle(t *testing.T) {
	col, _ := Layout([]Node{{Name: "a", Requires: []string{"b"}}, {Name: "b", Requires: []string{"a"}}})
	assert.Len(t, col, 2)
}

func TestRender(t *testing.T) {
	out := string(Render(`graph of <wf>`, []Node{
		{Name: "build", Status: "success", Class: "ok", Href: "/ui/project/local/a/b/job/1"},
		{Name: "hold", Status: "on_hold", Class: "hold", Approval: true, Requires: []string{"build"}},
		{Name: "<script>deploy-to-production-cluster</script>", Status: "not_run", Class: "idle", NotRun: true, Requires: []string{"hold"}},
	}))
	assert.True(t, strings.HasPrefix(out, `<svg xmlns="http://www.w3.org/2000/svg" class="dag" role="group" aria-label="graph of &lt;wf&gt;" viewBox="0 0 `))
	assert.Contains(t, out, `<a href="/ui/project/local/a/b/job/1"><g class="dag-node s-ok"><title>build, success</title>`)
	assert.Contains(t, out, `<g class="dag-node s-ok">`)
	assert.Contains(t, out, `<g class="dag-node s-hold approval">`)
	assert.Contains(t, out, `rx="20"`, "approval jobs are pills")
	assert.Contains(t, out, `approval · on hold`)
	assert.Contains(t, out, `<g class="dag-node s-idle not-run">`)
	assert.Contains(t, out, `&lt;script&gt;deploy-to-pro…`, "long names are cut, and escaped")
	assert.NotContains(t, out, "<script>")
	assert.Equal(t, 2, strings.Count(out, `class="dag-edge"`))
	assert.Contains(t, out, `width="640"`, "three columns: 6+3*180+2*44+6")
}
