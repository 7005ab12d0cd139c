// Package sqsqueue is the AWS driver of the queue port: one SQS standard
// queue, spoken to with the JSON protocol of aws-sdk-go-v2.
//
// The queue's dead-letter queue and MaxReceives are its redrive policy, set
// where the queue is created (CDK in AWS, CreateQueue in tests). SQS counts in
// whole seconds, so delays, waits and visibility timeouts are rounded up.
// The SDK cannot send a zero WaitTimeSeconds or DelaySeconds (it omits zero
// values), so Wait 0 and Delay 0 take the queue's ReceiveMessageWaitTimeSeconds
// and DelaySeconds attributes: both must stay 0 (their default) for the port's
// contract to hold.
//
// SQS keeps older receipt handles of a message usable, so a stale receipt is
// not refused here (see the queue package's contract).
package sqsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/queue/internal/sqsrules"
)

var _ queue.Queue = (*Queue)(nil)

// API is the part of *sqs.Client the driver uses; the methods are copied from
// the SDK so that *sqs.Client satisfies it as is.
type API interface {
	SendMessage(ctx context.Context, params *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ReceiveMessage(ctx context.Context, params *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	DeleteMessage(ctx context.Context, params *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ API = (*sqs.Client)(nil)

// Config configures the driver.
type Config struct {
	// Visibility, when > 0, is the visibility timeout of every receive that
	// sets none; 0 leaves the queue's VisibilityTimeout attribute in force.
	Visibility time.Duration
}

// Queue is one SQS queue. It is safe for concurrent use.
type Queue struct {
	client     API
	url        string
	visibility time.Duration
}

// New returns the driver for the queue at queueURL.
func New(client API, queueURL string, cfg Config) (*Queue, error) {
	if client == nil {
		return nil, errors.New("sqsqueue: nil client")
	}
	if queueURL == "" {
		return nil, errors.New("sqsqueue: empty queue URL")
	}
	if err := sqsrules.CheckVisibility(cfg.Visibility); err != nil {
		return nil, fmt.Errorf("sqsqueue %s: %w", queueURL, err)
	}
	return &Queue{client: client, url: queueURL, visibility: cfg.Visibility}, nil
}

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// Send implements queue.Queue.
func (q *Queue) Send(ctx context.Context, body []byte, opts queue.SendOptions) (string, error) {
	if err := sqsrules.CheckBody(body); err != nil {
		return "", fmt.Errorf("send to %s: %w", q.url, err)
	}
	if err := sqsrules.CheckDelay(opts.Delay); err != nil {
		return "", fmt.Errorf("send to %s: %w", q.url, err)
	}
	out, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(q.url),
		MessageBody:  aws.String(string(body)),
		DelaySeconds: sqsrules.Seconds(opts.Delay),
	}, retries)
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", q.url, err)
	}
	return aws.ToString(out.MessageId), nil
}

// Receive implements queue.Queue.
func (q *Queue) Receive(ctx context.Context, opts queue.ReceiveOptions) ([]queue.Message, error) {
	vis := q.visibility
	if opts.Visibility > 0 {
		if err := sqsrules.CheckVisibility(opts.Visibility); err != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.url, err)
		}
		vis = opts.Visibility
	}
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(q.url),
		MaxNumberOfMessages: int32(sqsrules.Batch(opts.Max)),
		WaitTimeSeconds:     sqsrules.Seconds(sqsrules.Wait(opts.Wait)),
		VisibilityTimeout:   sqsrules.Seconds(vis),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
		},
	}, retries)
	if err != nil {
		if ctx.Err() != nil {
			// The SDK's error wraps the cancellation; say so plainly.
			return nil, fmt.Errorf("receive from %s: %w", q.url, errors.Join(ctx.Err(), err))
		}
		return nil, fmt.Errorf("receive from %s: %w", q.url, err)
	}
	msgs := make([]queue.Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg, err := convert(m)
		if err != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.url, err)
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

func convert(m types.Message) (queue.Message, error) {
	id := aws.ToString(m.MessageId)
	count, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil {
		return queue.Message{}, fmt.Errorf("message %s: ApproximateReceiveCount: %w", id, err)
	}
	sentMillis, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64)
	if err != nil {
		return queue.Message{}, fmt.Errorf("message %s: SentTimestamp: %w", id, err)
	}
	return queue.Message{
		ID:           id,
		Body:         []byte(aws.ToString(m.Body)),
		Receipt:      aws.ToString(m.ReceiptHandle),
		ReceiveCount: count,
		SentAt:       time.UnixMilli(sentMillis),
	}, nil
}

// MinAttempts is the least number of attempts the driver gives a request.
// Throttling (RequestThrottled, ThrottlingException) and 5xx answers are
// retried by the client's retryer: the SDK's standard one unless the
// composition chose another, with exponential backoff and full jitter (a
// 1 s base for throttles, capped at 20 s) and its retry quota. The SDK's
// default of 3 attempts gives up within seconds of a burst; 8 ride out
// about a minute. A throttled request was not applied. A retried send whose
// first attempt was applied and whose answer was lost sends a second copy,
// as SQS standard queues may do anyway: the queue port delivers at least
// once, and every consumer is idempotent. A retried delete or visibility
// change is idempotent.
const MinAttempts = 8

