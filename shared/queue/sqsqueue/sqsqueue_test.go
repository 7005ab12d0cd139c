package sqsqueue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	"github.com/orbit-ci/orbit/shared/testenv/awsthrottle"
)

// client returns an SQS client for ORBIT_SQS_ENDPOINT (moto_server in CI),
// or skips the test.
func client(t *testing.T) *sqs.Client {
	t.Helper()
	return sqs.NewFromConfig(testenv.AWS(t, "ORBIT_SQS_ENDPOINT"))
}

func TestConformance(t *testing.T) {
	conformance(t, client(t))
}

// throttles is how many attempts of every call the throttling front
// refuses: more than the SDK's default retries (2), within MinAttempts,
// and few enough that the suite's deadlines hold while moto serves the
// other packages' tests too.
const throttles = 3

// TestConformanceThrottled runs the suite with the first 3 attempts of
// every request throttled (RequestThrottled, ThrottlingException): each
// call is retried with backoff until it passes, and the suite's contract
// (nothing lost, no message delivered outside it) still holds.
func TestConformanceThrottled(t *testing.T) {
	c, front := throttledClient(t)
	t.Run("suite", func(t *testing.T) { conformance(t, c) }) // returns once its parallel tests are done
	throttled := front.Throttled()
	for _, op := range portOps {
		assert.Positive(t, throttled[op], "%s was throttled and retried", op)
	}
}

// portOps are the SQS operations behind the queue port (the suite's
// CreateQueue and DeleteQueue are set-up, not throttled).
var portOps = []string{"SQS.SendMessage", "SQS.ReceiveMessage", "SQS.ChangeMessageVisibility",
	"SQS.DeleteMessage", "SQS.GetQueueAttributes"}

// throttledClient returns a client whose requests pass a throttling front
// before moto.
func throttledClient(t *testing.T) (*sqs.Client, *awsthrottle.Front) {
	t.Helper()
	cfg := testenv.AWS(t, "ORBIT_SQS_ENDPOINT")
	front, err := awsthrottle.New(*cfg.BaseEndpoint, throttles, portOps...)
	require.NoError(t, err)
	t.Cleanup(front.Close)
	return sqs.NewFromConfig(front.Config(cfg)), front
}

// TestThrottledSendsAreNotLostOrDuplicated: every send and delete is
// throttled 3 times; each message arrives exactly once.
func TestThrottledSendsAreNotLostOrDuplicated(t *testing.T) {
	c, front := throttledClient(t)
	ctx := t.Context()
	name := "orbit-throttled-" + strings.ToLower(rand.Text()[:10])
	url, err := sqsqueue.CreateQueue(ctx, c, name, sqsqueue.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}) })
	q, err := sqsqueue.New(c, url, sqsqueue.Config{})
	require.NoError(t, err)
	const n = 20
	for i := range n {
		_, err := q.Send(ctx, []byte(fmt.Sprint("m", i)), queue.SendOptions{})
		require.NoError(t, err)
	}
	seen := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: time.Second, Visibility: time.Minute})
		require.NoError(t, err)
		for _, m := range msgs {
			seen[string(m.Body)]++
			require.NoError(t, q.Delete(ctx, m.Receipt))
		}
	}
	require.Len(t, seen, n, "every message arrived")
	for body, count := range seen {
		assert.Equal(t, 1, count, "%s arrived once", body)
	}
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: time.Second})
	require.NoError(t, err)
	assert.Empty(t, msgs, "no copy is left")
	assert.Equal(t, n*throttles, front.Throttled()["SQS.SendMessage"])
	assert.Equal(t, n, front.Passed()["SQS.SendMessage"], "each send reached SQS once")
}

// TestThrottlingBeyondTheRetriesSurfaces: a request still throttled after
// MinAttempts fails with SQS's typed throttling error.
func TestThrottlingBeyondTheRetriesSurfaces(t *testing.T) {
	cfg := testenv.AWS(t, "ORBIT_SQS_ENDPOINT")
	front, err := awsthrottle.New(*cfg.BaseEndpoint, sqsqueue.MinAttempts, portOps...)
	require.NoError(t, err)
	t.Cleanup(front.Close)
	q, err := sqsqueue.New(sqs.NewFromConfig(front.Config(cfg)), *cfg.BaseEndpoint+"/123456789012/none", sqsqueue.Config{})
	require.NoError(t, err)
	_, err = q.Send(t.Context(), []byte("x"), queue.SendOptions{})
	var throttled *types.RequestThrottled
	var generic smithy.APIError
	require.Error(t, err)
	if !errors.As(err, &throttled) {
		require.ErrorAs(t, err, &generic)
		assert.Contains(t, []string{"RequestThrottled", "ThrottlingException"}, generic.ErrorCode())
	}
	assert.Equal(t, sqsqueue.MinAttempts, front.Throttled()["SQS.SendMessage"], "MinAttempts attempts, then the error")
	assert.Zero(t, front.Passed()["SQS.SendMessage"])
}

// conformance runs the queue suite on queues made through c.
func conformance(t *testing.T, c *sqs.Client) {
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
