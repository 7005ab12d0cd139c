package sfnhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/local/sfnhttp"
)

// TestStepFunctionsClient drives the engine with the AWS SDK's own Step
// Functions client, as the aws shape's Lambdas do.
func TestStepFunctionsClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := local.New(local.Config{})
	require.NoError(t, err)
	defer e.Close()
	tokens := make(chan string, 1)
	e.RegisterLambda("park", func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
		var in struct{ Token string }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, err
		}
		tokens <- in.Token
		return json.RawMessage(`{}`), nil
	})
	machine, err := e.Define("m", []byte(`{"StartAt":"Wait","States":{"Wait":{"Type":"Task",
		"Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"park","Payload":{"Token.$":"$$.Task.Token"}},"End":true}}}`), nil)
	require.NoError(t, err)
	srv := httptest.NewServer(sfnhttp.Handler(e))
	defer srv.Close()
	c := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})

	start := func(input string) (*sfn.StartExecutionOutput, error) {
		return c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &machine, Name: aws.String("run-1"), Input: &input})
	}
	first, err := start(`{"a":1}`)
	require.NoError(t, err)
	again, err := start(`{"a":1}`)
	require.NoError(t, err, "same name and input: the same execution")
	assert.Equal(t, aws.ToString(first.ExecutionArn), aws.ToString(again.ExecutionArn))
	_, err = start(`{"a":2}`)
	var exists *types.ExecutionAlreadyExists
	assert.ErrorAs(t, err, &exists, "same name, other input")

	token := <-tokens
	_, err = c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: &token})
	require.NoError(t, err)
	_, err = c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: aws.String(`{"done":true}`)})
	require.NoError(t, err)
	_, err = c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: aws.String(`{}`)})
	var gone *types.TaskDoesNotExist
	var timedOut *types.TaskTimedOut
	assert.True(t, errors.As(err, &gone) || errors.As(err, &timedOut), "a finished token: %v", err)
	_, err = c.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String("garbage"), Error: aws.String("E")})
	var bad *types.InvalidToken
	assert.ErrorAs(t, err, &bad)

	require.Eventually(t, func() bool {
		d, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: first.ExecutionArn})
		return err == nil && d.Status == types.ExecutionStatusSucceeded && aws.ToString(d.Output) == `{"done":true}`
	}, 10*time.Second, 10*time.Millisecond)
	_, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(aws.ToString(first.ExecutionArn) + "-nope")})
	var missing *types.ExecutionDoesNotExist
	assert.ErrorAs(t, err, &missing)
}
