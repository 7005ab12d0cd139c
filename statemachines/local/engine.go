package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Handler runs a Lambda function in-process. payload is the function's
// input; the returned JSON is its output. An error whose type has
// ErrorName() string (and optionally Cause() string) fails the task with
// that error name, as Lambda's errorType; any other error fails it with
// States.TaskFailed and the error text as cause. Handlers must be
// idempotent: Resume re-invokes a task that was in progress at a crash.
type Handler func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error)

// Sender sends one message to a queue, for the
// arn:aws:states:::sqs:sendMessage[.waitForTaskToken] resources.
type Sender interface {
	Send(ctx context.Context, body []byte) error
}

// Config configures an Engine.
type Config struct {
	// Clock is the source of time; nil = the wall clock.
	Clock Clock
	// Store persists running executions for Resume; nil = memory only.
	Store Store
	// Logger receives execution start/finish lines; nil = discard.
	Logger *slog.Logger
	// Region and Account go into ARNs; defaults "local" and "000000000000".
	Region, Account string
	// MaxFinished is how many finished executions are kept in memory for
	// DescribeExecution and History; default 1000. Older ones are read
	// from an archiving Store. (At 10000, the 10,000-job chaos soak held
	// ~33 KB per finished execution: orbit up's heap grew 29 → 366 MB.)
	MaxFinished int
	// Invoker runs the Lambda functions not given to RegisterLambda, e.g.
	// an HTTPInvoker calling each function's Lambda Invoke API; nil: such a
	// function does not exist, and a definition naming it is invalid.
	Invoker Invoker
}

// Execution describes an execution, as DescribeExecution's output.
type Execution struct {
	ExecutionArn    string
	StateMachineArn string
	Name            string
	// Status is RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
	Status    string
	Input     json.RawMessage
	Output    json.RawMessage // SUCCEEDED only
	Error     string
	Cause     string
	StartDate time.Time
	StopDate  time.Time // zero while RUNNING
}

// Execution statuses.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Engine runs state machines. It is safe for concurrent use; each execution
// runs in its own goroutine.
type Engine struct {
	clock       Clock
	store       Store
	archive     Archive
	log         *slog.Logger
	region      string
	account     string
	maxFinished int
	invoker     Invoker

	wg sync.WaitGroup

	mu       sync.RWMutex
	closed   bool
	machines map[string]*machine
	lambdas  map[string]Handler
	queues   map[string]Sender
	execs    map[string]*execution
	finished []string // finished execution ARNs, oldest first, for eviction
	tokens   map[string]*waiter
}

type machine struct {
	name, arn string
	def       *scope
}

// New creates an Engine. Call Define and Register* before StartExecution,
// and Resume to continue the executions of a previous process.
func New(cfg Config) (*Engine, error) {
	e := &Engine{
		clock:       cfg.Clock,
		store:       cfg.Store,
		log:         cfg.Logger,
		region:      cfg.Region,
		account:     cfg.Account,
		maxFinished: cfg.MaxFinished,
		invoker:     cfg.Invoker,
		machines:    map[string]*machine{},
		lambdas:     map[string]Handler{},
		queues:      map[string]Sender{},
		execs:       map[string]*execution{},
		tokens:      map[string]*waiter{},
	}
	if e.clock == nil {
		e.clock = RealClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.region == "" {
		e.region = "local"
	}
	if e.account == "" {
		e.account = "000000000000"
	}
	if e.maxFinished <= 0 {
		e.maxFinished = 1000
	}
	if a, ok := cfg.Store.(Archive); ok {
		e.archive = a
	}
	return e, nil
}

// RegisterLambda makes h the Lambda function name: the FunctionName "name"
// (or "name:alias") of lambda:invoke, and any Lambda ARN whose function part
// is name (arn:aws:lambda:REGION:ACCOUNT:function:name[:alias]).
func (e *Engine) RegisterLambda(name string, h Handler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lambdas[functionName(name)] = h
}

// RegisterQueue makes s the queue with this URL or name: a sendMessage
// QueueUrl selects it by the full URL or by its last path segment.
func (e *Engine) RegisterQueue(urlOrName string, s Sender) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queues[urlOrName] = s
	e.queues[queueName(urlOrName)] = s
}

// lambda is the function's Handler: registered, else through the Invoker,
// else nil.
func (e *Engine) lambda(name string) Handler {
	e.mu.RLock()
	h := e.lambdas[functionName(name)]
	e.mu.RUnlock()
	if h == nil && e.invoker != nil {
		fn := functionName(name)
		h = func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
			return e.invoker.Invoke(ctx, fn, payload)
		}
	}
	return h
}

func (e *Engine) queue(urlOrName string) Sender {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if s := e.queues[urlOrName]; s != nil {
		return s
	}
	return e.queues[queueName(urlOrName)]
}

func (e *Engine) machine(arn string) *machine {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.machines[arn]
}

