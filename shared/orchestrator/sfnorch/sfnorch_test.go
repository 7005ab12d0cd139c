package sfnorch_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/orchestrator"
	"github.com/orbit-ci/orbit/shared/orchestrator/sfnorch"
)

// fakeSFN answers Step Functions' JSON protocol: the first failures
// requests with the error code, then success.
type fakeSFN struct {
	code     string
	failures int64
	calls    atomic.Int64
}

func (f *fakeSFN) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.calls.Add(1)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if n <= f.failures {
		w.Header().Set("X-Amzn-ErrorType", f.code)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"` + f.code + `","message":"from the fake"}`))
		return
	}
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".StartExecution") {
		_, _ = w.Write([]byte(`{"executionArn":"arn:aws:states:eu-west-1:123456789012:execution:m:x","startDate":1700000000}`))
		return
	}
	_, _ = w.Write([]byte(`{}`))
}

func newDriver(t *testing.T, f *fakeSFN, retry sfnorch.RetryConfig) *sfnorch.Orchestrator {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := sfn.New(sfn.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	o, err := sfnorch.New(sfnorch.Config{Region: "eu-west-1", Account: "123456789012", Retry: retry}, client)
	require.NoError(t, err)
	return o
}

func TestThrottlingIsRetried(t *testing.T) {
	fast := 2 * time.Millisecond // keep the test's backoffs short
	tests := []struct {
		name      string
		code      string
		failures  int64
		retry     sfnorch.RetryConfig
		wantCalls int64
		wantErr   error  // a port sentinel, or nil
		wantCode  string // the API error code left after retries
	}{
		{"throttled then accepted", "ThrottlingException", 3, sfnorch.RetryConfig{MaxAttempts: 5, MaxBackoff: fast}, 4, nil, ""},
		{"throttled past MaxAttempts", "ThrottlingException", 10, sfnorch.RetryConfig{MaxAttempts: 3, MaxBackoff: fast}, 3, nil, "ThrottlingException"},
		{"retrying turned off", "ThrottlingException", 10, sfnorch.RetryConfig{MaxAttempts: 1, MaxBackoff: fast}, 1, nil, "ThrottlingException"},
		{"a final error is not retried", "ExecutionAlreadyExists", 10, sfnorch.RetryConfig{MaxAttempts: 5, MaxBackoff: fast}, 1,
			orchestrator.ErrExecutionAlreadyExists, "ExecutionAlreadyExists"},
		{"more throttles than the SDK's retry quota allows", "ThrottlingException", 150,
			sfnorch.RetryConfig{MaxAttempts: 200, MaxBackoff: time.Microsecond}, 151, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSFN{code: tc.code, failures: tc.failures}
			o := newDriver(t, f, tc.retry)
			arn, err := o.StartExecution(t.Context(), o.StateMachineArn("m"), "x", json.RawMessage(`{}`))
			assert.Equal(t, tc.wantCalls, f.calls.Load(), "requests")
			if tc.wantCode == "" {
				require.NoError(t, err)
				assert.Equal(t, "arn:aws:states:eu-west-1:123456789012:execution:m:x", arn)
				return
			}
			var apiErr smithy.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.wantCode, apiErr.ErrorCode())
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
}

func TestRetryerBacksOff(t *testing.T) {
	r := sfnorch.NewRetryer(sfnorch.RetryConfig{MaxAttempts: 6, MaxBackoff: 3 * time.Second})
	throttle := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	final := &smithy.GenericAPIError{Code: "TaskTimedOut", Message: "closed"}
	assert.Equal(t, 6, r.MaxAttempts())
	assert.True(t, r.IsErrorRetryable(throttle), "ThrottlingException is retried")
	assert.False(t, r.IsErrorRetryable(final), "TaskTimedOut is final")
	// Throttling backoff: jittered in [0, min(1s * 2^(attempt-1), MaxBackoff)].
	var longest time.Duration
	for attempt := 1; attempt <= 5; attempt++ {
		ceiling := min(time.Second<<(attempt-1), 3*time.Second)
		for range 50 {
			d, err := r.RetryDelay(attempt, throttle)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, d, time.Duration(0))
			assert.LessOrEqual(t, d, ceiling, "attempt %d", attempt)
			longest = max(longest, d)
		}
	}
	assert.Greater(t, longest, time.Second, "the backoff grows past the first second")
}

func TestNewChecksTheConfig(t *testing.T) {
	client := sfn.New(sfn.Options{Region: "eu-west-1"})
	tests := []struct {
		name string
		cfg  sfnorch.Config
		want string
	}{
		{"no region", sfnorch.Config{Account: "123456789012"}, "Region"},
		{"bad region", sfnorch.Config{Region: "Europe", Account: "123456789012"}, "Region"},
		{"no account", sfnorch.Config{Region: "eu-west-1"}, "Account"},
		{"short account", sfnorch.Config{Region: "eu-west-1", Account: "1234"}, "Account"},
		{"negative attempts", sfnorch.Config{Region: "eu-west-1", Account: "123456789012", Retry: sfnorch.RetryConfig{MaxAttempts: -1}}, "MaxAttempts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sfnorch.New(tc.cfg, client)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := sfnorch.New(sfnorch.Config{Region: "eu-west-1", Account: "123456789012"}, nil)
	assert.Error(t, err, "nil client")

	o, err := sfnorch.New(sfnorch.Config{Partition: "aws-cn", Region: "cn-north-1", Account: "123456789012"}, client)
	require.NoError(t, err)
	assert.Equal(t, "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:orbit-job", o.StateMachineArn("orbit-job"))
}

func TestBadJSONIsRefusedBeforeAnyRequest(t *testing.T) {
	f := &fakeSFN{}
	o := newDriver(t, f, sfnorch.RetryConfig{})
	_, err := o.StartExecution(t.Context(), o.StateMachineArn("m"), "x", json.RawMessage(`{"a":`))
	assert.ErrorIs(t, err, orchestrator.ErrInvalidExecutionInput)
	err = o.SendTaskSuccess(t.Context(), "token", json.RawMessage(`nope`))
	assert.ErrorIs(t, err, orchestrator.ErrInvalidOutput)
	assert.Zero(t, f.calls.Load(), "requests")
	assert.False(t, errors.Is(err, orchestrator.ErrInvalidToken))
}

// The port's codes are the API's: each sentinel's code is what the SDK's
// modelled exception (generated from the Step Functions API model) reports,
// and the driver classifies a response with that code as the sentinel.
func TestAPIErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name     string
		sentinel *orchestrator.Error
		sdk      smithy.APIError
	}{
		{"ExecutionAlreadyExists", orchestrator.ErrExecutionAlreadyExists, &types.ExecutionAlreadyExists{}},
		{"ExecutionDoesNotExist", orchestrator.ErrExecutionDoesNotExist, &types.ExecutionDoesNotExist{}},
		{"StateMachineDoesNotExist", orchestrator.ErrStateMachineDoesNotExist, &types.StateMachineDoesNotExist{}},
		{"InvalidName", orchestrator.ErrInvalidName, &types.InvalidName{}},
		{"InvalidArn", orchestrator.ErrInvalidArn, &types.InvalidArn{}},
		{"InvalidExecutionInput", orchestrator.ErrInvalidExecutionInput, &types.InvalidExecutionInput{}},
		{"InvalidOutput", orchestrator.ErrInvalidOutput, &types.InvalidOutput{}},
		{"InvalidToken", orchestrator.ErrInvalidToken, &types.InvalidToken{}},
		{"TaskDoesNotExist", orchestrator.ErrTaskDoesNotExist, &types.TaskDoesNotExist{}},
		{"TaskTimedOut", orchestrator.ErrTaskTimedOut, &types.TaskTimedOut{}},
		{"ExecutionLimitExceeded", orchestrator.ErrExecutionLimitExceeded, &types.ExecutionLimitExceeded{}},
	}
	require.Len(t, tests, len(orchestrator.Sentinels), "every sentinel is checked")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.sdk.ErrorCode(), tc.sentinel.Code)
			f := &fakeSFN{code: tc.sentinel.Code, failures: 1}
			o := newDriver(t, f, sfnorch.RetryConfig{MaxAttempts: 1})
			err := o.SendTaskHeartbeat(t.Context(), "token")
			assert.ErrorIs(t, err, tc.sentinel)
			var sdkErr smithy.APIError
			require.ErrorAs(t, err, &sdkErr, "the SDK's error stays in the chain")
			assert.Equal(t, tc.sentinel.Code, sdkErr.ErrorCode())
		})
	}
}
