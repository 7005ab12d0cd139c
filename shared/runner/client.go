package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrTaskGone: the runner API answered 410 Gone, the task is already
// terminal (finished, canceled or timed out). The agent stops; the bridge
// does not (re)register it.
var ErrTaskGone = errors.New("runner: task is already terminal (410 Gone)")

// APIError is a non-2xx answer of the runner API that was not retried (4xx)
// or still failed when the retry deadline passed (5xx).
type APIError struct {
	// Method and Path name the request (the path is relative to the base URL).
	Method, Path string
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is the API's {"message": "..."} or the start of the body.
	Message string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("runner: %s %s: %d %s: %s", e.Method, e.Path, e.StatusCode,
		http.StatusText(e.StatusCode), e.Message)
}

// Temporary reports whether the request may succeed later (5xx).
func (e *APIError) Temporary() bool {
	return e.StatusCode >= 500 && e.StatusCode != http.StatusNotImplemented
}

// Is matches the sentinel errors of the statuses the files routes use, so
// callers write errors.Is(err, runner.ErrConflict).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotImplemented:
		return e.StatusCode == http.StatusNotImplemented
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	}
	return false
}

// Client calls the runner API on behalf of one task. It is what the build
// agent (and nomadbridge, to report outcomes it observes) uses.
//
// Every call retries 5xx answers and network errors with capped exponential
// backoff until the retry deadline (default 15 minutes, measured per call)
// or ctx ends: the API may be restarting after a crash and the agent must
// outlive that. 4xx answers are never retried; 410 becomes ErrTaskGone. All
// routes of the runner API are idempotent, so retrying a request whose answer
// was lost is harmless. The token is sent only in the Authorization header
// and never appears in errors or logs. A Client is safe for concurrent use.
type Client struct {
	base      string
	token     string
	hc        *http.Client
	transfer  *http.Client // presigned object transfers: no overall timeout
	deadline  time.Duration
	minWait   time.Duration
	maxWait   time.Duration
	userAgent string
	log       *slog.Logger
	sleep     func(ctx context.Context, d time.Duration) error
}

// ClientOption tunes a Client.
type ClientOption func(*Client)

// WithRetryDeadline sets how long one call keeps retrying (default 15m).
func WithRetryDeadline(d time.Duration) ClientOption {
	return func(c *Client) { c.deadline = d }
}

// WithBackoff sets the first and the largest wait between retries
// (defaults 250ms and 30s).
func WithBackoff(first, max time.Duration) ClientOption {
	return func(c *Client) { c.minWait, c.maxWait = first, max }
}

// WithUserAgent sets the User-Agent header (default "orbit-agent").
func WithUserAgent(ua string) ClientOption {
	return func(c *Client) { c.userAgent = ua }
}

// WithLogger logs retries at warn level (default: no logging).
func WithLogger(l *slog.Logger) ClientOption {
	return func(c *Client) { c.log = l }
}

// NewClient returns a client of the runner API at baseURL (e.g.
// "http://127.0.0.1:8080/runner/v1") authenticating with the task token.
// httpClient may be nil (a client with a 60 s per-request timeout is used).
func NewClient(baseURL, token string, httpClient *http.Client, opts ...ClientOption) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 60 * time.Second}
	}
	c := &Client{
		base:      strings.TrimRight(baseURL, "/"),
		token:     token,
		hc:        httpClient,
		transfer:  transferClient(httpClient),
		deadline:  15 * time.Minute,
		minWait:   250 * time.Millisecond,
		maxWait:   30 * time.Second,
		userAgent: "orbit-agent",
		log:       slog.New(slog.DiscardHandler),
		sleep:     sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	if c.minWait <= 0 {
		c.minWait = time.Millisecond
	}
	if c.maxWait < c.minWait {
		c.maxWait = c.minWait
	}
	return c
}

