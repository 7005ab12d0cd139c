package localorch_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/orchestrator/orchestratortest"
	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/localorch"
)

// taskQueue is the queue the suite's task states send to.
const taskQueue = "orbit-orchestrator-tasks"

// chanSender hands every message to the test.
type chanSender chan []byte

func (c chanSender) Send(ctx context.Context, body []byte) error {
	select {
	case c <- body:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestConformance(t *testing.T) {
	orchestratortest.Run(t, func(t *testing.T) orchestratortest.Harness {
		engine, err := local.New(local.Config{Clock: local.RealClock{}})
		require.NoError(t, err)
		t.Cleanup(engine.Close)
		msgs := make(chanSender, 16)
		engine.RegisterQueue(taskQueue, msgs)
		o, err := localorch.New(engine)
		require.NoError(t, err)
		return orchestratortest.Harness{
			Orchestrator: o,
			Define: func(t *testing.T, definition string) string {
				var b [6]byte
				_, _ = rand.Read(b[:])
				arn, err := engine.Define("suite-"+hex.EncodeToString(b[:]), []byte(definition),
					map[string]string{"TaskQueue": taskQueue})
				require.NoError(t, err)
				return arn
			},
			NextTask: func(ctx context.Context) ([]byte, error) {
				select {
				case body := <-msgs:
					return body, nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			},
		}
	})
}

func TestNewNeedsAnEngine(t *testing.T) {
	_, err := localorch.New(nil)
	require.Error(t, err)
}
