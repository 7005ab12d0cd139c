package nomadbridge_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/nomadbridge"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv"
	"github.com/orbit-ci/orbit/shared/lease"
	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/memmetrics"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/queue/sqsqueue"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/runqueue"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// The failover tests run two bridges in this process as the AWS shape runs
// two `orbit bridge` instances: one DynamoDB table (the lease) and one SQS
// run queue, both in moto, and the real Nomad agent at NOMAD_ADDR.
const (
	failDuration = 10 * time.Second
	failRenew    = time.Second
	failMargin   = 3 * time.Second
	// failVisibility is short so that a message the dead bridge received
	// and never deleted comes back to the survivor within the test.
	failVisibility = 3 * time.Second
	// failSlack absorbs moto's latency and a busy machine in the bounds.
	failSlack = 4 * time.Second
)

// errKilled is what a killed bridge's calls get: the process is gone.
var errKilled = errors.New("bridge process killed")

// mortal is one bridge process's link to the shared services. kill makes
// every later call fail, as kill -9 would: no release of the lease, no
// delete of a message received, no renewal.
type mortal struct {
	dead atomic.Bool
	// lostDeletes makes deletes vanish (the process dies right after
	// Nomad accepted the job, before the delete reached SQS).
	lostDeletes atomic.Bool
	// storeCut cuts the process off from the lease's table only.
	storeCut atomic.Bool
	// receivedAt is when the last Receive call started.
	mu         sync.Mutex
	receivedAt time.Time
}

func (m *mortal) kill() { m.dead.Store(true) }

func (m *mortal) lastReceive() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.receivedAt
}

type mortalQueue struct {
	queue.Queue
	m *mortal
}

func (q mortalQueue) Receive(ctx context.Context, opts queue.ReceiveOptions) ([]queue.Message, error) {
	if q.m.dead.Load() {
		return nil, errKilled
	}
	q.m.mu.Lock()
	q.m.receivedAt = time.Now()
	q.m.mu.Unlock()
	msgs, err := q.Queue.Receive(ctx, opts)
	if q.m.dead.Load() {
		return nil, errKilled // received by a dead process: invisible until they time out
	}
	return msgs, err
}

func (q mortalQueue) Delete(ctx context.Context, receipt string) error {
	if q.m.dead.Load() {
		return errKilled
	}
	if q.m.lostDeletes.Load() {
		return nil
	}
	return q.Queue.Delete(ctx, receipt)
}

func (q mortalQueue) Extend(ctx context.Context, receipt string, d time.Duration) error {
	if q.m.dead.Load() {
		return errKilled
	}
	return q.Queue.Extend(ctx, receipt, d)
}

type mortalStore struct {
	kv.Store
	m *mortal
}

func (s mortalStore) Get(ctx context.Context, pk, sk string) (kv.Item, error) {
	if s.m.dead.Load() || s.m.storeCut.Load() {
		return kv.Item{}, errKilled
	}
	return s.Store.Get(ctx, pk, sk)
}

func (s mortalStore) Put(ctx context.Context, it kv.Item, c kv.Condition) (kv.Item, error) {
	if s.m.dead.Load() || s.m.storeCut.Load() {
		return kv.Item{}, errKilled
	}
	return s.Store.Put(ctx, it, c)
}

// failover is a live environment with the AWS shape's shared services.
type failover struct {
	*live
	store kv.Store
	sqs   queue.Queue
	key   string
	dir   string
}

func newFailover(t *testing.T) *failover {
	t.Helper()
	l := newLive(t)
	dc := dynamodb.NewFromConfig(testenv.AWS(t, "ORBIT_DYNAMODB_ENDPOINT"))
	sc := sqs.NewFromConfig(testenv.AWS(t, "ORBIT_SQS_ENDPOINT"))
	name := "orbit-failover-" + strings.ToLower(rand.Text()[:12])
	ctx := t.Context()
	require.NoError(t, dynamokv.CreateTable(ctx, dc, name))
	t.Cleanup(func() {
		_, _ = dc.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	store, err := dynamokv.New(dc, dynamokv.Config{Table: name})
	require.NoError(t, err)
	url, err := sqsqueue.CreateQueue(ctx, sc, name, sqsqueue.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = sc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}) })
	q, err := sqsqueue.New(sc, url, sqsqueue.Config{})
	require.NoError(t, err)
	l.q = recQueue{Queue: q, ev: &events{}}
	return &failover{live: l, store: store, sqs: q, key: "nomadbridge-" + name, dir: t.TempDir()}
}