// retries raises the request's attempts to MinAttempts (a retryer with no
// limit, MaxAttempts 0, stays as it is).
func retries(o *sqs.Options) {
	if o.Retryer == nil {
		return
	}
	if n := o.Retryer.MaxAttempts(); n > 0 && n < MinAttempts {
		o.Retryer = retry.AddWithMaxAttempts(o.Retryer, MinAttempts)
	}
}

// Extend implements queue.Queue.
func (q *Queue) Extend(ctx context.Context, receipt string, d time.Duration) error {
	if err := sqsrules.CheckVisibility(d); err != nil {
		return fmt.Errorf("extend in %s: %w", q.url, err)
	}
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(q.url),
		ReceiptHandle:     aws.String(receipt),
		VisibilityTimeout: sqsrules.Seconds(d),
	}, retries)
	if err != nil {
		return fmt.Errorf("extend in %s: %w", q.url, receiptError(err))
	}
	return nil
}

// Delete implements queue.Queue.
func (q *Queue) Delete(ctx context.Context, receipt string) error {
	_, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{
		QueueUrl:      aws.String(q.url),
		ReceiptHandle: aws.String(receipt),
	}, retries)
	if err != nil {
		return fmt.Errorf("delete from %s: %w", q.url, receiptError(err))
	}
	return nil
}

// Stats implements queue.Queue with SQS's approximate counts.
func (q *Queue) Stats(ctx context.Context) (queue.Stats, error) {
	names := []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(q.url),
		AttributeNames: names,
	}, retries)
	if err != nil {
		return queue.Stats{}, fmt.Errorf("stats of %s: %w", q.url, err)
	}
	var counts [3]int
	for i, name := range names {
		v, ok := out.Attributes[string(name)]
		if !ok {
			continue // SQS leaves out what it does not know; count 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return queue.Stats{}, fmt.Errorf("stats of %s: %s: %w", q.url, name, err)
		}
		counts[i] = n
	}
	return queue.Stats{Visible: counts[0], InFlight: counts[1], Delayed: counts[2]}, nil
}

// receiptError maps SQS's answers to a receipt that names no message in
// flight to queue.ErrReceiptInvalid, keeping the SDK error in the chain.
func receiptError(err error) error {
	var invalid *types.ReceiptHandleIsInvalid
	var notInFlight *types.MessageNotInflight
	if errors.As(err, &invalid) || errors.As(err, &notInFlight) {
		return errors.Join(queue.ErrReceiptInvalid, err)
	}
	// SQS answers ChangeMessageVisibility on a deleted message with a bare
	// InvalidParameterValue about the ReceiptHandle parameter: it has no code
	// of its own, so the parameter name in the message is all there is. The
	// other InvalidParameterValue causes (visibility out of range) are
	// checked before the call.
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvalidParameterValue" &&
		strings.Contains(apiErr.ErrorMessage(), "ReceiptHandle") {
		return errors.Join(queue.ErrReceiptInvalid, err)
	}
	return err
}

// CreateAPI is the part of *sqs.Client that CreateQueue uses.
type CreateAPI interface {
	CreateQueue(ctx context.Context, params *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ CreateAPI = (*sqs.Client)(nil)

// CreateOptions tune CreateQueue.
type CreateOptions struct {
	// Visibility is the queue's VisibilityTimeout attribute, rounded up to
	// whole seconds; 0 keeps SQS's default (30 s).
	Visibility time.Duration
	// DeadLetterURL is the URL of an existing queue to use as dead-letter
	// queue; "" means none.
	DeadLetterURL string
	// MaxReceives is the redrive policy's maxReceiveCount (1..1000); required
	// with DeadLetterURL.
	MaxReceives int
}

// CreateQueue creates the standard queue name (or returns the URL of the
// existing one with the same attributes) and returns its URL. Orbit's queues
// are created by the CDK stack in AWS; this is for tests and local setups.
func CreateQueue(ctx context.Context, client CreateAPI, name string, opts CreateOptions) (string, error) {
	attrs := map[string]string{}
	if opts.Visibility > 0 {
		if err := sqsrules.CheckVisibility(opts.Visibility); err != nil {
			return "", fmt.Errorf("create queue %s: %w", name, err)
		}
		attrs[string(types.QueueAttributeNameVisibilityTimeout)] = strconv.Itoa(int(sqsrules.Seconds(opts.Visibility)))
	}
	switch {
	case opts.DeadLetterURL != "" && (opts.MaxReceives < 1 || opts.MaxReceives > 1000):
		return "", fmt.Errorf("create queue %s: MaxReceives %d is outside 1..1000", name, opts.MaxReceives)
	case opts.DeadLetterURL == "" && opts.MaxReceives != 0:
		return "", fmt.Errorf("create queue %s: MaxReceives needs DeadLetterURL", name)
	case opts.DeadLetterURL != "":
		arn, err := queueARN(ctx, client, opts.DeadLetterURL)
		if err != nil {
			return "", fmt.Errorf("create queue %s: %w", name, err)
		}
		policy, err := json.Marshal(struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int    `json:"maxReceiveCount"`
		}{arn, opts.MaxReceives})
		if err != nil {
			return "", fmt.Errorf("create queue %s: redrive policy: %w", name, err)
		}
		attrs[string(types.QueueAttributeNameRedrivePolicy)] = string(policy)
	}
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs}, retries)
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

func queueARN(ctx context.Context, client CreateAPI, url string) (string, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	}, retries)
	if err != nil {
		return "", fmt.Errorf("ARN of %s: %w", url, err)
	}
	arn := out.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", fmt.Errorf("ARN of %s: SQS returned none", url)
	}
	return arn, nil
}
