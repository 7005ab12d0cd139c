package local

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Task tokens name the execution they belong to, so that an answer for a
// finished execution can be told apart from garbage:
//
//	base64url(executionArn "|" seq "|" 16 random hex digits)
//
// A token is saved in the execution's Snapshot while its state waits, and
// Resume registers it again, so tokens stay valid across restarts.

// waiter is a state parked on a task token.
type waiter struct {
	x  *execution
	ch chan tokenMsg // the answer, at most one (buffered)
	hb chan struct{} // heartbeats (buffered, coalesced)
}

type tokenMsg struct {
	output any
	err    *statesError
}

func (x *execution) newToken() string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	raw := x.arn + "|" + strconv.FormatInt(x.seq.Add(1), 10) + "|" + hex.EncodeToString(r[:])
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// tokenExecution returns the execution ARN a token names.
func tokenExecution(token string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", ErrInvalidToken
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "arn:") {
		return "", ErrInvalidToken
	}
	return parts[0], nil
}

// park registers a waiter for token.
func (e *Engine) park(x *execution, token string) *waiter {
	w := &waiter{x: x, ch: make(chan tokenMsg, 1), hb: make(chan struct{}, 1)}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokens[token] = w
	return w
}

// unpark forgets token; later answers get ErrTaskTimedOut, as AWS answers
// for a task that is no longer open.
func (e *Engine) unpark(x *execution, token string) {
	e.mu.Lock()
	delete(e.tokens, token)
	e.mu.Unlock()
	x.mu.Lock()
	x.deadTokens[token] = true
	x.mu.Unlock()
}

// answer delivers msg (nil for a heartbeat) to the waiter of token.
func (e *Engine) answer(ctx context.Context, token string, msg *tokenMsg) error {
	arn, err := tokenExecution(token)
	if err != nil {
		return err
	}
	e.mu.Lock()
	w := e.tokens[token]
	if w != nil && msg != nil {
		delete(e.tokens, token)
	}
	e.mu.Unlock()
	if w != nil {
		w.x.mu.Lock()
		running := w.x.status == StatusRunning
		if msg != nil {
			// Closed from now on: a second answer, even one that comes
			// before the state has taken this one, gets ErrTaskTimedOut.
			w.x.deadTokens[token] = true
		}
		w.x.mu.Unlock()
		if !running {
			return fmt.Errorf("task of %s: %w", arn, ErrTaskTimedOut)
		}
		if msg == nil {
			select {
			case w.hb <- struct{}{}:
			default:
			}
			return nil
		}
		w.ch <- *msg
		return nil
	}
	if x := e.execution(arn); x != nil {
		x.mu.Lock()
		dead, running := x.deadTokens[token], x.status == StatusRunning
		x.mu.Unlock()
		if dead || !running {
			return fmt.Errorf("task of %s: %w", arn, ErrTaskTimedOut)
		}
		return fmt.Errorf("task of %s: %w", arn, ErrTaskDoesNotExist)
	}
	if _, err := e.lookupArchived(ctx, arn); err == nil {
		return fmt.Errorf("task of %s: %w", arn, ErrTaskTimedOut)
	}
	return fmt.Errorf("task of %s: %w", arn, ErrTaskDoesNotExist)
}

// SendTaskSuccess completes the task waiting on token with output (JSON).
// An unknown token gives ErrTaskDoesNotExist, a token whose task is no
// longer waiting (answered, timed out, execution finished) ErrTaskTimedOut,
// and a malformed one ErrInvalidToken, like the Step Functions API.
func (e *Engine) SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error {
	v, err := decodeJSON(output)
	if err != nil {
		return fmt.Errorf("send task success: %w: %v", ErrInvalidOutput, err)
	}
	return e.answer(ctx, token, &tokenMsg{output: v})
}

// SendTaskFailure fails the task waiting on token with errorName and cause.
// Errors as SendTaskSuccess.
func (e *Engine) SendTaskFailure(ctx context.Context, token, errorName, cause string) error {
	return e.answer(ctx, token, &tokenMsg{err: &statesError{name: errorName, cause: cause}})
}

// SendTaskHeartbeat restarts the HeartbeatSeconds timer of the task waiting
// on token. Errors as SendTaskSuccess.
func (e *Engine) SendTaskHeartbeat(ctx context.Context, token string) error {
	return e.answer(ctx, token, nil)
}
