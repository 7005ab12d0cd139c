package sqsqueue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/queue/queuetest"
	"github.com/orbit-ci/orbit/shared/queue/sqsqueue"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// client returns an SQS client for ORBIT_SQS_ENDPOINT (moto_server in CI),
// or skips the test.
func client(t *testing.T) *sqs.Client {
	t.Helper()
	return sqs.NewFromConfig(testenv.AWS(t, "ORBIT_SQS_ENDPOINT"))
}

func TestConformance(t *testing.T) {
	c := client(t)
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	run := hex.EncodeToString(b[:]) // fresh names even against a long-lived server
	var seq atomic.Int64

	queuetest.Run(t, func(t *testing.T, cfg queuetest.Config) queue.Queue {
		ctx := context.Background()
		opts := sqsqueue.CreateOptions{Visibility: cfg.Visibility, MaxReceives: cfg.MaxReceives}
		if cfg.DeadLetter != nil {
			dlq, ok := cfg.DeadLetter.(*sqsqueue.Queue)
			require.True(t, ok, "dead-letter queue is a %T", cfg.DeadLetter)
			opts.DeadLetterURL = dlq.URL()
		}
		name := fmt.Sprintf("orbit-test-%s-%d", run, seq.Add(1))
		url, err := sqsqueue.CreateQueue(ctx, c, name, opts)
		require.NoError(t, err)
		t.Cleanup(func() {
			_, err := c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
			assert.NoError(t, err, "delete queue %s", name)
		})
		q, err := sqsqueue.New(c, url, sqsqueue.Config{})
		require.NoError(t, err)
		return q
	})
}

// fakeAPI answers every call with err.
type fakeAPI struct{ err error }

func (f fakeAPI) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, f.err
}

func (f fakeAPI) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return nil, f.err
}

func (f fakeAPI) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return nil, f.err
}

func (f fakeAPI) DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return nil, f.err
}

func (f fakeAPI) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return nil, f.err
}

// TestReceiptErrors pins the mapping of SQS's answers to ErrReceiptInvalid,
// including the ones moto never gives.
func TestReceiptErrors(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		invalid bool
	}{
		{name: "ReceiptHandleIsInvalid", err: &types.ReceiptHandleIsInvalid{Message: aws.String("bad")}, invalid: true},
		{name: "MessageNotInflight", err: &types.MessageNotInflight{Message: aws.String("not in flight")}, invalid: true},
		{
			name: "InvalidParameterValue about the receipt handle",
			err: &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "Value x for parameter ReceiptHandle is invalid. " +
				"Reason: Message does not exist or is not available for visibility timeout change."},
			invalid: true,
		},
		{name: "other InvalidParameterValue", err: &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "VisibilityTimeout"}},
		{name: "throttled", err: &types.RequestThrottled{Message: aws.String("slow down")}},
		{name: "network", err: errors.New("connection reset")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := sqsqueue.New(fakeAPI{err: tc.err}, "http://sqs.invalid/1/q", sqsqueue.Config{})
			require.NoError(t, err)
			for op, err := range map[string]error{
				"extend": q.Extend(t.Context(), "r", 0),
				"delete": q.Delete(t.Context(), "r"),
			} {
				require.Error(t, err, op)
				assert.Equal(t, tc.invalid, errors.Is(err, queue.ErrReceiptInvalid), op)
				assert.ErrorIs(t, err, tc.err, "%s keeps the SDK error", op)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := sqsqueue.New(nil, "http://sqs.invalid/1/q", sqsqueue.Config{})
	assert.Error(t, err, "nil client")
	_, err = sqsqueue.New(fakeAPI{}, "", sqsqueue.Config{})
	assert.Error(t, err, "empty URL")
	_, err = sqsqueue.New(fakeAPI{}, "http://sqs.invalid/1/q", sqsqueue.Config{Visibility: -1})
	assert.Error(t, err, "negative visibility")
}
