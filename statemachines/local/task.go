package local

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

type service uint8

const (
	svcLambda service = iota + 1
	svcSQS
	svcStates
)

type pattern uint8

const (
	patRequest pattern = iota // request-response
	patToken                  // .waitForTaskToken
	patSync                   // .sync (startExecution: Output as a string)
	patSync2                  // .sync:2 (startExecution: Output as JSON)
)

// resource is a Task's parsed Resource.
type resource struct {
	service service
	pattern pattern
	direct  bool   // a Lambda function ARN, not lambda:invoke
	target  string // the function, queue or machine when static in Parameters
}

// parseResource recognises the resources the engine runs and checks the
// Parameters each needs.
func parseResource(arn string, params *tmpl) (resource, error) {
	var r resource
	if strings.HasPrefix(arn, "arn:aws:lambda:") {
		parts := strings.Split(arn, ":")
		if len(parts) < 7 || len(parts) > 8 || parts[5] != "function" || parts[6] == "" {
			return r, fmt.Errorf("invalid Lambda function ARN %q", arn)
		}
		return resource{service: svcLambda, direct: true, target: parts[6]}, nil
	}
	api, ok := strings.CutPrefix(arn, "arn:aws:states:::")
	if !ok {
		return r, fmt.Errorf("unsupported resource %q", arn)
	}
	api, suffix, _ := strings.Cut(api, ".")
	switch suffix {
	case "":
	case "waitForTaskToken":
		r.pattern = patToken
	case "sync":
		r.pattern = patSync
	case "sync:2":
		r.pattern = patSync2
	default:
		return r, fmt.Errorf("unsupported integration pattern %q of resource %q", suffix, arn)
	}
	var required []string
	switch api {
	case "lambda:invoke":
		r.service, required = svcLambda, []string{"FunctionName"}
	case "sqs:sendMessage":
		r.service, required = svcSQS, []string{"QueueUrl", "MessageBody"}
	case "states:startExecution":
		r.service, required = svcStates, []string{"StateMachineArn"}
	default:
		return r, fmt.Errorf("unsupported resource %q", arn)
	}
	if (r.pattern == patSync || r.pattern == patSync2) && r.service != svcStates {
		return r, fmt.Errorf("resource %q: .sync is only supported for states:startExecution", arn)
	}
	for _, f := range required {
		if params.fieldTmpl(f) == nil {
			return r, fmt.Errorf("resource %q needs Parameters.%s", arn, f)
		}
	}
	if t := params.fieldTmpl(required[0]); t.kind == tLiteral {
		s, ok := t.lit.(string)
		if !ok || s == "" {
			return r, fmt.Errorf("Parameters.%s must be a string", required[0])
		}
		r.target = s
	}
	if r.pattern == patToken && !params.mentions("$$.Task.Token") {
		return r, fmt.Errorf("resource %q: Parameters must pass $$.Task.Token", arn)
	}
	return r, nil
}

// attempt runs one attempt of a Task, Parallel or Map state, input to output.
func (sr *stateRun) attempt(ctx context.Context) (any, *statesError) {
	st := sr.st
	sr.ctxObj = nil // RetryCount and Task.Token change between attempts
	eff, err := st.InputPath.apply(sr.input, sr.context)
	if err != nil {
		return nil, err
	}
	var result any
	switch st.Type {
	case "Task":
		result, err = sr.task(ctx, eff)
	case "Parallel":
		result, err = sr.parallel(ctx, eff)
	case "Map":
		result, err = sr.mapItems(ctx, eff)
	}
	if err != nil {
		return nil, err
	}
	if st.ResultSelector != nil {
		if result, err = st.ResultSelector.eval(result, sr.context); err != nil {
			return nil, err
		}
	}
	out, err := st.ResultPath.applyResult(sr.input, result)
	if err != nil {
		return nil, err
	}
	return st.OutputPath.apply(out, sr.context)
}