// bridge starts one bridge process named holder; mod may change its
// configuration.
func (f *failover) bridge(t *testing.T, holder string, mod ...func(*nomadbridge.Config)) (*nomadbridge.Bridge, *mortal, func()) {
	t.Helper()
	m := &mortal{}
	lse, err := lease.New(mortalStore{Store: f.store, m: m}, lease.Config{Key: f.key, Holder: holder,
		Duration: failDuration, Renew: failRenew, Margin: failMargin, Logger: testLogger(t, f.logs).With("bridge", holder)})
	require.NoError(t, err)
	b, stop := f.start(t, 200*time.Millisecond, func(c *nomadbridge.Config) {
		c.Queue = mortalQueue{Queue: f.sqs, m: m}
		c.Lease = lse
		c.Visibility = failVisibility
		c.Logger = c.Logger.With("bridge", holder)
		for _, f := range mod {
			f(c)
		}
	})
	return b, m, stop
}

func leader(b *nomadbridge.Bridge) bool {
	st, _ := b.LeaseState()
	return st.Leader
}

func waitLeader(t *testing.T, b *nomadbridge.Bridge, within time.Duration) lease.State {
	t.Helper()
	require.Eventually(t, func() bool { return leader(b) }, within, 5*time.Millisecond, "the bridge never led")
	st, _ := b.LeaseState()
	return st
}

// runs is a step that records each run of its task in a file, then waits
// for the file "go" when wait is set.
func (f *failover) runs(name string, wait bool) runner.Step {
	cmd := fmt.Sprintf("echo run >> %s", filepath.Join(f.dir, name+".runs"))
	if wait {
		cmd += fmt.Sprintf("; while [ ! -e %s ]; do sleep 0.05; done", filepath.Join(f.dir, "go"))
	}
	return run("step", cmd+"; echo done")
}

func (f *failover) runCount(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, name+".runs"))
	require.NoError(t, err, "task %s never ran", name)
	return strings.Count(string(b), "run\n")
}

// TestLiveFailover: the active bridge dies abruptly mid-run (running tasks,
// two messages whose jobs Nomad accepted but whose deletes never happened),
// the standby takes over within Duration + Renew, and every task runs
// exactly once: one Nomad job registration each, one run each, one kept
// outcome each.
func TestLiveFailover(t *testing.T) {
	f := newFailover(t)
	a, ma, stopA := f.bridge(t, "bridge-a")
	stA := waitLeader(t, a, 30*time.Second)
	b, _, _ := f.bridge(t, "bridge-b")
	require.Eventually(t, func() bool {
		st, _ := b.LeaseState()
		return st.CurrentHolder == "bridge-a"
	}, 10*time.Second, 5*time.Millisecond, "b stands by, seeing a hold the lease")

	var tasks []runqueue.Message
	names := map[string]string{} // token → name
	queueTask := func(name string, wait bool) runqueue.Message {
		m := f.task(t, name, f.runs(name, wait))
		tasks, names[m.Token] = append(tasks, m), name
		return m
	}
	for _, name := range []string{"running-1", "running-2", "running-3"} {
		queueTask(name, true)
	}
	for _, m := range tasks {
		f.waitStepRunning(t, m, 0)
	}
	// a registers two more jobs but dies before their messages are deleted.
	ma.lostDeletes.Store(true)
	undeleted := []runqueue.Message{queueTask("undeleted-1", true), queueTask("undeleted-2", true)}
	require.Eventually(t, func() bool { return a.Stats().Registered == 5 }, 30*time.Second, 10*time.Millisecond)
	for _, m := range undeleted {
		f.waitStepRunning(t, m, 0)
	}

	if st, _ := a.LeaseState(); !st.Leader || st.Token != stA.Token {
		t.Fatalf("a lost its term before the kill (a renewal slower than %s): the test's premise is gone", failDuration-failMargin)
	}
	ma.kill()
	killed := time.Now()
	stopA()
	assert.False(t, leader(a), "the dead bridge does not lead")
	stB := waitLeader(t, b, failDuration+failRenew+failSlack+5*time.Second)
	took := time.Since(killed)
	t.Logf("standby took over %s after the kill (bound: Duration %s + Renew %s)", took.Round(time.Millisecond), failDuration, failRenew)
	assert.LessOrEqual(t, took, failDuration+failRenew+failSlack, "takeover within Duration + Renew")
	assert.Greater(t, stB.Token, stA.Token, "the takeover raised the fencing token")

	queueTask("after-1", false)
	queueTask("after-2", false)
	require.Eventually(t, func() bool { return b.Stats().Duplicates >= 2 }, failVisibility+30*time.Second, 20*time.Millisecond,
		"the undeleted messages come back to b and find their jobs in Nomad")
	for _, m := range tasks[:5] {
		job, _, err := f.nomad.Jobs().Info(m.NomadJobID(), nil)
		require.NoError(t, err)
		assert.Equal(t, uint64(0), *job.Version, "%s's job was registered once", names[m.Token])
		allocs, _, err := f.nomad.Jobs().Allocations(m.NomadJobID(), true, nil)
		require.NoError(t, err)
		assert.Len(t, allocs, 1, "%s's job has one allocation", names[m.Token])
	}

	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "go"), nil, 0o644))
	for _, m := range tasks {
		task := f.waitResult(t, m)
		name := names[m.Token]
		assert.Equal(t, runner.StatusSuccess, task.Result.Status, name)
		assert.Equal(t, 1, f.runCount(t, name), "%s ran exactly once", name)
		accepted := 0
		for _, fin := range task.Finishes {
			if fin.Accepted {
				accepted++
			}
		}
		assert.Equal(t, 1, accepted, "%s has one outcome", name)
		f.waitPurged(t, m.NomadJobID())
	}
	// Registered counts the registrations a bridge saw succeed; one whose
	// answer was lost and whose retry found the job counts as a duplicate,
	// so b's count may be lower, never higher.
	assert.Equal(t, int64(5), a.Stats().Registered)
	assert.LessOrEqual(t, b.Stats().Registered, int64(2), "b registered none of a's jobs again")
	assert.True(t, queueEmpty(f.sqs), "no message is left")
}

