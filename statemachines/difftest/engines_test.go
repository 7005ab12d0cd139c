package difftest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/orbit-ci/orbit/statemachines/local"
	"github.com/orbit-ci/orbit/statemachines/local/localtest"
)

// testCase is one execution to run in both engines: a definition, an input
// and, for definitions with SQS .waitForTaskToken tasks, how the test
// answers each task's message (a JSON object with a task_token field).
type testCase struct {
	name       string
	definition []byte // "${Queue}" stands for the task queue's URL
	input      string
	// answers returns a fresh answerFunc for one run of the case; nil: the
	// definition has no task.
	answers func() answerFunc
	// realClock runs statemachines/local on the wall clock instead of a
	// fake one that fires every timer at once: for cases whose tasks must
	// be answered before a timeout fires.
	realClock bool
	// localOnly skips the run in moto (a known moto deviation whose result
	// is not even stable).
	localOnly bool
}

// answerFunc answers the n-th message (from 1) of a case's tasks. body is
// the message without its task_token.
type answerFunc func(n int, body map[string]any) reply

// reply is the test's answer to a task: SendTaskSuccess with output,
// SendTaskFailure with error and cause, or nothing at all.
type reply struct {
	output  any
	err     string
	cause   string
	silence bool
}

func success(output any) reply        { return reply{output: output} }
func failure(err, cause string) reply { return reply{err: err, cause: cause} }

// outcome is how an execution ended, and the task messages it sent.
type outcome struct {
	Status   string
	Output   json.RawMessage
	Error    string
	Cause    string
	Messages []map[string]any // bodies without task_token, in order
}

func (o outcome) String() string {
	if o.Status == local.StatusSucceeded {
		return fmt.Sprintf("%s %s", o.Status, o.Output)
	}
	return fmt.Sprintf("%s error=%q cause=%q", o.Status, o.Error, o.Cause)
}

// caseTimeout bounds one execution in either engine.
const caseTimeout = 30 * time.Second

// queueName is the SQS queue the local engine's tasks send to.
const queueName = "orbit-difftest"

