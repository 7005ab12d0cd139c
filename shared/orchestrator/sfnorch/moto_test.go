package sfnorch_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/orchestrator/orchestratortest"
	"github.com/orbit-ci/orbit/shared/orchestrator/sfnorch"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// The Step Functions driver against moto_server's ASL engine.
//
// Each harness works in an AWS account of its own (moto's
// x-moto-account-id header), and each machine runs one execution that
// finishes: moto 5.2.1 deep-copies a machine with its executions on
// StartExecution and cannot copy a finished one, so after one has
// finished every new start on that machine fails with HTTP 500. Task
// queues stay in moto's default account, where its engine sends task
// messages.
func TestConformanceOnMoto(t *testing.T) {
	endpoint := testenv.Need(t, "ORBIT_MOTO_ENDPOINT", "start moto_server (make test does)")
	cfg := testenv.AWS(t, "ORBIT_MOTO_ENDPOINT")
	enableExecution(t, endpoint)
	sqsClient := sqs.NewFromConfig(cfg)
	orchestratortest.Run(t, func(t *testing.T) orchestratortest.Harness {
		account := freshAccount()
		client := sfn.NewFromConfig(cfg, func(o *sfn.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("x-moto-account-id", account))
		})
		o, err := sfnorch.New(sfnorch.Config{Region: cfg.Region, Account: account}, client)
		require.NoError(t, err)
		ctx := context.WithoutCancel(t.Context())
		q, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orbit-orch-" + suffix())})
		require.NoError(t, err)
		t.Cleanup(func() {
			_, err := sqsClient.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
			require.NoError(t, err)
		})
		tasks := &taskQueue{sqs: sqsClient, url: aws.ToString(q.QueueUrl)}
		return orchestratortest.Harness{
			Orchestrator: o,
			Define: func(t *testing.T, definition string) string {
				name := "orbit-suite-" + suffix()
				sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
					Name:       aws.String(name),
					Definition: aws.String(strings.ReplaceAll(definition, "${TaskQueue}", tasks.url)),
					RoleArn:    aws.String("arn:aws:iam::" + account + ":role/orbit-suite"),
					Type:       sfntypes.StateMachineTypeStandard,
				})
				require.NoError(t, err)
				t.Cleanup(func() {
					_, err := client.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: sm.StateMachineArn})
					require.NoError(t, err)
				})
				require.Equal(t, aws.ToString(sm.StateMachineArn), o.StateMachineArn(name), "StateMachineArn names the machine")
				return aws.ToString(sm.StateMachineArn)
			},
			NextTask: tasks.next,
			// moto 5.2.1's departures from AWS, read in its source
			// (moto/stepfunctions/parser/models.py, responses.py) and seen here.
			Deviations: orchestratortest.Deviations{
				ClosedTokens:              true,
				DroppedCauses:             true,
				NoNameCheck:               true,
				HeartbeatTimeoutAsTimeout: true,
				NoTaskRetry:               true,
				RacyStarts:                true,
				StopWaitsForTask:          true,
			},
		}
	})
}

var (
	enableOnce sync.Once
	enableErr  error
)

// enableExecution switches on moto's ASL engine (once per process).
func enableExecution(t *testing.T, endpoint string) {
	t.Helper()
	enableOnce.Do(func() {
		resp, err := http.Post(strings.TrimSuffix(endpoint, "/")+"/moto-api/config", "application/json",
			strings.NewReader(`{"stepfunctions":{"execute_state_machine":true}}`))
		if err != nil {
			enableErr = err
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			enableErr = fmt.Errorf("%s: %s", resp.Status, body)
		}
	})
	require.NoError(t, enableErr, "configure moto to execute state machines")
}

func suffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// freshAccount returns a random 12-digit account id (never moto's default).
func freshAccount() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%012d", 200_000_000_000+binary.BigEndian.Uint64(b[:])%700_000_000_000)
}

// taskQueue reads the suite's task messages from an SQS queue.
type taskQueue struct {
	sqs     *sqs.Client
	url     string
	mu      sync.Mutex
	pending []string
}

// next returns the next message, long-polling a second at a time (moto
// answers a long poll as soon as a message arrives).
func (q *taskQueue) next(ctx context.Context) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.pending) == 0 {
		out, err := q.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		})
		if err != nil {
			return nil, err
		}
		for _, m := range out.Messages {
			if _, err := q.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return nil, err
			}
			q.pending = append(q.pending, aws.ToString(m.Body))
		}
		if err := ctx.Err(); err != nil && len(q.pending) == 0 {
			return nil, err
		}
	}
	body := q.pending[0]
	q.pending = q.pending[1:]
	return []byte(body), nil
}
