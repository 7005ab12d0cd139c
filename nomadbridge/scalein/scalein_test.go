package scalein_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/smithy-go"
	"github.com/hashicorp/nomad/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge/scalein"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/queue/boltqueue"
	"github.com/orbit-ci/orbit/shared/testenv"
)

func TestParse(t *testing.T) {
	direct := `{"Origin":"AutoScalingGroup","Destination":"EC2","Service":"AWS Auto Scaling","Time":"2026-12-02T10:00:00.123Z",
	  "AccountId":"123456789012","LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING","RequestId":"r",
	  "LifecycleActionToken":"tok","EC2InstanceId":"i-0598c7d356eba48d7","LifecycleHookName":"drain",
	  "AutoScalingGroupName":"orbit-nomad-clients","NotificationMetadata":"m"}`
	bridge := `{"version":"0","id":"e","detail-type":"EC2 Instance-terminate Lifecycle Action","source":"aws.autoscaling",
	  "time":"2026-12-02T10:00:00Z","detail":{"LifecycleActionToken":"tok","AutoScalingGroupName":"orbit-nomad-clients",
	  "LifecycleHookName":"drain","EC2InstanceId":"i-0598c7d356eba48d7","LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING",
	  "NotificationMetadata":"m"}}`
	want := scalein.Notification{AutoScalingGroupName: "orbit-nomad-clients", LifecycleHookName: "drain", LifecycleActionToken: "tok",
		LifecycleTransition: scalein.Terminating, EC2InstanceId: "i-0598c7d356eba48d7", NotificationMetadata: "m"}
	tests := []struct {
		name, body, wantErr string
		want                scalein.Notification
		at                  time.Time
	}{
		{name: "sqs target", body: direct, want: want, at: time.Date(2026, 12, 2, 10, 0, 0, 123e6, time.UTC)},
		{name: "eventbridge", body: bridge, want: want, at: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)},
		{name: "test notification", body: `{"AccountId":"1","AutoScalingGroupName":"g","Event":"autoscaling:TEST_NOTIFICATION","Service":"AWS Auto Scaling","Time":"2026-12-02T10:00:00Z"}`,
			want: scalein.Notification{AutoScalingGroupName: "g", Event: scalein.TestNotification}, at: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)},
		{name: "no token", body: `{"LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING","EC2InstanceId":"i-1","LifecycleHookName":"h","AutoScalingGroupName":"g"}`,
			wantErr: "no LifecycleActionToken"},
		{name: "not json", body: `drain please`, wantErr: "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := scalein.Parse([]byte(tc.body))
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, tc.at.Equal(n.Time), "time %v", n.Time)
			n.Time = time.Time{}
			assert.Equal(t, tc.want, n)
		})
	}
}

// nodes is a Nomad cluster of one node whose allocations the test sets.
type nodes struct {
	mu      sync.Mutex
	meta    map[string]string
	running []string // job ids of running allocations
	system  bool     // also a running system job (never waited for)
	drains  []time.Duration
}

func (n *nodes) List(*api.QueryOptions) ([]*api.NodeListStub, *api.QueryMeta, error) {
	return []*api.NodeListStub{{ID: "node-1", Name: "client-1", Status: "ready"}}, &api.QueryMeta{}, nil
}

func (n *nodes) Info(string, *api.QueryOptions) (*api.Node, *api.QueryMeta, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return &api.Node{ID: "node-1", Meta: n.meta, Attributes: map[string]string{"os.name": "linux"}}, &api.QueryMeta{}, nil
}

func (n *nodes) Allocations(string, *api.QueryOptions) ([]*api.Allocation, *api.QueryMeta, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*api.Allocation
	batch, system := "batch", "system"
	for _, j := range n.running {
		out = append(out, &api.Allocation{ID: "a-" + j, JobID: j, ClientStatus: "running", Job: &api.Job{Type: &batch}})
	}
	if n.system {
		out = append(out, &api.Allocation{ID: "sys", JobID: "logs", ClientStatus: "running", Job: &api.Job{Type: &system}})
	}
	out = append(out, &api.Allocation{ID: "old", JobID: "done", ClientStatus: "complete", Job: &api.Job{Type: &batch}})
	return out, &api.QueryMeta{}, nil
}

func (n *nodes) UpdateDrainOpts(_ string, o *api.DrainOptions, _ *api.WriteOptions) (*api.NodeDrainUpdateResponse, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.drains = append(n.drains, o.DrainSpec.Deadline)
	return &api.NodeDrainUpdateResponse{}, nil
}

func (n *nodes) ToggleEligibility(string, bool, *api.WriteOptions) (*api.NodeEligibilityUpdateResponse, error) {
	return &api.NodeEligibilityUpdateResponse{}, nil
}

func (n *nodes) finish() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.running = nil
}

// actions records the lifecycle calls; one action is active until
// completed.
type actions struct {
	mu         sync.Mutex
	heartbeats int
	results    []string
}

func (a *actions) RecordLifecycleActionHeartbeat(context.Context, *autoscaling.RecordLifecycleActionHeartbeatInput, ...func(*autoscaling.Options)) (*autoscaling.RecordLifecycleActionHeartbeatOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.results) > 0 {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "No active Lifecycle Action found"}
	}
	a.heartbeats++
	return &autoscaling.RecordLifecycleActionHeartbeatOutput{}, nil
}

