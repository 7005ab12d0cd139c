// Package sfnorch is the AWS driver of the orchestrator port: AWS Step
// Functions (Standard workflows) through aws-sdk-go-v2/service/sfn.
//
// The driver is a thin mapping: each port method is one API call, its
// errors classified by their exception names into the port's sentinels
// (the SDK's error stays in the chain). Two things are its own:
//
//   - Throttling. Step Functions throttles StartExecution and the
//     SendTask* calls per account (token buckets). Every call runs with the
//     SDK's standard retryer, configured by RetryConfig: ThrottlingException
//     (and the other errors the SDK deems transient) is retried with
//     exponential, jittered backoff, and without the SDK's client-side
//     retry quota, which would otherwise turn a burst of throttles into
//     errors. Retrying is safe: StartExecution is idempotent by name, and a
//     repeated answer to a token that the first attempt closed gets
//     TaskTimedOut, which callers treat as "already answered".
//   - Inputs are sent as compact JSON, so that a start retried with the same
//     document spelled differently is still "the same input" for Step
//     Functions, as it is for statemachines/local. An input or a task output
//     that is not JSON is refused before any request, with the error Step
//     Functions would answer (InvalidExecutionInput, InvalidOutput).
//
// Machines are named in the composition (the CDK app names them);
// StateMachineArn turns a name into the ARN the port's calls take.
package sfnorch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/orbit-ci/orbit/shared/orchestrator"
)

var _ orchestrator.Orchestrator = (*Orchestrator)(nil)

// SFNAPI is the part of *sfn.Client the driver uses; the methods are copied
// from the SDK so that *sfn.Client satisfies it as is.
type SFNAPI interface {
	StartExecution(ctx context.Context, params *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	SendTaskSuccess(ctx context.Context, params *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, params *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
	SendTaskHeartbeat(ctx context.Context, params *sfn.SendTaskHeartbeatInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskHeartbeatOutput, error)
	StopExecution(ctx context.Context, params *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
	DescribeExecution(ctx context.Context, params *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

var _ SFNAPI = (*sfn.Client)(nil)

// Config configures the driver.
type Config struct {
	// Partition, Region and Account place the state machines, for
	// StateMachineArn: "aws" (the default), e.g. "eu-west-1" and the
	// 12-digit account id.
	Partition, Region, Account string
	// Retry says how throttled and transiently failed calls are retried.
	Retry RetryConfig
}

// RetryConfig configures the retry of throttled (ThrottlingException) and
// transiently failed calls.
type RetryConfig struct {
	// MaxAttempts is how many times a call is tried in all; default 8. 1
	// turns retrying off.
	MaxAttempts int
	// MaxBackoff caps the delay between two attempts, which grows
	// exponentially with jitter from one second for throttling errors;
	// default 20s.
	MaxBackoff time.Duration
}

// Default retry settings: eight attempts spread over about a minute at
// worst ride out a burst that drains Step Functions' StartExecution bucket.
const (
	DefaultMaxAttempts = 8
	DefaultMaxBackoff  = 20 * time.Second
)

// Orchestrator runs executions in Step Functions. It is safe for concurrent
// use.
type Orchestrator struct {
	client  SFNAPI
	cfg     Config
	retryer aws.Retryer
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// New returns the driver calling Step Functions through client.
func New(cfg Config, client SFNAPI) (*Orchestrator, error) {
	if client == nil {
		return nil, errors.New("sfnorch: nil client")
	}
	if cfg.Partition == "" {
		cfg.Partition = "aws"
	}
	if !regionRE.MatchString(cfg.Region) {
		return nil, fmt.Errorf("sfnorch: Region %q is not an AWS region (like eu-west-1)", cfg.Region)
	}
	if !accountRE.MatchString(cfg.Account) {
		return nil, fmt.Errorf("sfnorch: Account %q is not a 12-digit AWS account id", cfg.Account)
	}
	if cfg.Retry.MaxAttempts < 0 || cfg.Retry.MaxBackoff < 0 {
		return nil, fmt.Errorf("sfnorch: Retry.MaxAttempts (%d) and Retry.MaxBackoff (%s) must not be negative",
			cfg.Retry.MaxAttempts, cfg.Retry.MaxBackoff)
	}
	if cfg.Retry.MaxAttempts == 0 {
		cfg.Retry.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Retry.MaxBackoff == 0 {
		cfg.Retry.MaxBackoff = DefaultMaxBackoff
	}
	return &Orchestrator{client: client, cfg: cfg, retryer: NewRetryer(cfg.Retry)}, nil
}

// NewRetryer returns the SDK's standard retryer as the driver configures
// it: cfg's attempts and backoff, no client-side retry quota. Zero fields
// take the defaults.
func NewRetryer(cfg RetryConfig) aws.Retryer {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = cfg.MaxAttempts
		o.MaxBackoff = cfg.MaxBackoff
		o.RateLimiter = ratelimit.None
	})
}

// StateMachineArn returns the ARN of the state machine called name.
func (o *Orchestrator) StateMachineArn(name string) string {
	return fmt.Sprintf("arn:%s:states:%s:%s:stateMachine:%s", o.cfg.Partition, o.cfg.Region, o.cfg.Account, name)
}

// withRetryer is every call's option: the driver's retryer.
func (o *Orchestrator) withRetryer(opts *sfn.Options) { opts.Retryer = o.retryer }

// StartExecution implements orchestrator.Orchestrator.
func (o *Orchestrator) StartExecution(ctx context.Context, stateMachineArn, name string, input json.RawMessage) (string, error) {
	doc, err := compact(input)
	if err != nil {
		return "", orchestrator.Wrap(orchestrator.ErrInvalidExecutionInput,
			fmt.Errorf("start execution %q of %s: input is not JSON: %w", name, stateMachineArn, err))
	}
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(stateMachineArn), Input: aws.String(doc)}
	if name != "" {
		in.Name = aws.String(name)
	}
	out, err := o.client.StartExecution(ctx, in, o.withRetryer)
	if err != nil {
		return "", classify(fmt.Errorf("start execution %q of %s: %w", name, stateMachineArn, err))
	}
	return aws.ToString(out.ExecutionArn), nil
}

// compact returns input as compact JSON, {} when empty.
func compact(input json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(input)) == 0 {
		return "{}", nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, input); err != nil {
		return "", err
	}
	return b.String(), nil
}

// SendTaskSuccess implements orchestrator.Orchestrator.
func (o *Orchestrator) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	if !json.Valid(output) {
		return orchestrator.Wrap(orchestrator.ErrInvalidOutput, errors.New("send task success: output is not JSON"))
	}
	_, err := o.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{
		TaskToken: aws.String(token), Output: aws.String(string(output)),
	}, o.withRetryer)
	if err != nil {
		return classify(fmt.Errorf("send task success: %w", err))
	}
	return nil
}

// SendTaskFailure implements orchestrator.Orchestrator.
func (o *Orchestrator) SendTaskFailure(ctx context.Context, token, errorName, cause string) error {
	_, err := o.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{
		TaskToken: aws.String(token), Error: aws.String(errorName), Cause: aws.String(cause),
	}, o.withRetryer)
	if err != nil {
		return classify(fmt.Errorf("send task failure %s: %w", errorName, err))
	}
	return nil
}

