package local

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Why an execution's context was cancelled.
var (
	errStopped      = errors.New("execution stopped")
	errEngineClosed = errors.New("engine closed")
)

// errCancelled is what states return when their context is cancelled; the
// execution's outcome is then decided by whoever cancelled it.
var errCancelled = &statesError{name: "States.Cancelled", cause: "cancelled"}

type execution struct {
	e      *Engine
	m      *machine
	arn    string
	name   string
	input  json.RawMessage
	inputV any
	start  time.Time
	// deadline is the execution's TimeoutSeconds deadline; zero = none.
	deadline time.Time

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed once the execution has a terminal status

	seq atomic.Int64 // task tokens and generated child names

	mu         sync.Mutex
	status     string
	output     json.RawMessage
	errName    string
	cause      string
	stop       time.Time
	history    []HistoryEvent
	lastEvent  int64
	deadTokens map[string]bool
}

func newExecution(e *Engine, m *machine, arn, name string, input json.RawMessage, inputV any, start time.Time) *execution {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &execution{
		e: e, m: m, arn: arn, name: name, input: input, inputV: inputV, start: start,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
		status: StatusRunning, deadTokens: map[string]bool{},
	}
}

func (x *execution) describe() Execution {
	x.mu.Lock()
	defer x.mu.Unlock()
	return Execution{
		ExecutionArn: x.arn, StateMachineArn: x.m.arn, Name: x.name, Status: x.status,
		Input: x.input, Output: x.output, Error: x.errName, Cause: x.cause,
		StartDate: x.start, StopDate: x.stop,
	}
}

// run is the execution's goroutine.
func (x *execution) run(resume *Snapshot) {
	defer x.e.wg.Done()
	if !x.deadline.IsZero() {
		x.e.wg.Add(1)
		go x.watchdog()
	}
	out, err := x.runScope(x.ctx, x.m.def, x.inputV, &frame{top: true}, resume)
	if x.ctx.Err() != nil {
		// Stopped, timed out (already finalised) or engine closing (kept
		// in the Store for Resume).
		return
	}
	if err != nil {
		x.finish(StatusFailed, nil, err.name, err.cause)
		return
	}
	x.finish(StatusSucceeded, encodeJSON(out), "", "")
}

// watchdog enforces the machine's TimeoutSeconds.
func (x *execution) watchdog() {
	defer x.e.wg.Done()
	t := x.e.clock.NewTimer(x.deadline.Sub(x.e.clock.Now()))
	defer t.Stop()
	select {
	case <-t.C():
		x.abort(StatusTimedOut, ErrorTimeout, "Execution timed out")
	case <-x.ctx.Done():
	case <-x.done:
	}
}

// abort ends a running execution from outside its goroutine.
func (x *execution) abort(status, errName, cause string) {
	if x.finish(status, nil, errName, cause) {
		x.cancel(errStopped)
	}
}

// finish gives the execution its terminal status, once; it reports whether
// this call did. The Store forgets (or archives) the execution in the same
// critical section as snapshots are saved, so no late snapshot revives it.
func (x *execution) finish(status string, output json.RawMessage, errName, cause string) bool {
	now := x.e.clock.Now()
	x.mu.Lock()
	if x.status != StatusRunning {
		x.mu.Unlock()
		return false
	}
	x.status, x.output, x.errName, x.cause, x.stop = status, output, errName, cause, now
	ev := HistoryEvent{Error: errName, Cause: cause}
	switch status {
	case StatusSucceeded:
		ev.Type, ev.Output = "ExecutionSucceeded", output
	case StatusFailed:
		ev.Type = "ExecutionFailed"
	case StatusTimedOut:
		ev.Type = "ExecutionTimedOut"
	default:
		ev.Type = "ExecutionAborted"
	}
	x.addEventLocked(ev, now)
	if s := x.e.store; s != nil {
		ctx := context.Background()
		var err error
		if x.e.archive != nil {
			err = x.e.archive.Archive(ctx, Snapshot{
				ExecutionArn: x.arn, StateMachineArn: x.m.arn, Name: x.name, Input: x.input,
				StartDate: x.start, EventID: x.lastEvent, Status: status, Output: output,
				Error: errName, Cause: cause, StopDate: now,
			})
		} else {
			err = s.Delete(ctx, x.arn)
		}
		if err != nil {
			x.e.log.Error("forget finished execution", "execution_arn", x.arn, "err", err)
		}
	}
	x.mu.Unlock()
	close(x.done)
	x.e.retire(x)
	x.e.log.Info("execution finished", "execution_arn", x.arn, "status", status, "error", errName)
	return true
}

func (x *execution) addEvent(ev HistoryEvent) {
	now := x.e.clock.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.addEventLocked(ev, now)
}

func (x *execution) addEventLocked(ev HistoryEvent, now time.Time) {
	ev.PreviousEventID = x.lastEvent
	x.lastEvent++
	ev.ID = x.lastEvent
	ev.Timestamp = now
	x.history = append(x.history, ev)
}

