// Command api is the api Lambda: the REST API, the UI and the runner API,
// the one http.Handler of shared/api, behind API Gateway's HTTP API
// (payload format 2.0). ProxyWithContext hands the invocation's context, and
// so the Lambda deadline, to every handler.
package main

import (
	"context"
	"log/slog"

	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/orbit-ci/orbit/functions/internal/lambdamain"
	"github.com/orbit-ci/orbit/internal/compose"
)

func main() {
	lambdamain.Main("api", func(_ context.Context, a *compose.Assembly, _ *slog.Logger) (any, error) {
		h, err := a.API(nil, nil)
		if err != nil {
			return nil, err
		}
		return httpadapter.NewV2(h).ProxyWithContext, nil
	})
}
