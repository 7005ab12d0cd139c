package runner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// Errors a Backend returns that the handler maps to statuses.
var (
	// ErrTaskTerminal: the task is already terminal (410 Gone).
	ErrTaskTerminal = errors.New("runner: task is already finished")
	// ErrBadRequest: the report is invalid (400).
	ErrBadRequest = errors.New("runner: bad request")
)

// MaxChunk is the largest output chunk the API accepts in one request.
const MaxChunk = 1 << 20

// Backend is what the runner API needs from the rest of Orbit (the
// conductor implements it). Every method is idempotent.
type Backend interface {
	TaskSpec(ctx context.Context, taskID string) (TaskSpec, error)
	TaskStarted(ctx context.Context, taskID string, s TaskStart) error
	AppendOutput(ctx context.Context, taskID string, step, seq int, data []byte) error
	StepUpdate(ctx context.Context, taskID string, step int, r StepReport) error
	TaskFinished(ctx context.Context, taskID string, r TaskResult) error
	TaskHeartbeat(ctx context.Context, taskID string) error
}

// Verifier checks a task token and returns the task it names; *Tokens
// satisfies it.
type Verifier interface {
	Verify(token string) (taskID string, err error)
}

var _ Verifier = (*Tokens)(nil)

// HandlerOption adds to the runner API handler.
type HandlerOption func(*handler)

// WithFiles serves the files routes (files.go) with f.
func WithFiles(f Files) HandlerOption {
	return func(h *handler) { h.files = f }
}

// NewHandler serves the runner API (routes in the package comment and in
// files.go) relative to its mount point; mount it with http.StripPrefix.
func NewHandler(b Backend, tokens Verifier, log *slog.Logger, opts ...HandlerOption) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{b: b, tokens: tokens, log: log}
	for _, o := range opts {
		o(h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /task", h.auth(h.task))
	mux.HandleFunc("GET /task/placement", h.auth(h.placement))
	mux.HandleFunc("POST /task/start", h.auth(h.start))
	mux.HandleFunc("POST /task/steps/{n}/output", h.auth(h.output))
	mux.HandleFunc("POST /task/steps/{n}", h.auth(h.step))
	mux.HandleFunc("POST /task/finish", h.auth(h.finish))
	mux.HandleFunc("POST /task/heartbeat", h.auth(h.heartbeat))
	mux.HandleFunc("POST /task/waiting", h.auth(h.waiting)) // waiting.go
	h.filesRoutes(mux)
	return mux
}

type handler struct {
	b      Backend
	files  Files
	tokens Verifier
	log    *slog.Logger
}

type taskHandler func(w http.ResponseWriter, r *http.Request, taskID string) error

func (h *handler) auth(next taskHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		taskID, err := h.tokens.Verify(tok)
		if !ok || err != nil {
			writeError(w, http.StatusUnauthorized, "invalid or expired task token")
			return
		}
		if err := next(w, r, taskID); err != nil {
			h.writeErr(w, r, taskID, err)
		}
	}
}

// writeErr is the one place where backend errors become statuses.
func (h *handler) writeErr(w http.ResponseWriter, r *http.Request, taskID string, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrTaskTerminal):
		code = http.StatusGone
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, ErrForbidden):
		code = http.StatusForbidden
	case errors.Is(err, ErrNotImplemented):
		code = http.StatusNotImplemented
	}
	if code == http.StatusInternalServerError {
		h.log.ErrorContext(r.Context(), "runner API", "path", r.URL.Path, "task_id", taskID, "error", err)
	}
	writeError(w, code, err.Error())
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func decode(r *http.Request, v any) error {
	return decodeLimit(r, v, 1<<16)
}

func decodeLimit(r *http.Request, v any, limit int64) error {
	if err := json.NewDecoder(io.LimitReader(r.Body, limit)).Decode(v); err != nil {
		return errors.Join(ErrBadRequest, err)
	}
	return nil
}

func stepIndex(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		return 0, errors.Join(ErrBadRequest, errors.New("step must be a non-negative integer"))
	}
	return n, nil
}

func (h *handler) task(w http.ResponseWriter, r *http.Request, id string) error {
	spec, err := h.b.TaskSpec(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(spec)
}

func (h *handler) placement(w http.ResponseWriter, r *http.Request, id string) error {
	spec, err := h.b.TaskSpec(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(spec.Placement())
}

func (h *handler) start(w http.ResponseWriter, r *http.Request, id string) error {
	var s TaskStart
	if err := decode(r, &s); err != nil {
		return err
	}
	if err := h.b.TaskStarted(r.Context(), id, s); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) output(w http.ResponseWriter, r *http.Request, id string) error {
	n, err := stepIndex(r)
	if err != nil {
		return err
	}
	seq, err := strconv.Atoi(r.URL.Query().Get("seq"))
	if err != nil || seq < 0 {
		return errors.Join(ErrBadRequest, errors.New("seq must be a non-negative integer"))
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxChunk+1))
	if err != nil {
		return err
	}
	if len(data) > MaxChunk {
		return errors.Join(ErrBadRequest, errors.New("output chunk larger than 1 MiB"))
	}
	if err := h.b.AppendOutput(r.Context(), id, n, seq, data); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) step(w http.ResponseWriter, r *http.Request, id string) error {
	n, err := stepIndex(r)
	if err != nil {
		return err
	}
	var rep StepReport
	if err := decode(r, &rep); err != nil {
		return err
	}
	if err := h.b.StepUpdate(r.Context(), id, n, rep); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) finish(w http.ResponseWriter, r *http.Request, id string) error {
	var res TaskResult
	if err := decode(r, &res); err != nil {
		return err
	}
	if err := h.b.TaskFinished(r.Context(), id, res); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) heartbeat(w http.ResponseWriter, r *http.Request, id string) error {
	if err := h.b.TaskHeartbeat(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