func (x *execution) initialSnapshot() Snapshot {
	return Snapshot{
		State: x.m.def.StartAt, StateInput: x.input, EnteredTime: x.start,
	}
}

// persist saves a top-level snapshot, filling the execution's own fields.
func (x *execution) persist(ctx context.Context, s Snapshot) {
	if x.e.store == nil {
		return
	}
	s.ExecutionArn, s.StateMachineArn, s.Name = x.arn, x.m.arn, x.name
	s.Input, s.StartDate, s.Deadline, s.Seq = x.input, x.start, x.deadline, x.seq.Load()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.status != StatusRunning {
		return
	}
	s.EventID = x.lastEvent
	if err := x.e.store.Save(context.WithoutCancel(ctx), s); err != nil {
		x.e.log.Error("save execution snapshot", "execution_arn", x.arn, "state", s.State, "err", err)
	}
}

// sleepUntil waits on the engine's clock.
func (x *execution) sleepUntil(ctx context.Context, t time.Time) *statesError {
	d := t.Sub(x.e.clock.Now())
	if d <= 0 {
		return nil
	}
	timer := x.e.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C():
		return nil
	case <-ctx.Done():
		return errCancelled
	}
}

// frame is where a scope runs: the top level (snapshotted) or inside a
// Parallel branch or Map iteration.
type frame struct {
	top bool
}

// runScope runs states from StartAt (or from a resumed snapshot's state)
// until one ends the scope, and returns the scope's output.
func (x *execution) runScope(ctx context.Context, sc *scope, input any, fr *frame, resume *Snapshot) (any, *statesError) {
	cur, in := sc.StartAt, input
	if resume != nil {
		cur = resume.State
		v, err := decodeJSON(resume.StateInput)
		if err != nil {
			return nil, failf(ErrorRuntime, "resume: decode the input of state %q: %v", cur, err)
		}
		in = v
	}
	for {
		if ctx.Err() != nil {
			return nil, errCancelled
		}
		st := sc.States[cur]
		if st == nil {
			return nil, failf(ErrorRuntime, "state %q does not exist in the definition", cur)
		}
		sr := x.enter(ctx, st, in, fr, resume)
		resume = nil
		next, out, err := sr.run(ctx)
		if err != nil {
			return nil, err
		}
		if next == "" {
			return out, nil
		}
		cur, in = next, out
	}
}

// stateRun is one entry into a state.
type stateRun struct {
	x       *execution
	st      *state
	fr      *frame
	input   any // raw input, before InputPath
	entered time.Time
	retries []int
	// task token wait
	token   string
	invoked bool
	// deadlines
	waitUntil time.Time
	timeoutAt time.Time
	// mapItem is set while evaluating a Map's ItemSelector.
	mapItem map[string]any
	ctxObj  map[string]any
}

func (x *execution) enter(ctx context.Context, st *state, in any, fr *frame, resume *Snapshot) *stateRun {
	sr := &stateRun{x: x, st: st, fr: fr, input: in, retries: make([]int, len(st.Retry))}
	if resume != nil {
		sr.entered = resume.EnteredTime
		copy(sr.retries, resume.Retries)
		sr.token, sr.invoked = resume.TaskToken, resume.Invoked
		sr.waitUntil, sr.timeoutAt = resume.WaitUntil, resume.TimeoutAt
		return sr
	}
	sr.entered = x.e.clock.Now()
	x.addEvent(HistoryEvent{Type: st.Type + "StateEntered", StateName: st.Name, in: lazyJSON{in, true}})
	sr.save(ctx)
	return sr
}

// save persists the top-level snapshot of this state entry.
func (sr *stateRun) save(ctx context.Context) {
	if !sr.fr.top || sr.x.e.store == nil {
		return
	}
	sr.x.persist(ctx, Snapshot{
		State: sr.st.Name, StateInput: encodeJSON(sr.input), EnteredTime: sr.entered,
		Retries: append([]int(nil), sr.retries...), TaskToken: sr.token, Invoked: sr.invoked,
		WaitUntil: sr.waitUntil, TimeoutAt: sr.timeoutAt,
	})
}