func (sr *stateRun) seconds(fixed int64, path *jpath, eff any, field string) (time.Duration, *statesError) {
	if path == nil {
		return time.Duration(fixed) * time.Second, nil
	}
	v, err := path.mustGet(eff, sr.context)
	if err != nil {
		return 0, err
	}
	n, ok := toInt(v)
	if !ok || n <= 0 {
		return 0, failf(ErrorRuntime, "%s must reference a positive integer, got %s", field, encodeString(v))
	}
	return time.Duration(n) * time.Second, nil
}

type callResult struct {
	v   any
	err *statesError
}

// task invokes the state's resource and, for .waitForTaskToken, waits for
// the answer, enforcing TimeoutSeconds and HeartbeatSeconds.
func (sr *stateRun) task(ctx context.Context, eff any) (any, *statesError) {
	st, x := sr.st, sr.x
	clock := x.e.clock
	timeout, err := sr.seconds(st.TimeoutSeconds, st.TimeoutPath, eff, "TimeoutSecondsPath")
	if err != nil {
		return nil, err
	}
	heartbeat, err := sr.seconds(st.HeartbeatSeconds, st.HeartbeatPath, eff, "HeartbeatSecondsPath")
	if err != nil {
		return nil, err
	}
	var w *waiter
	if st.res.pattern == patToken {
		if sr.token == "" {
			sr.token = x.newToken()
		}
		sr.ctxObj = nil // now with $$.Task.Token
		w = x.e.park(x, sr.token)
		defer x.e.unpark(x, sr.token)
	}
	var timeoutC <-chan time.Time
	if timeout > 0 {
		if sr.timeoutAt.IsZero() {
			sr.timeoutAt = clock.Now().Add(timeout)
		}
		t := clock.NewTimer(sr.timeoutAt.Sub(clock.Now()))
		defer t.Stop()
		timeoutC = t.C()
	}
	// Step Functions reports a task timeout with no cause: the TaskTimedOut
	// event and ExecutionFailed carry only the error, and a Catch gets
	// {"Error": "States.Timeout", "Cause": ""}.
	timedOut := func() *statesError {
		x.addEvent(HistoryEvent{Type: "TaskTimedOut", StateName: st.Name, Resource: st.Resource, Error: ErrorTimeout})
		return &statesError{name: ErrorTimeout}
	}

	if !sr.invoked {
		params := eff
		if st.Parameters != nil {
			if params, err = st.Parameters.eval(eff, sr.context); err != nil {
				return nil, err
			}
		}
		sr.save(ctx)
		x.addEvent(HistoryEvent{Type: "TaskScheduled", StateName: st.Name, Resource: st.Resource, in: lazyJSON{params, true}})
		x.addEvent(HistoryEvent{Type: "TaskStarted", StateName: st.Name, Resource: st.Resource})
		callCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan callResult, 1)
		go func() {
			v, err := sr.call(callCtx, params)
			done <- callResult{v, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				if ctx.Err() != nil {
					return nil, errCancelled
				}
				x.addEvent(HistoryEvent{Type: "TaskFailed", StateName: st.Name, Resource: st.Resource, Error: r.err.name, Cause: r.err.cause})
				return nil, r.err
			}
			if w == nil {
				x.addEvent(HistoryEvent{Type: "TaskSucceeded", StateName: st.Name, Resource: st.Resource, out: lazyJSON{r.v, true}})
				return r.v, nil
			}
		case <-timeoutC:
			return nil, timedOut()
		case <-ctx.Done():
			return nil, errCancelled
		}
		sr.invoked = true
		sr.save(ctx)
		x.addEvent(HistoryEvent{Type: "TaskSubmitted", StateName: st.Name, Resource: st.Resource})
	}

	// Parked on the token. After a resume the heartbeat timer starts afresh:
	// the worker could not reach a dead engine.
	var hbTimer Timer
	var hbC <-chan time.Time
	resetHeartbeat := func() {
		if hbTimer != nil {
			hbTimer.Stop()
		}
		hbTimer = clock.NewTimer(heartbeat)
		hbC = hbTimer.C()
	}
	if heartbeat > 0 {
		resetHeartbeat()
		defer func() { hbTimer.Stop() }()
	}
	for {
		select {
		case m := <-w.ch:
			if m.err != nil {
				x.addEvent(HistoryEvent{Type: "TaskFailed", StateName: st.Name, Resource: st.Resource, Error: m.err.name, Cause: m.err.cause})
				return nil, m.err
			}
			x.addEvent(HistoryEvent{Type: "TaskSucceeded", StateName: st.Name, Resource: st.Resource, out: lazyJSON{m.output, true}})
			return m.output, nil
		case <-w.hb:
			if heartbeat > 0 {
				resetHeartbeat()
			}
		case <-hbC:
			x.addEvent(HistoryEvent{Type: "TaskTimedOut", StateName: st.Name, Resource: st.Resource, Error: ErrorHeartbeatTimeout})
			return nil, &statesError{name: ErrorHeartbeatTimeout} // no cause, as for States.Timeout
		case <-timeoutC:
			return nil, timedOut()
		case <-ctx.Done():
			return nil, errCancelled
		}
	}
}