// Task fetches the task spec (GET /task). It returns ErrTaskGone when the
// task is already terminal.
func (c *Client) Task(ctx context.Context) (TaskSpec, error) {
	var spec TaskSpec
	if err := c.do(ctx, http.MethodGet, "/task", "", nil, &spec); err != nil {
		return TaskSpec{}, err
	}
	return spec, nil
}

// Placement fetches what places the task (GET /task/placement): the
// bridge's view, without secrets. It returns ErrTaskGone when the task is
// already terminal.
func (c *Client) Placement(ctx context.Context) (TaskPlacement, error) {
	var p TaskPlacement
	if err := c.do(ctx, http.MethodGet, "/task/placement", "", nil, &p); err != nil {
		return TaskPlacement{}, err
	}
	return p, nil
}

// Start marks the task running (POST /task/start).
func (c *Client) Start(ctx context.Context, s TaskStart) error {
	return c.doJSON(ctx, "/task/start", s)
}

// StepOutput sends chunk seq (from 0) of step n's output (POST
// /task/steps/{n}/output?seq=K). Steps are numbered by their index in
// TaskSpec.Steps, from 0.
func (c *Client) StepOutput(ctx context.Context, step, seq int, data []byte) error {
	path := "/task/steps/" + strconv.Itoa(step) + "/output?seq=" + strconv.Itoa(seq)
	return c.do(ctx, http.MethodPost, path, "application/octet-stream", data, nil)
}

// Step reports step n's status (POST /task/steps/{n}).
func (c *Client) Step(ctx context.Context, n int, r StepReport) error {
	return c.doJSON(ctx, "/task/steps/"+strconv.Itoa(n), r)
}

// Finish reports the task's outcome (POST /task/finish). The first terminal
// result wins; later ones are accepted and ignored by the API.
func (c *Client) Finish(ctx context.Context, r TaskResult) error {
	return c.doJSON(ctx, "/task/finish", r)
}

// Heartbeat tells the API the task is still alive (POST /task/heartbeat).
func (c *Client) Heartbeat(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/task/heartbeat", "", nil, nil)
}

func (c *Client) doJSON(ctx context.Context, path string, v any) error {
	return c.postJSON(ctx, path, v, nil)
}

func (c *Client) postJSON(ctx context.Context, path string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("runner: encode %s: %w", path, err)
	}
	return c.do(ctx, http.MethodPost, path, "application/json", body, out)
}

// do sends one request, retrying temporary failures until the deadline.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	return c.retry(ctx, method, path, func() error {
		return c.once(ctx, method, path, contentType, body, out)
	})
}

// retry runs once until it succeeds, fails for good (4xx) or the retry
// deadline passes.
func (c *Client) retry(ctx context.Context, method, path string, once func() error) error {
	giveUp := time.Now().Add(c.deadline)
	wait := c.minWait
	for attempt := 1; ; attempt++ {
		err := once()
		if err == nil {
			return nil
		}
		if !retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("runner: %s %s: %w (last error: %v)", method, path, ctx.Err(), err)
		}
		if !time.Now().Add(wait).Before(giveUp) {
			return fmt.Errorf("runner: %s %s: giving up after %d attempts in %s: %w",
				method, path, attempt, c.deadline, err)
		}
		c.log.Warn("runner API call failed, retrying", "method", method, "path", path,
			"attempt", attempt, "retry_in", wait, "error", err)
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("runner: %s %s: %w", method, path, err)
		}
		wait = min(wait*2, c.maxWait)
	}
}

// netError marks a transport failure (connection refused, reset, timeout).
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var ne *netError
	if errors.As(err, &ne) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Temporary()
}

func (c *Client) once(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("runner: build %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &netError{fmt.Errorf("runner: %s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return &netError{fmt.Errorf("runner: %s %s: read answer: %w", method, path, err)}
	}
	switch {
	case resp.StatusCode == http.StatusGone:
		return ErrTaskGone
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return &APIError{Method: method, Path: path, StatusCode: resp.StatusCode, Message: apiMessage(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("runner: %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

func apiMessage(data []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