// TestLiveLeaseLostStopsDispatching: a bridge cut off from the lease's table
// (the run queue and Nomad still reachable) stops receiving at its first
// failed renewal, before the standby takes over; the standby dispatches what
// comes next.
func TestLiveLeaseLostStopsDispatching(t *testing.T) {
	f := newFailover(t)
	sinkA, sinkB := memmetrics.New(), memmetrics.New()
	withSink := func(s metrics.Sink) func(*nomadbridge.Config) {
		return func(c *nomadbridge.Config) { c.Metrics, c.MetricsInterval = s, 50*time.Millisecond }
	}
	a, ma, _ := f.bridge(t, "bridge-a", withSink(sinkA))
	waitLeader(t, a, 30*time.Second)
	b, _, _ := f.bridge(t, "bridge-b", withSink(sinkB))
	first := f.task(t, "before", f.runs("before", false))
	require.Equal(t, runner.StatusSuccess, f.waitResult(t, first).Result.Status)
	require.Equal(t, int64(1), a.Stats().Registered)

	// Only the lease's table is cut off: a's store fails, its queue works.
	ma.storeCut.Store(true)
	require.Eventually(t, func() bool { return !leader(a) }, failRenew+failSlack, 5*time.Millisecond,
		"a stops at its next renewal")
	stopped := time.Now()
	stB := waitLeader(t, b, failDuration+failRenew+failSlack+5*time.Second)
	assert.False(t, ma.lastReceive().After(stopped), "a started no receive after it stopped leading")
	assert.GreaterOrEqual(t, stB.Since.Sub(stopped), failMargin-failRenew, "a stopped well before b took over")

	after := f.task(t, "after", f.runs("after", false))
	require.Equal(t, runner.StatusSuccess, f.waitResult(t, after).Result.Status)
	assert.Equal(t, int64(1), a.Stats().Registered, "a dispatched nothing after losing the lease")
	assert.Equal(t, int64(1), b.Stats().Registered)
	assert.Equal(t, 1, f.runCount(t, "after"))
	stA, _ := a.LeaseState()
	assert.GreaterOrEqual(t, stA.Losses, int64(1))

	gauge := func(s *memmetrics.Store, name string) float64 { v, _ := s.Value(name); return v }
	assert.Eventually(t, func() bool {
		return gauge(sinkA, nomadbridge.MetricLeaseLeader) == 0 && gauge(sinkB, nomadbridge.MetricLeaseLeader) == 1
	}, 5*time.Second, 10*time.Millisecond, "the leader gauge follows the lease")
	// ≥: on a busy machine a slow renewal may end a term, and the holder
	// takes its own lease back as a new term.
	assert.GreaterOrEqual(t, gauge(sinkA, nomadbridge.MetricLeaseAcquired), 1.0)
	assert.GreaterOrEqual(t, gauge(sinkB, nomadbridge.MetricLeaseAcquired), 1.0)
	for _, tc := range []struct {
		name   string
		bridge *nomadbridge.Bridge
		leader bool
	}{{"active", b, true}, {"standby", a, false}} {
		rec := httptest.NewRecorder()
		tc.bridge.StatusHandler("v1").ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		assert.Equal(t, http.StatusOK, rec.Code, "%s: a standby is healthy", tc.name)
		var body struct {
			Lease lease.State `json:"lease"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		assert.Equal(t, tc.leader, body.Lease.Leader, tc.name)
		if tc.leader {
			assert.Equal(t, "bridge-b", body.Lease.CurrentHolder)
			assert.GreaterOrEqual(t, body.Lease.Token, int64(2), "the takeover's token")
		} else {
			assert.Contains(t, body.Lease.LastError, "bridge process killed", "the standby says why it lost")
		}
	}
}
