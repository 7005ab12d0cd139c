// Package lambdamain is the body every Orbit Lambda's main shares: read the
// configuration once, build the parts of the aws shape the function serves
// (internal/compose) at cold start, then hand the handler to the Lambda
// runtime. Nothing is started that outlives a request: no goroutine, no
// ticker, no local file.
package lambdamain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/orbit-ci/orbit/internal/compose"
)

// Version is stamped at build time with -ldflags "-X …lambdamain.Version=…".
var Version = "dev"

// Build returns the function's handler (any signature lambda.Start takes),
// built from the assembly.
type Build func(ctx context.Context, a *compose.Assembly, log *slog.Logger) (any, error)

// Main builds the handler and serves invocations until the runtime stops
// the process. A configuration error ends the process at init, naming the
// setting, so the function's first invocation fails with it in the log.
func Main(name string, build Build) {
	h, err := start(context.Background(), name, os.Getenv, build)
	if err != nil {
		fmt.Fprintf(os.Stderr, "orbit %s: %v\n", name, err)
		os.Exit(1)
	}
	lambda.Start(h)
}

func start(ctx context.Context, name string, getenv func(string) string, build Build) (any, error) {
	cfg, err := compose.FromEnv(func(k string) string {
		if v := getenv(k); v != "" || k != "ORBIT_SHAPE" {
			return v
		}
		return string(compose.AWS) // a Lambda keeps no state on its disk
	})
	if err != nil {
		return nil, err
	}
	if cfg.Shape != compose.AWS {
		return nil, fmt.Errorf("ORBIT_SHAPE=%s: a Lambda runs the aws shape", cfg.Shape)
	}
	log, err := cfg.Logger(os.Stderr)
	if err != nil {
		return nil, err
	}
	log = log.With("function", name)
	a, err := compose.New(ctx, cfg, Version, log)
	if err != nil {
		return nil, err
	}
	return build(ctx, a, log)
}

// FunctionError returns err as the Lambda runtime reports it: an error with
// an ErrorName() (and maybe a Cause()) keeps that name as its errorType, so
// the state machines' Retry and Catch see the same error names as in the
// embedded shape; any other error is reported as is.
func FunctionError(err error) error {
	var named interface{ ErrorName() string }
	if err == nil || !errors.As(err, &named) {
		return err
	}
	msg := err.Error()
	if c, ok := named.(interface{ Cause() string }); ok {
		msg = c.Cause()
	}
	return messages.InvokeResponse_Error{Type: named.ErrorName(), Message: msg}
}