// SendTaskHeartbeat implements orchestrator.Orchestrator.
func (o *Orchestrator) SendTaskHeartbeat(ctx context.Context, token string) error {
	_, err := o.client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)}, o.withRetryer)
	if err != nil {
		return classify(fmt.Errorf("send task heartbeat: %w", err))
	}
	return nil
}

// StopExecution implements orchestrator.Orchestrator.
func (o *Orchestrator) StopExecution(ctx context.Context, executionArn, errorName, cause string) error {
	_, err := o.client.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: aws.String(executionArn), Error: aws.String(errorName), Cause: aws.String(cause),
	}, o.withRetryer)
	if err != nil {
		return classify(fmt.Errorf("stop execution %s: %w", executionArn, err))
	}
	return nil
}

// DescribeExecution implements orchestrator.Orchestrator.
func (o *Orchestrator) DescribeExecution(ctx context.Context, executionArn string) (orchestrator.Execution, error) {
	out, err := o.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionArn)}, o.withRetryer)
	if err != nil {
		return orchestrator.Execution{}, classify(fmt.Errorf("describe execution %s: %w", executionArn, err))
	}
	x := orchestrator.Execution{
		ExecutionArn:    aws.ToString(out.ExecutionArn),
		StateMachineArn: aws.ToString(out.StateMachineArn),
		Name:            aws.ToString(out.Name),
		Status:          orchestrator.Status(out.Status),
		Error:           aws.ToString(out.Error),
		Cause:           aws.ToString(out.Cause),
		StartDate:       aws.ToTime(out.StartDate),
		StopDate:        aws.ToTime(out.StopDate),
	}
	if out.Input != nil {
		x.Input = json.RawMessage(*out.Input)
	}
	if out.Output != nil && x.Status == orchestrator.StatusSucceeded {
		x.Output = json.RawMessage(*out.Output)
	}
	return x, nil
}

// sentinels maps the API's exception names to the port's errors.
var sentinels = func() map[string]*orchestrator.Error {
	m := make(map[string]*orchestrator.Error, len(orchestrator.Sentinels))
	for _, s := range orchestrator.Sentinels {
		m[s.Code] = s
	}
	return m
}()

// classify makes err match the port's sentinel for its API error code.
func classify(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if s, ok := sentinels[apiErr.ErrorCode()]; ok {
			return orchestrator.Wrap(s, err)
		}
	}
	return err
}