// functionName is the function part of a Lambda name, name:alias or ARN.
func functionName(s string) string {
	if strings.HasPrefix(s, "arn:") {
		parts := strings.Split(s, ":")
		if len(parts) >= 7 {
			return parts[6]
		}
		return s
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

func queueName(urlOrName string) string {
	return urlOrName[strings.LastIndex(urlOrName, "/")+1:]
}

// Define creates or replaces the state machine name. Each ${Key} of
// substitutions is replaced first, like CDK's DefinitionSubstitutions; the
// definition is then parsed and validated (state types and fields, Next
// targets, reachability, End/Next, Retry/Catch, JSONPaths, intrinsic
// functions, resources). Every error names the state. Running executions
// keep the definition they started with.
func (e *Engine) Define(name string, definition []byte, substitutions map[string]string) (string, error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("define %q: %w", name, err)
	}
	for _, k := range sortedKeys(substitutions) {
		definition = bytes.ReplaceAll(definition, []byte("${"+k+"}"), []byte(substitutions[k]))
	}
	def, err := parseDefinition(definition)
	if err != nil {
		return "", fmt.Errorf("define %q: %w", name, err)
	}
	arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", e.region, e.account, name)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.machines[arn] = &machine{name: name, arn: arn, def: def}
	return arn, nil
}

// checkName applies Step Functions' rules for state machine and execution
// names: 1 to 80 characters, no whitespace, brackets, wildcards or control
// characters.
func checkName(name string) error {
	if name == "" || len(name) > 80 {
		return fmt.Errorf("%w: %q must have 1 to 80 characters", ErrInvalidName, name)
	}
	for _, r := range name {
		if r <= 0x20 || r == 0x7f || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return fmt.Errorf("%w: %q contains %q", ErrInvalidName, name, r)
		}
	}
	return nil
}

func (e *Engine) executionArn(machineName, name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", e.region, e.account, machineName, name)
}

// StartExecution starts an execution of the state machine; an empty name
// gets a UUID. Like Step Functions Standard, it is idempotent by name: the
// same name and input as a RUNNING execution returns that execution's ARN;
// a different input, or an execution that has finished, gives
// ErrExecutionAlreadyExists. Every Lambda function, queue and state machine
// the definition names statically must be registered, or it fails with
// ErrInvalidDefinition naming the state. With a Store, the execution is
// saved before StartExecution returns.
func (e *Engine) StartExecution(ctx context.Context, stateMachineArn, name string, input json.RawMessage) (string, error) {
	return e.start(ctx, stateMachineArn, name, input, "")
}

func (e *Engine) start(ctx context.Context, stateMachineArn, name string, input json.RawMessage, parent string) (string, error) {
	m := e.machine(stateMachineArn)
	if m == nil {
		return "", fmt.Errorf("start execution of %s: %w", stateMachineArn, ErrStateMachineDoesNotExist)
	}
	if name == "" {
		name = uuid.NewString()
	}
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("start execution: %w", err)
	}
	if len(bytes.TrimSpace(input)) == 0 {
		input = json.RawMessage("{}")
	}
	inputV, err := decodeJSON(input)
	if err != nil {
		return "", fmt.Errorf("start execution %s: %w: %v", name, ErrInvalidExecutionInput, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, input); err != nil {
		return "", fmt.Errorf("start execution %s: %w: %v", name, ErrInvalidExecutionInput, err)
	}
	input = compact.Bytes()
	if err := e.checkResources(m.def, ""); err != nil {
		return "", fmt.Errorf("start execution of %s: %w", m.name, err)
	}
	arn := e.executionArn(m.name, name)
	if e.archive != nil {
		if _, err := e.archive.Lookup(ctx, arn); err == nil {
			return "", fmt.Errorf("start execution %s: %w", arn, ErrExecutionAlreadyExists)
		} else if !errors.Is(err, ErrExecutionDoesNotExist) {
			return "", fmt.Errorf("start execution %s: %w", arn, err)
		}
	}
	now := e.clock.Now()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return "", ErrClosed
	}
	if x := e.execs[arn]; x != nil {
		e.mu.Unlock()
		if d := x.describe(); d.Status == StatusRunning && bytes.Equal(d.Input, input) {
			return arn, nil
		}
		return "", fmt.Errorf("start execution %s: %w", arn, ErrExecutionAlreadyExists)
	}
	x := newExecution(e, m, arn, name, input, inputV, now)
	if m.def.TimeoutSeconds > 0 {
		x.deadline = now.Add(time.Duration(m.def.TimeoutSeconds) * time.Second)
	}
	e.execs[arn] = x
	e.wg.Add(1)
	e.mu.Unlock()

	x.addEvent(HistoryEvent{Type: "ExecutionStarted", Input: input})
	x.persist(ctx, x.initialSnapshot())
	e.log.Info("execution started", "execution_arn", arn, "parent", parent)
	go x.run(nil)
	return arn, nil
}