// call invokes the resource once with the task's parameters.
func (sr *stateRun) call(ctx context.Context, params any) (any, *statesError) {
	res := sr.st.res
	p, _ := params.(map[string]any)
	if !res.direct && p == nil {
		return nil, failf(ErrorRuntime, "the Parameters of %q must be an object", sr.st.Resource)
	}
	switch res.service {
	case svcLambda:
		if res.direct {
			return sr.invokeLambda(ctx, res.target, params)
		}
		fn, _ := p["FunctionName"].(string)
		payload, ok := p["Payload"]
		if !ok {
			payload = map[string]any{}
		}
		out, err := sr.invokeLambda(ctx, fn, payload)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ExecutedVersion": "$LATEST", "Payload": out, "StatusCode": int64(200)}, nil
	case svcSQS:
		return sr.sendMessage(ctx, p)
	case svcStates:
		return sr.startExecution(ctx, p)
	}
	return nil, failf(ErrorRuntime, "unsupported resource %q", sr.st.Resource)
}

func (sr *stateRun) invokeLambda(ctx context.Context, fn string, payload any) (any, *statesError) {
	h := sr.x.e.lambda(fn)
	if h == nil {
		return nil, failf("Lambda.ResourceNotFoundException", "Function not found: %s", fn)
	}
	out, err := h(ctx, encodeJSON(payload))
	if err != nil {
		return nil, asStatesError(err)
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return nil, nil
	}
	v, derr := decodeJSON(out)
	if derr != nil {
		return nil, failf(ErrorTaskFailed, "Lambda function %s returned invalid JSON: %v", fn, derr)
	}
	return v, nil
}

// sendMessage sends MessageBody to the queue QueueUrl. A string body is
// sent as is, anything else as its JSON text, as Step Functions does.
func (sr *stateRun) sendMessage(ctx context.Context, p map[string]any) (any, *statesError) {
	url, _ := p["QueueUrl"].(string)
	s := sr.x.e.queue(url)
	if s == nil {
		return nil, failf("SQS.QueueDoesNotExistException", "The specified queue does not exist: %s", url)
	}
	var body []byte
	if str, ok := p["MessageBody"].(string); ok {
		body = []byte(str)
	} else {
		body = encodeJSON(p["MessageBody"])
	}
	if err := s.Send(ctx, body); err != nil {
		return nil, asStatesError(err)
	}
	sum := md5.Sum(body)
	return map[string]any{"MD5OfMessageBody": hex.EncodeToString(sum[:]), "MessageId": uuid.NewString()}, nil
}

