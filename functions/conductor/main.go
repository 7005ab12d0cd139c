// Command conductor is the conductor Lambda: the handler of the pipeline,
// workflow and job state machines' lambda:invoke tasks
// ({"action": …, ids…} in, the action's JSON out; see shared/conductor).
package main

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/orbit-ci/orbit/functions/internal/lambdamain"
	"github.com/orbit-ci/orbit/internal/compose"
)

func main() {
	lambdamain.Main("conductor", func(_ context.Context, a *compose.Assembly, _ *slog.Logger) (any, error) {
		c, err := a.Conductor()
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
			out, err := c.Handle(ctx, payload)
			return out, lambdamain.FunctionError(err)
		}, nil
	})
}