// Resume continues every execution saved in the Store that this engine is
// not already running: after a crash, or when a new process takes over.
// Machines must have been Defined first. A state parked on a task token
// waits again with the same token; a task that was being invoked is
// invoked again; Wait states and retry back-offs keep their deadlines.
func (e *Engine) Resume(ctx context.Context) error {
	if e.store == nil {
		return nil
	}
	snaps, err := e.store.List(ctx)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	var errs []error
	for _, snap := range snaps {
		m := e.machine(snap.StateMachineArn)
		if m == nil {
			errs = append(errs, fmt.Errorf("resume %s: %w", snap.ExecutionArn, ErrStateMachineDoesNotExist))
			continue
		}
		inputV, err := decodeJSON(snap.Input)
		if err != nil {
			errs = append(errs, fmt.Errorf("resume %s: decode input: %w", snap.ExecutionArn, err))
			continue
		}
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return ErrClosed
		}
		if e.execs[snap.ExecutionArn] != nil {
			e.mu.Unlock()
			continue
		}
		x := newExecution(e, m, snap.ExecutionArn, snap.Name, snap.Input, inputV, snap.StartDate)
		x.deadline = snap.Deadline
		x.lastEvent = snap.EventID
		x.seq.Store(snap.Seq)
		e.execs[snap.ExecutionArn] = x
		e.wg.Add(1)
		e.mu.Unlock()
		e.log.Info("execution resumed", "execution_arn", snap.ExecutionArn, "state", snap.State)
		go x.run(&snap)
	}
	return errors.Join(errs...)
}

// StopExecution aborts a running execution with the given error and cause;
// a state parked on a task token stops waiting. Stopping a finished
// execution is a no-op.
func (e *Engine) StopExecution(ctx context.Context, executionArn, errorName, cause string) error {
	x := e.execution(executionArn)
	if x == nil {
		if _, err := e.lookupArchived(ctx, executionArn); err != nil {
			return err
		}
		return nil
	}
	x.abort(StatusAborted, errorName, cause)
	return nil
}

// DescribeExecution returns the execution's status, input, output, error.
func (e *Engine) DescribeExecution(ctx context.Context, executionArn string) (Execution, error) {
	if x := e.execution(executionArn); x != nil {
		return x.describe(), nil
	}
	return e.lookupArchived(ctx, executionArn)
}

// WaitExecution blocks until the execution has finished (or ctx is done)
// and returns its description.
func (e *Engine) WaitExecution(ctx context.Context, executionArn string) (Execution, error) {
	x := e.execution(executionArn)
	if x == nil {
		return e.lookupArchived(ctx, executionArn)
	}
	select {
	case <-x.done:
		return x.describe(), nil
	case <-ctx.Done():
		return x.describe(), ctx.Err()
	}
}

// History returns the execution's events, oldest first. Events are kept in
// memory only: after Resume, history starts again (with increasing ids).
func (e *Engine) History(ctx context.Context, executionArn string) ([]HistoryEvent, error) {
	x := e.execution(executionArn)
	if x == nil {
		if _, err := e.lookupArchived(ctx, executionArn); err != nil {
			return nil, err
		}
		return []HistoryEvent{}, nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]HistoryEvent, len(x.history))
	for i, ev := range x.history {
		out[i] = ev.encoded()
	}
	return out, nil
}

func (e *Engine) execution(arn string) *execution {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.execs[arn]
}

func (e *Engine) lookupArchived(ctx context.Context, arn string) (Execution, error) {
	if e.archive == nil {
		return Execution{}, fmt.Errorf("%s: %w", arn, ErrExecutionDoesNotExist)
	}
	s, err := e.archive.Lookup(ctx, arn)
	if err != nil {
		return Execution{}, fmt.Errorf("%s: %w", arn, err)
	}
	return Execution{
		ExecutionArn: s.ExecutionArn, StateMachineArn: s.StateMachineArn, Name: s.Name,
		Status: s.Status, Input: s.Input, Output: s.Output, Error: s.Error, Cause: s.Cause,
		StartDate: s.StartDate, StopDate: s.StopDate,
	}, nil
}

// retire records a finished execution and evicts the oldest beyond
// MaxFinished from memory (they stay in an archiving Store).
func (e *Engine) retire(x *execution) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.finished = append(e.finished, x.arn)
	for len(e.finished) > e.maxFinished {
		delete(e.execs, e.finished[0])
		e.finished = e.finished[1:]
	}
}

// Close stops every execution's goroutine and waits for them. Running
// executions stay in the Store, to be resumed by another Engine.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	var running []*execution
	for _, x := range e.execs {
		running = append(running, x)
	}
	e.mu.Unlock()
	for _, x := range running {
		x.cancel(errEngineClosed)
	}
	e.wg.Wait()
}