// startExecution starts a nested execution on this engine. Without a Name,
// the child's name derives from the parent's ARN and sequence, so that a
// resumed parent finds the same child instead of starting another.
func (sr *stateRun) startExecution(ctx context.Context, p map[string]any) (any, *statesError) {
	e, x := sr.x.e, sr.x
	machineArn, _ := p["StateMachineArn"].(string)
	name, _ := p["Name"].(string)
	if name == "" {
		name = childName(x, sr)
	}
	var input []byte
	switch in := p["Input"].(type) {
	case nil:
		input = []byte("{}")
	case string:
		input = []byte(in)
	default:
		input = encodeJSON(in)
	}
	arn, err := e.start(ctx, machineArn, name, input, x.arn)
	if errors.Is(err, ErrExecutionAlreadyExists) {
		// A resumed or retried parent may find its child finished already:
		// the same name and input is the same child.
		if m := e.machine(machineArn); m != nil {
			if d, derr := e.DescribeExecution(ctx, e.executionArn(m.name, name)); derr == nil && sameJSON(d.Input, input) {
				arn, err = d.ExecutionArn, nil
			}
		}
	}
	switch {
	case errors.Is(err, ErrExecutionAlreadyExists):
		return nil, failf("StepFunctions.ExecutionAlreadyExistsException", "%v", err)
	case errors.Is(err, ErrStateMachineDoesNotExist):
		return nil, failf("StepFunctions.StateMachineDoesNotExistException", "%v", err)
	case errors.Is(err, ErrInvalidExecutionInput):
		return nil, failf("StepFunctions.InvalidExecutionInputException", "%v", err)
	case err != nil:
		return nil, failf("StepFunctions.StepFunctionsException", "%v", err)
	}
	if sr.st.res.pattern != patSync && sr.st.res.pattern != patSync2 {
		d, _ := e.DescribeExecution(ctx, arn)
		return map[string]any{"ExecutionArn": arn, "StartDate": d.StartDate.UnixMilli()}, nil
	}
	d, werr := e.WaitExecution(ctx, arn)
	if werr != nil {
		// The execution's own context, not ctx: cancelling a context closes
		// its Done channel before it cancels its children, so the task can
		// return and cancel ctx (plain context.Canceled) before the stop's
		// cause reaches it.
		if context.Cause(x.ctx) == errStopped {
			_ = e.StopExecution(context.WithoutCancel(ctx), arn, "", "parent execution stopped")
		}
		return nil, errCancelled
	}
	out := map[string]any{
		"ExecutionArn": d.ExecutionArn, "StateMachineArn": d.StateMachineArn, "Name": d.Name,
		"Status": d.Status, "StartDate": d.StartDate.UnixMilli(), "StopDate": d.StopDate.UnixMilli(),
		"Input": string(d.Input), "InputDetails": map[string]any{"Included": true},
	}
	if sr.st.res.pattern == patSync2 {
		out["Input"], _ = decodeJSON(d.Input)
	}
	if d.Status != StatusSucceeded {
		return nil, failf(ErrorTaskFailed, "%s", encodeString(out))
	}
	out["OutputDetails"] = map[string]any{"Included": true}
	out["Output"] = string(d.Output)
	if sr.st.res.pattern == patSync2 {
		out["Output"], _ = decodeJSON(d.Output)
	}
	return out, nil
}

func childName(x *execution, sr *stateRun) string {
	attempt := 0
	for _, n := range sr.retries {
		attempt += n
	}
	sum := md5.Sum([]byte(fmt.Sprintf("%s|%s|%s|%d", x.arn, sr.st.Name, sr.entered.Format(time.RFC3339Nano), attempt)))
	return hex.EncodeToString(sum[:])
}

// sameJSON reports whether two JSON texts hold equal values.
func sameJSON(a, b []byte) bool {
	x, err1 := decodeJSON(a)
	y, err2 := decodeJSON(b)
	return err1 == nil && err2 == nil && jsonEqual(x, y)
}
