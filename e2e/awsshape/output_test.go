package awsshape

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chattyConfig is one job whose step prints a line every 100 ms for 8 s:
// the hot spot of the cost model, a step's output through API Gateway.
const chattyConfig = `version: 2.1
jobs:
  chatty:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: for i in $(seq 1 80); do echo "line $i"; sleep 0.1; done
workflows:
  w:
    jobs: [chatty]
`

// TestStepOutputRequests counts the runner API's output requests of a
// chatty step with the embedded shape's 250 ms interval and with the aws
// shape's default (docs/COST.md has both), and checks the output arrives
// whole either way.
func TestStepOutputRequests(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval []string // the bridge's extra settings
		atMost   int
	}{
		{"250ms (embedded default)", []string{"ORBIT_OUTPUT_INTERVAL=250ms"}, 80},
		{"aws default", nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startShape(t, 2, 2)
			var posts atomic.Int64
			s.front.paths = func(p string) {
				if strings.HasPrefix(p, "POST /runner/v1/task/steps/") && strings.HasSuffix(p, "/output") {
					posts.Add(1)
				}
			}
			s.startBridge(t, tc.interval...)
			repo := gitRepo(t, map[string]string{".circleci/config.yml": chattyConfig})
			var proj struct{ Slug, Message string }
			require.Equal(t, 201, s.do(t, "POST", "/api/v2/project", map[string]string{"path": repo, "org": "acme", "name": "chatty"}, &proj), proj.Message)
			var pl struct{ ID, Message string }
			require.Equal(t, 201, s.do(t, "POST", "/api/v2/project/"+proj.Slug+"/pipeline", map[string]string{"branch": "main"}, &pl), pl.Message)
			var wid, st string
			require.Eventually(t, func() bool { wid, st = s.workflowStatus(t, pl.ID); return terminal(st) }, 2*time.Minute, 200*time.Millisecond)
			require.Equal(t, "success", st)
			out := s.output(t, proj.Slug, s.jobs(t, wid)["chatty"].JobNumber, 0)
			for _, line := range []string{"line 1\n", "line 40\n", "line 80\n"} {
				assert.Contains(t, out, line)
			}
			n := posts.Load()
			t.Logf("output requests of an 8 s step printing every 100 ms: %d (interval %v); API Gateway requests of the job: %d", n, tc.interval, s.front.requests.Load())
			assert.LessOrEqual(t, n, int64(tc.atMost))
			assert.Positive(t, n)
		})
	}
}
