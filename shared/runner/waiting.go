package runner

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// POST /task/waiting  TaskWaiting → 204: why a queued task has not started
// yet, as the bridge sees it ("Nomad unreachable since 10:02:13", "no
// client with resource class large: memory exhausted on 1 node", "node
// drained"). The API shows it on the job while the job is queued (an Orbit
// extension, see shared/api). Idempotent: the latest report wins; an empty
// reason says the task no longer waits for a known reason. A terminal task
// answers 410; a Backend without WaitingBackend answers 501.

// TaskWaiting is why a task waits.
type TaskWaiting struct {
	// Reason is one line for the user; "" clears it.
	Reason string `json:"reason"`
	// Since is when the cause began (e.g. when Nomad stopped answering).
	Since time.Time `json:"since"`
}

// WaitingBackend is the optional part of a Backend that records why a task
// waits; the conductor implements it.
type WaitingBackend interface {
	TaskWaiting(ctx context.Context, taskID string, w TaskWaiting) error
}

// maxWaitingReason bounds a reason's length.
const maxWaitingReason = 1024

func (h *handler) waiting(w http.ResponseWriter, r *http.Request, id string) error {
	wb, ok := h.b.(WaitingBackend)
	if !ok {
		return ErrNotImplemented
	}
	var tw TaskWaiting
	if err := decode(r, &tw); err != nil {
		return err
	}
	if len(tw.Reason) > maxWaitingReason {
		return errors.Join(ErrBadRequest, errors.New("reason longer than 1024 bytes"))
	}
	if err := wb.TaskWaiting(r.Context(), id, tw); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Waiting reports why the task waits (POST /task/waiting).
func (c *Client) Waiting(ctx context.Context, tw TaskWaiting) error {
	return c.doJSON(ctx, "/task/waiting", tw)
}