// context returns the context object ($$) for this state entry.
func (sr *stateRun) context() any {
	if sr.ctxObj != nil {
		return sr.ctxObj
	}
	x := sr.x
	retries := 0
	for _, n := range sr.retries {
		retries += n
	}
	c := map[string]any{
		"Execution": map[string]any{
			"Id": x.arn, "Name": x.name, "Input": x.inputV, "StartTime": formatTime(x.start),
			"RoleArn": "arn:aws:iam::" + x.e.account + ":role/orbit-local", "RedriveCount": int64(0),
		},
		"State": map[string]any{
			"Name": sr.st.Name, "EnteredTime": formatTime(sr.entered), "RetryCount": int64(retries),
		},
		"StateMachine": map[string]any{"Id": x.m.arn, "Name": x.m.name},
	}
	if sr.token != "" {
		c["Task"] = map[string]any{"Token": sr.token}
	}
	if sr.mapItem != nil {
		c["Map"] = map[string]any{"Item": sr.mapItem}
	}
	sr.ctxObj = c
	return c
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// run executes the state and returns the next state ("" to end the scope).
func (sr *stateRun) run(ctx context.Context) (string, any, *statesError) {
	st := sr.st
	var (
		next string
		out  any
		err  *statesError
	)
	switch st.Type {
	case "Pass":
		out, err = sr.pass()
		next = st.Next
	case "Task", "Parallel", "Map":
		next, out, err = sr.withRetry(ctx)
	case "Choice":
		next, out, err = sr.choice()
	case "Wait":
		out, err = sr.wait(ctx)
		next = st.Next
	case "Succeed":
		out, err = sr.inOut(sr.input)
	case "Fail":
		return "", nil, sr.fail()
	}
	if err != nil {
		return "", nil, err
	}
	sr.x.addEvent(HistoryEvent{Type: st.Type + "StateExited", StateName: st.Name, out: lazyJSON{out, true}})
	return next, out, nil
}

// inOut applies InputPath then OutputPath, for states without a result.
func (sr *stateRun) inOut(in any) (any, *statesError) {
	eff, err := sr.st.InputPath.apply(in, sr.context)
	if err != nil {
		return nil, err
	}
	return sr.st.OutputPath.apply(eff, sr.context)
}

func (sr *stateRun) pass() (any, *statesError) {
	st := sr.st
	eff, err := st.InputPath.apply(sr.input, sr.context)
	if err != nil {
		return nil, err
	}
	if st.Parameters != nil {
		if eff, err = st.Parameters.eval(eff, sr.context); err != nil {
			return nil, err
		}
	}
	if st.HasResult {
		eff = st.Result
	}
	out, err := st.ResultPath.applyResult(sr.input, eff)
	if err != nil {
		return nil, err
	}
	return st.OutputPath.apply(out, sr.context)
}

func (sr *stateRun) choice() (string, any, *statesError) {
	st := sr.st
	eff, err := st.InputPath.apply(sr.input, sr.context)
	if err != nil {
		return "", nil, err
	}
	next := st.Default
	for _, r := range st.Choices {
		ok, err := r.eval(eff, sr.context)
		if err != nil {
			return "", nil, err
		}
		if ok {
			next = r.Next
			break
		}
	}
	if next == "" {
		return "", nil, failf(ErrorNoChoiceMatched, "No Matches!")
	}
	out, err := st.OutputPath.apply(eff, sr.context)
	return next, out, err
}

func (sr *stateRun) wait(ctx context.Context) (any, *statesError) {
	st := sr.st
	eff, err := st.InputPath.apply(sr.input, sr.context)
	if err != nil {
		return nil, err
	}
	if sr.waitUntil.IsZero() {
		now := sr.x.e.clock.Now()
		switch {
		case st.HasSeconds:
			sr.waitUntil = now.Add(time.Duration(st.Seconds) * time.Second)
		case !st.Timestamp.IsZero():
			sr.waitUntil = st.Timestamp
		case st.SecondsPath != nil:
			v, err := st.SecondsPath.mustGet(eff, sr.context)
			if err != nil {
				return nil, err
			}
			n, ok := toInt(v)
			if !ok || n < 0 {
				return nil, failf(ErrorRuntime, "The SecondsPath parameter does not reference a valid non-negative integer: %s", encodeString(v))
			}
			sr.waitUntil = now.Add(time.Duration(n) * time.Second)
		default:
			v, err := st.TimestampPath.mustGet(eff, sr.context)
			if err != nil {
				return nil, err
			}
			s, _ := v.(string)
			t, perr := parseTimestamp(s)
			if perr != nil {
				return nil, failf(ErrorRuntime, "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s", encodeString(v))
			}
			sr.waitUntil = t
		}
		sr.save(ctx)
	}
	if err := sr.x.sleepUntil(ctx, sr.waitUntil); err != nil {
		return nil, err
	}
	return st.OutputPath.apply(eff, sr.context)
}

func (sr *stateRun) fail() *statesError {
	st := sr.st
	name, cause := st.Error, st.Cause
	for _, f := range []struct {
		t   *tmpl
		dst *string
	}{{st.ErrorPath, &name}, {st.CausePath, &cause}} {
		if f.t == nil {
			continue
		}
		v, err := f.t.eval(sr.input, sr.context)
		if err != nil {
			return err
		}
		s, ok := v.(string)
		if !ok {
			return failf(ErrorRuntime, "The %s of state %q must give a string, got %s", f.t.field, st.Name, encodeString(v))
		}
		*f.dst = s
	}
	return &statesError{name: name, cause: cause}
}