var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// runLocal runs c in a fresh statemachines/local engine.
func runLocal(ctx context.Context, c testCase) (outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, caseTimeout)
	defer cancel()
	cfg := local.Config{Clock: local.RealClock{}}
	if !c.realClock {
		clock := localtest.NewClock(epoch)
		cfg.Clock = clock
		go func() { // fire every timer as soon as one is pending
			for clock.BlockUntil(ctx, 1) == nil {
				clock.AdvanceToNext()
			}
		}()
	}
	e, err := local.New(cfg)
	if err != nil {
		return outcome{}, err
	}
	defer e.Close()
	msgs := make(chan []byte, 16)
	answer := c.newAnswer()
	e.RegisterQueue(queueName, senderFunc(func(ctx context.Context, body []byte) error {
		select {
		case msgs <- body:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))
	def := bytes.ReplaceAll(c.definition, []byte("${Queue}"), []byte(queueName))
	arn, err := e.Define("difftest", def, nil)
	if err != nil {
		return outcome{}, err
	}
	x, err := e.StartExecution(ctx, arn, "difftest", json.RawMessage(c.input))
	if err != nil {
		return outcome{}, err
	}
	done := make(chan struct{})
	var d local.Execution
	var werr error
	go func() { d, werr = e.WaitExecution(ctx, x); close(done) }()
	var o outcome
	for {
		select {
		case body := <-msgs:
			token, m, err := c.message(body, len(o.Messages)+1)
			if err != nil {
				return o, err
			}
			o.Messages = append(o.Messages, m)
			r := answer(len(o.Messages), m)
			switch {
			case r.silence:
			case r.err != "":
				err = e.SendTaskFailure(ctx, token, r.err, r.cause)
			default:
				err = e.SendTaskSuccess(ctx, token, mustJSON(r.output))
			}
			if err != nil {
				return o, fmt.Errorf("answer message %d: %w", len(o.Messages), err)
			}
		case <-done:
			if werr != nil {
				return o, fmt.Errorf("wait for the execution (%s): %w", d.Status, werr)
			}
			o.Status, o.Output, o.Error, o.Cause = d.Status, d.Output, d.Error, d.Cause
			return o, nil
		}
	}
}

type senderFunc func(ctx context.Context, body []byte) error

func (f senderFunc) Send(ctx context.Context, body []byte) error { return f(ctx, body) }

func (c testCase) newAnswer() answerFunc {
	if c.answers == nil {
		return nil
	}
	return c.answers()
}

// message decodes a task message: its task_token and the rest.
func (c testCase) message(body []byte, n int) (string, map[string]any, error) {
	if c.answers == nil {
		return "", nil, fmt.Errorf("message %d, but the case has no tasks: %s", n, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return "", nil, fmt.Errorf("message %d: %w: %s", n, err, body)
	}
	token, _ := m["task_token"].(string)
	if token == "" {
		return "", nil, fmt.Errorf("message %d has no task_token: %s", n, body)
	}
	delete(m, "task_token")
	return token, m, nil
}

func mustJSON(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// moto is moto_server's Step Functions engine, with SQS for task messages.
type moto struct {
	sfn  *sfn.Client
	sqs  *sqs.Client
	run  string // random, so names stay fresh on a long-lived server
	base int64  // random first account number
	seq  atomic.Int64
}

// motoRegion is the region of the test's machines and queues.
const motoRegion = "us-east-1"

// newMoto returns the moto engine at ORBIT_MOTO_ENDPOINT with ASL execution
// switched on. Without ORBIT_MOTO_ENDPOINT it returns nil, and the test runs
// statemachines/local alone and then skips (see skipWithoutMoto); in CI (CI
// set: make test started moto_server) it fails instead.
func newMoto(t *testing.T) *moto {
	t.Helper()
	endpoint := os.Getenv("ORBIT_MOTO_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("ORBIT_MOTO_ENDPOINT is not set in CI: make test must start moto_server")
		}
		return nil
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	req, err := http.NewRequest(http.MethodPost, endpoint+"/moto-api/config",
		strings.NewReader(`{"stepfunctions":{"execute_state_machine":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("configure moto: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("configure moto: %s: %s", resp.Status, body)
	}
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &moto{
		sfn:  sfn.New(sfn.Options{Region: motoRegion, BaseEndpoint: aws.String(endpoint), Credentials: creds}),
		sqs:  sqs.New(sqs.Options{Region: motoRegion, BaseEndpoint: aws.String(endpoint), Credentials: creds}),
		run:  hex.EncodeToString(b[:]),
		base: 100_000_000_000 + int64(binary.BigEndian.Uint32(b[:]))*100,
	}
}

// skipWithoutMoto ends a test whose comparisons with moto could not run.
func skipWithoutMoto(t *testing.T, m *moto) {
	t.Helper()
	if m == nil {
		t.Skip("ORBIT_MOTO_ENDPOINT not set: statemachines/local was checked, the comparison with moto skipped; " +
			"start moto_server (make test does), e.g. moto_server -H 127.0.0.1 -p 5311 & " +
			"ORBIT_MOTO_ENDPOINT=http://127.0.0.1:5311")
	}
}

// account returns the option that sends a Step Functions call to the given
// moto account (moto's x-moto-account-id header).
//
// Each case runs in an account of its own because moto 5.2.1 deep-copies
// the whole regional backend (every state machine and execution of the
// account+region) on StartExecution, and a finished execution cannot be
// copied: once one has finished, every StartExecution in that account and
// region fails with HTTP 500 (TypeError: cannot pickle '_thread.RLock').
// Accounts, unlike regions, can be made up (moto refuses unknown regions
// unless MOTO_ALLOW_NONEXISTENT_REGION is set). Queues stay in moto's
// default account, where its engine sends task messages.
func account(id string) func(*sfn.Options) {
	return func(o *sfn.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("x-moto-account-id", id))
	}
}

// runCase runs c in moto: create the machine (and the task queue) in a
// fresh account, start one execution, answer its task messages, poll until
// it ends, delete the machine and the queue.
func (m *moto) runCase(ctx context.Context, c testCase) (o outcome, err error) {
	ctx, cancel := context.WithTimeout(ctx, caseTimeout)
	defer cancel()
	n := m.seq.Add(1)
	name := fmt.Sprintf("orbit-difftest-%s-%d", m.run, n)
	acctID := fmt.Sprintf("%012d", m.base+n)
	acct := account(acctID)
	def := c.definition
	var queueURL string
	answer := c.newAnswer()
	if c.answers != nil {
		q, err := m.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			return o, fmt.Errorf("create queue: %w", err)
		}
		queueURL = aws.ToString(q.QueueUrl)
		defer func() {
			_, derr := m.sqs.DeleteQueue(context.WithoutCancel(ctx), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
			err = errors.Join(err, derr)
		}()
		def = bytes.ReplaceAll(def, []byte("${Queue}"), []byte(queueURL))
	}
	sm, err := m.sfn.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(name),
		Definition: aws.String(string(def)),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/orbit-difftest"),
		Type:       sfntypes.StateMachineTypeStandard,
	}, acct)
	if err != nil {
		return o, fmt.Errorf("create state machine: %w", err)
	}
	defer func() {
		_, derr := m.sfn.DeleteStateMachine(context.WithoutCancel(ctx), &sfn.DeleteStateMachineInput{StateMachineArn: sm.StateMachineArn}, acct)
		err = errors.Join(err, derr)
	}()
	x, err := m.sfn.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: sm.StateMachineArn,
		Name:            aws.String("difftest"),
		Input:           aws.String(c.input),
	}, acct)
	if err != nil {
		return o, fmt.Errorf("start execution: %w", err)
	}
	// Poll gently: moto_server is one Python process that make test shares
	// between packages. A case with a queue long-polls it (answering each
	// message as soon as it arrives), the others sleep between describes.
	for {
		d, err := m.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn}, acct)
		if err != nil {
			return o, fmt.Errorf("describe execution: %w", err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			o.Status = string(d.Status)
			o.Output = json.RawMessage(aws.ToString(d.Output))
			o.Error, o.Cause = aws.ToString(d.Error), aws.ToString(d.Cause)
			return o, nil
		}
		if queueURL != "" {
			if err := m.answer(ctx, c, answer, acctID, queueURL, &o); err != nil {
				return o, err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return o, fmt.Errorf("execution still %s: %w", d.Status, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// answer receives the task messages in the case's queue, waiting up to a
// second for one, and answers them.
func (m *moto) answer(ctx context.Context, c testCase, answer answerFunc, acctID, queueURL string, o *outcome) error {
	r, err := m.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL),
		MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	for _, msg := range r.Messages {
		if _, err := m.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: msg.ReceiptHandle}); err != nil {
			return fmt.Errorf("delete message: %w", err)
		}
		token, body, err := c.message([]byte(aws.ToString(msg.Body)), len(o.Messages)+1)
		if err != nil {
			return err
		}
		o.Messages = append(o.Messages, body)
		rep := answer(len(o.Messages), body)
		acct := account(acctID)
		switch {
		case rep.silence:
		case rep.err != "":
			_, err = m.sfn.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String(rep.err), Cause: aws.String(rep.cause)}, acct)
		default:
			_, err = m.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(mustJSON(rep.output)))}, acct)
		}
		if err != nil {
			return fmt.Errorf("answer message %d: %w", len(o.Messages), err)
		}
	}
	return nil
}

// result is a case's outcome in each engine.
type result struct {
	local, moto       outcome
	localErr, motoErr error
}

// runAll runs every case in both engines (local and moto side by side), at
// most limit cases at a time, and returns the results by case name. The
// callers assert afterwards, in subtests, so that the wall time does not
// depend on go test's -parallel.
func runAll(ctx context.Context, m *moto, cases []testCase, limit int) map[string]*result {
	out := make(map[string]*result, len(cases))
	for _, c := range cases {
		out[c.name] = &result{}
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, c := range cases {
		r := out[c.name]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var inner sync.WaitGroup
			inner.Go(func() { r.local, r.localErr = runLocal(ctx, c) })
			if m != nil && !c.localOnly {
				r.moto, r.motoErr = m.runCase(ctx, c)
			}
			inner.Wait()
		})
	}
	wg.Wait()
	return out
}
