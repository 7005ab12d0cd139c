// Command hello is a bare aws-lambda-go function: the baseline beside which
// the api function's cold start and warm latency are measured under the
// Runtime Interface Emulator (functions/awsshape).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, in map[string]any) (map[string]any, error) {
		return map[string]any{"hello": in["name"]}, nil
	})
}
