package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setupConfig is a setup config whose job continues the pipeline the way
// CircleCI's continuation orb does: the next config and its parameters as
// JSON built with jq, POSTed with curl to /api/v2/pipeline/continue with the
// job's CIRCLE_CONTINUATION_KEY. It then tries the key again, which must be
// refused (a key is used once). ORBIT_URL is replaced by orbit's address.
const setupConfig = `version: 2.1
setup: true
jobs:
  generate:
    docker: [{image: cimg/base:stable}]
    steps:
      - checkout
      - run:
          name: Continue with the generated config
          command: |
            test -n "$CIRCLE_CONTINUATION_KEY"
            echo "key: $CIRCLE_CONTINUATION_KEY"
            jq -n --arg continuation "$CIRCLE_CONTINUATION_KEY" --rawfile config next.yml \
              '{"continuation-key": $continuation, "configuration": $config, "parameters": {"target": "prod"}}' > body.json
            code=$(curl -s -o out.json -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
              --data @body.json ORBIT_URL/api/v2/pipeline/continue)
            cat out.json; echo
            test "$code" = 200
            again=$(curl -s -o again.json -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
              --data @body.json ORBIT_URL/api/v2/pipeline/continue)
            cat again.json; echo
            test "$again" = 409
workflows:
  setup:
    jobs: [generate]
`

// nextConfig is the config the setup job continues with.
const nextConfig = `version: 2.1
parameters:
  target: {type: string, default: dev}
jobs:
  deploy:
    docker: [{image: cimg/base:stable}]
    steps:
      - run: echo "deploying to << pipeline.parameters.target >>" && test "<< pipeline.parameters.target >>" = prod
workflows:
  deploy:
    jobs: [deploy]
`

// TestE2EDynamicConfig runs a setup workflow on the real Nomad agent: its
// job continues the pipeline through the API with curl, and the continued
// config's workflow runs in the same pipeline, with the parameter given,
// and succeeds; the key is refused a second time and never shown in the
// job's output.
func TestE2EDynamicConfig(t *testing.T) {
	addr := freeAddr(t)
	repo := gitRepo(t, map[string]string{
		".circleci/config.yml": strings.ReplaceAll(setupConfig, "ORBIT_URL", "http://"+addr),
		"next.yml":             nextConfig,
	})
	p := startOrbit(t, t.TempDir(), addr)
	slug := p.follow(repo, "acme", "dynamic")
	pid := p.trigger(slug, "main")

	byName := map[string]e2eWorkflow{}
	waitFor(t, 4*time.Minute, "the setup and the continued workflow to finish", func() bool {
		wfs := p.workflows(pid)
		for _, w := range wfs {
			byName[w.Name] = w
		}
		if len(wfs) == 1 && terminalWorkflow(wfs[0].Status) && wfs[0].Status != "success" {
			return true // the setup failed: no continuation is coming
		}
		return len(wfs) == 2 && terminalWorkflow(wfs[0].Status) && terminalWorkflow(wfs[1].Status)
	})
	setup := byName["setup"]
	gen := p.jobs(setup.ID)["generate"]
	out := p.text("/api/v2/project/" + slug + "/job/" + strconv.FormatInt(gen.JobNumber, 10) + "/output?step=1&task=0")
	require.Equal(t, "success", setup.Status, "setup job output:\n%s", out)
	assert.Contains(t, out, "Pipeline continued.")
	assert.Contains(t, out, "continued already; a continuation key is used once", "the second use is refused")
	assert.Contains(t, out, "key: ****", "the key is masked in the output")

	deploy, ok := byName["deploy"]
	require.True(t, ok, "the continued config's workflow is in the same pipeline")
	assert.Equal(t, "success", deploy.Status)
	dj := p.jobs(deploy.ID)["deploy"]
	dout := p.text("/api/v2/project/" + slug + "/job/" + strconv.FormatInt(dj.JobNumber, 10) + "/output?step=0&task=0")
	assert.Contains(t, dout, "deploying to prod", "the continuation's parameters reach its config")

	var refused struct{ Message string }
	assert.Equal(t, 400, p.do("POST", "/api/v2/pipeline/continue", map[string]string{"continuation-key": "continue/" + pid + ".1.forged",
		"configuration": nextConfig}, &refused), "a forged key")
	assert.Contains(t, refused.Message, "invalid continuation key")

	var pl struct {
		State string `json:"state"`
	}
	require.Equal(t, 200, p.do("GET", "/api/v2/pipeline/"+pid, nil, &pl))
	assert.Equal(t, "created", pl.State)
}
