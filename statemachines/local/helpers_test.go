package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/local/localtest"
)

var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// newEngine returns an engine on a fake clock, closed at the end of the test.
func newEngine(t testing.TB, cfg local.Config) (*local.Engine, *localtest.Clock) {
	t.Helper()
	clock := localtest.NewClock(epoch)
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	e, err := local.New(cfg)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e, clock
}

// autoAdvance fires every timer as soon as one is pending, until the test
// ends: for tests that only care about outcomes, not timing.
func autoAdvance(t testing.TB, clock *localtest.Clock) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for clock.BlockUntil(ctx, 1) == nil {
			clock.AdvanceToNext()
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// define defines a machine from a Go value.
func define(t testing.TB, e *local.Engine, name string, def any) string {
	t.Helper()
	data, err := json.Marshal(def)
	require.NoError(t, err)
	arn, err := e.Define(name, data, nil)
	require.NoError(t, err)
	return arn
}

// run starts an execution and waits for its end.
func run(t testing.TB, e *local.Engine, machineArn string, input string) local.Execution {
	t.Helper()
	ctx := testCtx(t)
	arn, err := e.StartExecution(ctx, machineArn, "", json.RawMessage(input))
	require.NoError(t, err)
	d, err := e.WaitExecution(ctx, arn)
	require.NoError(t, err)
	return d
}

// namedError is a handler error with an ASL error name.
type namedError struct{ name, cause string }

func (e namedError) Error() string     { return e.name + ": " + e.cause }
func (e namedError) ErrorName() string { return e.name }
func (e namedError) Cause() string     { return e.cause }

var errPlain = errors.New("plain failure")

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recordingSender records sent messages.
type recordingSender struct {
	mu   sync.Mutex
	msgs [][]byte
	ch   chan []byte
}

func newSender() *recordingSender { return &recordingSender{ch: make(chan []byte, 100)} }

func (s *recordingSender) Send(_ context.Context, body []byte) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, body)
	s.mu.Unlock()
	s.ch <- body
	return nil
}
