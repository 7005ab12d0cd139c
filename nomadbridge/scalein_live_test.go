package nomadbridge_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/nomadbridge/agent/agenttest"
	"github.com/orbit-ci/orbit/nomadbridge/nomadtest"
	"github.com/orbit-ci/orbit/nomadbridge/scalein"
	"github.com/orbit-ci/orbit/nomadbridge/scalein/scaleintest"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// TestLiveScaleInWaitsForTheBuild: the Nomad client group scales in the
// instance of a node (a Nomad dev agent of the test's own, so draining it
// disturbs no other test) while a build runs there. The active bridge
// drains the node, keeps the lifecycle action alive with heartbeats while
// the build runs, and completes the action (CONTINUE) only after the
// build's success is recorded; then the instance leaves the group (moto).
func TestLiveScaleInWaitsForTheBuild(t *testing.T) {
	group, lifecycle := scaleintest.NewGroup(t, 1)
	instance := group.Instances[0]
	agent := nomadtest.StartAgent(t)
	nc, err := api.NewClient(&api.Config{Address: agent.Addr()})
	require.NoError(t, err)
	var nodeID string
	require.Eventually(t, func() bool {
		stubs, _, err := nc.Nodes().List(nil)
		if err != nil || len(stubs) != 1 || stubs[0].Status != api.NodeStatusReady {
			return false
		}
		nodeID = stubs[0].ID
		return true
	}, 60*time.Second, 50*time.Millisecond, "the dev agent's client never became ready")
	// On EC2 Nomad's fingerprint sets unique.platform.aws.instance-id; here
	// the node meta says which moto instance the node stands for.
	_, err = nc.Nodes().Meta().Apply(&api.NodeMetaApplyRequest{NodeID: nodeID,
		Meta: map[string]*string{scalein.MetaInstanceID: &instance}}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { // the client tells the servers in its next update
		node, _, err := nc.Nodes().Info(nodeID, nil)
		return err == nil && node.Meta[scalein.MetaInstanceID] == instance
	}, 60*time.Second, 50*time.Millisecond, "the node meta never reached the servers")

	srv, err := agenttest.New()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	exe, err := os.Executable()
	require.NoError(t, err)
	l := &live{nomad: nc, runner: srv, q: newQueue(t, &events{}), logs: &testenv.Buffer{}, exe: exe}

	actions := scaleintest.NewActions(group.ASG, lifecycle)
	release := filepath.Join(t.TempDir(), "release")
	m := l.task(t, "scalein", waitForFile(release), run("after", "echo finished"))
	var mu sync.Mutex
	var resultAtComplete *runner.TaskResult
	actions.BeforeComplete = func(*autoscaling.CompleteLifecycleActionInput) {
		mu.Lock()
		defer mu.Unlock()
		resultAtComplete = l.runner.Task(m.Token).Result
	}
	h, err := scalein.New(scalein.Config{Queue: lifecycle, Actions: actions, Nodes: nc.Nodes(),
		PollInterval: 100 * time.Millisecond, HeartbeatInterval: 300 * time.Millisecond, Visibility: 10 * time.Second,
		ReceiveWait: time.Second, Logger: testLogger(t, l.logs)})
	require.NoError(t, err)
	l.start(t, time.Second, func(c *nomadbridge.Config) { c.Also = append(c.Also, h.Run) })
	l.waitStepRunning(t, m, 0)

	_, err = actions.Terminate(t.Context(), group.Name, instance)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		node, _, err := nc.Nodes().Info(nodeID, nil)
		return err == nil && node.DrainStrategy != nil && node.SchedulingEligibility == api.NodeSchedulingIneligible &&
			node.LastDrain != nil && strings.HasPrefix(node.LastDrain.Meta["message"], "scale-in:")
	}, 60*time.Second, 50*time.Millisecond, "the node was not drained for scale-in")
	require.Eventually(t, func() bool { return count(actions.Calls(), "RecordLifecycleActionHeartbeat") >= 2 },
		60*time.Second, 50*time.Millisecond, "no lifecycle heartbeats while the build runs")
	assert.Zero(t, count(actions.Calls(), "CompleteLifecycleAction"), "the action completed while the build ran")
	assert.Nil(t, l.runner.Task(m.Token).Result, "the drain stopped the build")
	assert.True(t, group.InGroup(t, instance))

	require.NoError(t, os.WriteFile(release, nil, 0o600))
	res := l.waitResult(t, m)
	assert.Equal(t, runner.StatusSuccess, res.Result.Status)
	require.Eventually(t, func() bool { return count(actions.Calls(), "CompleteLifecycleAction") == 1 },
		60*time.Second, 50*time.Millisecond, "the action was never completed")
	calls := actions.Calls()
	last := calls[len(calls)-1]
	assert.Equal(t, scalein.Continue, last.Result)
	assert.NoError(t, last.Err)
	mu.Lock()
	require.NotNil(t, resultAtComplete, "CompleteLifecycleAction came before the build's outcome was recorded")
	assert.Equal(t, runner.StatusSuccess, resultAtComplete.Status)
	mu.Unlock()
	assert.False(t, group.InGroup(t, instance), "the instance was not released")
	assert.Contains(t, res.Output(1), "finished")
}

func count(calls []scaleintest.Call, op string) int {
	n := 0
	for _, c := range calls {
		if c.Op == op {
			n++
		}
	}
	return n
}