func (a *actions) CompleteLifecycleAction(_ context.Context, in *autoscaling.CompleteLifecycleActionInput, _ ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.results = append(a.results, aws.ToString(in.LifecycleActionResult))
	return &autoscaling.CompleteLifecycleActionOutput{}, nil
}

func (a *actions) state() (int, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.heartbeats, append([]string(nil), a.results...)
}

type fixture struct {
	q     *boltqueue.Queue
	nodes *nodes
	acts  *actions
	logs  *testenv.Buffer
}

func start(t *testing.T, deadline time.Duration, n *nodes) fixture {
	t.Helper()
	q, err := boltqueue.Open(filepath.Join(t.TempDir(), "q.db"), "lifecycle", boltqueue.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	f := fixture{q: q, nodes: n, acts: &actions{}, logs: &testenv.Buffer{}}
	h, err := scalein.New(scalein.Config{Queue: q, Actions: f.acts, Nodes: n, Deadline: deadline,
		PollInterval: 5 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond, ReceiveWait: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); assert.NoError(t, h.Run(ctx)) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func (f fixture) notify(t *testing.T, instance, token string) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"LifecycleTransition": scalein.Terminating, "LifecycleActionToken": token,
		"EC2InstanceId": instance, "LifecycleHookName": "drain", "AutoScalingGroupName": "clients",
		"Time": time.Now().UTC().Format(time.RFC3339Nano)})
	require.NoError(t, err)
	_, err = f.q.Send(t.Context(), body, queue.SendOptions{})
	require.NoError(t, err)
}

func (f fixture) waitResults(t *testing.T, n int) []string {
	t.Helper()
	require.Eventually(t, func() bool { _, r := f.acts.state(); return len(r) >= n }, 30*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		s, err := f.q.Stats(t.Context())
		return err == nil && s.Visible+s.InFlight+s.Delayed == 0
	}, 30*time.Second, 5*time.Millisecond, "the notification was not deleted")
	_, r := f.acts.state()
	return r
}

func TestDrainWaitsForBuildsThenContinues(t *testing.T) {
	n := &nodes{meta: map[string]string{scalein.MetaInstanceID: "i-1"}, running: []string{"build-a"}, system: true}
	f := start(t, time.Hour, n)
	f.notify(t, "i-1", "tok")
	f.notify(t, "i-1", "tok") // a duplicate delivery changes nothing
	require.Eventually(t, func() bool { hb, _ := f.acts.state(); return hb >= 2 }, 30*time.Second, 5*time.Millisecond,
		"no heartbeats while the build runs")
	_, results := f.acts.state()
	assert.Empty(t, results, "completed while a build runs")
	n.mu.Lock()
	require.Len(t, n.drains, 1)
	assert.Greater(t, n.drains[0], 59*time.Minute, "Nomad's drain deadline is what is left of the hour")
	n.mu.Unlock()

	n.finish() // the system job keeps running: it does not hold the node
	assert.Equal(t, []string{scalein.Continue}, f.waitResults(t, 1))
	assert.Contains(t, f.logs.String(), "no build runs on the node any more")
}

func TestDeadlineAbandonsWithTheReason(t *testing.T) {
	n := &nodes{meta: map[string]string{scalein.MetaInstanceID: "i-2"}, running: []string{"build-stuck"}}
	f := start(t, 200*time.Millisecond, n)
	f.notify(t, "i-2", "tok")
	assert.Equal(t, []string{scalein.Abandon}, f.waitResults(t, 1))
	logs := f.logs.String()
	assert.Contains(t, logs, "the deadline passed with builds still on the node")
	assert.Contains(t, logs, "build-stuck")
}

func TestNoNodeContinuesAtOnce(t *testing.T) {
	f := start(t, time.Hour, &nodes{meta: map[string]string{scalein.MetaInstanceID: "i-other"}})
	f.notify(t, "i-3", "tok")
	assert.Equal(t, []string{scalein.Continue}, f.waitResults(t, 1))
	assert.Empty(t, f.nodes.drains)
	assert.Contains(t, f.logs.String(), "no Nomad node runs on the instance")
}

func TestOtherMessagesAreDeleted(t *testing.T) {
	f := start(t, time.Hour, &nodes{})
	for _, body := range []string{`{"Event":"autoscaling:TEST_NOTIFICATION","AutoScalingGroupName":"clients"}`, `not json`,
		`{"LifecycleTransition":"autoscaling:EC2_INSTANCE_LAUNCHING","LifecycleActionToken":"t","EC2InstanceId":"i","LifecycleHookName":"h","AutoScalingGroupName":"g"}`} {
		_, err := f.q.Send(t.Context(), []byte(body), queue.SendOptions{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		s, err := f.q.Stats(t.Context())
		return err == nil && s.Visible+s.InFlight == 0
	}, 30*time.Second, 5*time.Millisecond)
	hb, results := f.acts.state()
	assert.Zero(t, hb)
	assert.Empty(t, results)
}

func TestConfigErrors(t *testing.T) {
	_, err := scalein.New(scalein.Config{})
	assert.ErrorContains(t, err, "required")
	q, err := boltqueue.Open(filepath.Join(t.TempDir(), "q.db"), "l", boltqueue.Config{})
	require.NoError(t, err)
	defer q.Close()
	_, err = scalein.New(scalein.Config{Queue: q, Actions: &actions{}, Nodes: &nodes{}, HeartbeatInterval: time.Minute, Visibility: time.Minute})
	assert.ErrorContains(t, err, "Visibility")
}
