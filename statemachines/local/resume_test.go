package local_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/local/localtest"
)

// resumeDefs are the machines of TestResume: one parked on a task token,
// one in a Wait state, one whose task handler is running at the crash.
var resumeDefs = map[string]any{
	"job": map[string]any{"StartAt": "Dispatch", "States": map[string]any{
		"Dispatch": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
			"TimeoutSeconds": 3600, "ResultPath": "$.result", "Next": "Finish",
			"Parameters": map[string]any{"FunctionName": "dispatch", "Payload": map[string]any{"Token.$": "$$.Task.Token"}}},
		"Finish": map[string]any{"Type": "Pass", "End": true},
	}},
	"sleeper": map[string]any{"StartAt": "First", "States": map[string]any{
		"First": map[string]any{"Type": "Pass", "Result": "slept", "ResultPath": "$.note", "Next": "Sleep"},
		"Sleep": map[string]any{"Type": "Wait", "Seconds": 60, "End": true},
	}},
	"worker": map[string]any{"StartAt": "Work", "States": map[string]any{
		"Work": map[string]any{"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:work", "End": true},
	}},
}

type process struct {
	db     *bolt.DB
	engine *local.Engine
	clock  *localtest.Clock
	arns   map[string]string
}

// startProcess opens the bolt file and an engine on it, as cmd/orbit would.
func startProcess(t *testing.T, path string, now time.Time, work local.Handler, dispatched *atomic.Int32, tokens chan string) *process {
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	store, err := local.NewBoltStore(db)
	require.NoError(t, err)
	clock := localtest.NewClock(now)
	e, err := local.New(local.Config{Clock: clock, Store: store})
	require.NoError(t, err)
	e.RegisterLambda("dispatch", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		dispatched.Add(1)
		var in struct{ Token string }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, err
		}
		tokens <- in.Token
		return nil, nil
	})
	e.RegisterLambda("work", work)
	p := &process{db: db, engine: e, clock: clock, arns: map[string]string{}}
	for name, def := range resumeDefs {
		p.arns[name] = define(t, e, name, def)
	}
	return p
}

func (p *process) crash(t *testing.T) {
	p.engine.Close()
	require.NoError(t, p.db.Close())
}

func TestResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orbit.db")
	ctx := testCtx(t)
	var dispatched atomic.Int32
	tokens := make(chan string, 10)
	workStarted := make(chan struct{}, 1)
	blockingWork := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		workStarted <- struct{}{}
		<-ctx.Done() // still running when the process dies
		return nil, ctx.Err()
	}

	// First process: three executions, stopped mid-way.
	p1 := startProcess(t, path, epoch, blockingWork, &dispatched, tokens)
	job, err := p1.engine.StartExecution(ctx, p1.arns["job"], "job-1", json.RawMessage(`{"job":1}`))
	require.NoError(t, err)
	token := <-tokens
	sleeper, err := p1.engine.StartExecution(ctx, p1.arns["sleeper"], "sleeper-1", json.RawMessage(`{}`))
	require.NoError(t, err)
	worker, err := p1.engine.StartExecution(ctx, p1.arns["worker"], "worker-1", json.RawMessage(`{"w":1}`))
	require.NoError(t, err)
	<-workStarted
	require.NoError(t, p1.clock.BlockUntil(ctx, 2)) // job's TimeoutSeconds, sleeper's Wait
	finished, err := p1.engine.StartExecution(ctx, p1.arns["sleeper"], "finished", json.RawMessage(`{}`))
	require.NoError(t, err)
	require.NoError(t, p1.clock.BlockUntil(ctx, 3))
	p1.clock.Advance(30 * time.Second) // sleeper-1 is half-way; "finished" has 30s left…
	require.NoError(t, p1.engine.StopExecution(ctx, finished, "Stopped", "by test"))
	p1.crash(t)

	// Second process, 10s later by its clock: Define, Resume.
	p2 := startProcess(t, path, epoch.Add(40*time.Second), echo, &dispatched, tokens)
	defer p2.crash(t)
	require.NoError(t, p2.engine.Resume(ctx))

	d, err := p2.engine.WaitExecution(ctx, worker)
	require.NoError(t, err)
	assert.Equal(t, local.StatusSucceeded, d.Status, "the in-progress task is invoked again: %s", d.Cause)
	assert.JSONEq(t, `{"w":1}`, string(d.Output))

	d, err = p2.engine.DescribeExecution(ctx, finished)
	require.NoError(t, err, "finished executions are archived in the bolt store")
	assert.Equal(t, local.StatusAborted, d.Status)

	// The parked state waits on the same token, without dispatching again.
	require.NoError(t, p2.clock.BlockUntil(ctx, 2))
	assert.Equal(t, int32(1), dispatched.Load())
	assert.Contains(t, p2.clock.Deadlines(), epoch.Add(60*time.Second), "the Wait keeps its original deadline")
	assert.Contains(t, p2.clock.Deadlines(), epoch.Add(3600*time.Second), "the task keeps its TimeoutSeconds deadline")
	require.NoError(t, p2.engine.SendTaskSuccess(ctx, token, json.RawMessage(`{"outcome":"success"}`)))
	d, err = p2.engine.WaitExecution(ctx, job)
	require.NoError(t, err)
	require.Equal(t, local.StatusSucceeded, d.Status, d.Cause)
	assert.JSONEq(t, `{"job":1,"result":{"outcome":"success"}}`, string(d.Output))

	p2.clock.Advance(20 * time.Second)
	d, err = p2.engine.WaitExecution(ctx, sleeper)
	require.NoError(t, err)
	require.Equal(t, local.StatusSucceeded, d.Status, d.Cause)
	assert.JSONEq(t, `{"note":"slept"}`, string(d.Output))
	assert.Equal(t, epoch.Add(60*time.Second), d.StopDate)

	// Finished executions are not resumed twice, and tokens of finished
	// executions are closed.
	assert.ErrorIs(t, p2.engine.SendTaskSuccess(ctx, token, json.RawMessage(`{}`)), local.ErrTaskTimedOut)
	_, err = p2.engine.StartExecution(ctx, p2.arns["job"], "job-1", json.RawMessage(`{"job":1}`))
	assert.ErrorIs(t, err, local.ErrExecutionAlreadyExists)
}
