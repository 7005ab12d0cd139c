package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testToken = "task-1.1700000000.c2VjcmV0LW1hYw"

func fastClient(url string, opts ...ClientOption) *Client {
	return NewClient(url, testToken, nil, append([]ClientOption{WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)...)
}

func TestClientRoutes(t *testing.T) {
	type call struct {
		method, path, query, ctype, auth string
		body                             []byte
	}
	var mu sync.Mutex
	var calls []call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, call{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b})
		mu.Unlock()
		if r.Method == http.MethodGet {
			_ = json.NewEncoder(w).Encode(TaskSpec{TaskID: "task-1", Steps: []Step{{Type: StepRun, Command: "true"}}})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := fastClient(srv.URL + "/runner/v1/")
	ctx := context.Background()

	spec, err := c.Task(ctx)
	require.NoError(t, err)
	assert.Equal(t, "task-1", spec.TaskID)
	require.NoError(t, c.Start(ctx, TaskStart{Host: "h"}))
	code := 0
	require.NoError(t, c.Step(ctx, 2, StepReport{Status: StatusSuccess, ExitCode: &code}))
	require.NoError(t, c.StepOutput(ctx, 2, 7, []byte("hello\n")))
	require.NoError(t, c.Finish(ctx, TaskResult{Status: StatusSuccess}))
	require.NoError(t, c.Heartbeat(ctx))

	want := []struct{ method, path, query, ctype string }{
		{"GET", "/runner/v1/task", "", ""},
		{"POST", "/runner/v1/task/start", "", "application/json"},
		{"POST", "/runner/v1/task/steps/2", "", "application/json"},
		{"POST", "/runner/v1/task/steps/2/output", "seq=7", "application/octet-stream"},
		{"POST", "/runner/v1/task/finish", "", "application/json"},
		{"POST", "/runner/v1/task/heartbeat", "", ""},
	}
	require.Len(t, calls, len(want))
	for i, w := range want {
		assert.Equal(t, w.method, calls[i].method, i)
		assert.Equal(t, w.path, calls[i].path, i)
		assert.Equal(t, w.query, calls[i].query, i)
		assert.Equal(t, w.ctype, calls[i].ctype, i)
		assert.Equal(t, "Bearer "+testToken, calls[i].auth, i)
	}
	assert.Equal(t, []byte("hello\n"), calls[3].body)
	assert.JSONEq(t, `{"status":"success"}`, string(calls[4].body))
}

func TestClientRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int // answers in order; the last repeats
		deadline  time.Duration
		wantErr   error
		wantAPI   int // expected APIError status, 0 for none
		wantCalls int
	}{
		{name: "5xx then success", statuses: []int{502, 503, 500, 204}, deadline: time.Minute, wantCalls: 4},
		{name: "4xx is not retried", statuses: []int{401}, deadline: time.Minute, wantAPI: 401, wantCalls: 1},
		{name: "409 is not retried", statuses: []int{409}, deadline: time.Minute, wantAPI: 409, wantCalls: 1},
		{name: "410 is ErrTaskGone", statuses: []int{503, 410}, deadline: time.Minute, wantErr: ErrTaskGone, wantCalls: 2},
		{name: "5xx past the deadline", statuses: []int{500}, deadline: 30 * time.Millisecond, wantAPI: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				st := tt.statuses[min(i, len(tt.statuses)-1)]
				if st >= 300 {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(st)
					_, _ = w.Write([]byte(`{"message":"nope"}`))
					return
				}
				w.WriteHeader(st)
			}))
			defer srv.Close()
			err := fastClient(srv.URL, WithRetryDeadline(tt.deadline)).Heartbeat(context.Background())
			switch {
			case tt.wantErr != nil:
				assert.ErrorIs(t, err, tt.wantErr)
			case tt.wantAPI != 0:
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, tt.wantAPI, ae.StatusCode)
				assert.Equal(t, "nope", ae.Message)
			default:
				assert.NoError(t, err)
			}
			if tt.wantCalls > 0 {
				assert.Equal(t, tt.wantCalls, int(n.Load()))
			} else {
				assert.Greater(t, int(n.Load()), 1, "5xx must be retried")
			}
		})
	}
}

// TestClientOutlivesRestart: the API is down (connection refused), then comes
// back on the same address; the call in progress succeeds.
func TestClientOutlivesRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	var logs bytes.Buffer
	var logMu sync.Mutex
	c := NewClient("http://"+addr, testToken, nil, WithBackoff(5*time.Millisecond, 20*time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))))
	done := make(chan error, 1)
	go func() { done <- c.Finish(context.Background(), TaskResult{Status: StatusFailed}) }()

	// Let it fail a few times, then start the server.
	require.Eventually(t, func() bool {
		logMu.Lock()
		defer logMu.Unlock()
		return bytes.Count(logs.Bytes(), []byte("retrying")) >= 3
	}, 10*time.Second, 5*time.Millisecond)
	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("call did not succeed after the API came back")
	}
	logMu.Lock()
	defer logMu.Unlock()
	assert.NotContains(t, logs.String(), testToken, "the token must never be logged")
}

func TestClientNetworkErrorPastDeadlineHidesToken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	err = fastClient("http://"+addr, WithRetryDeadline(20*time.Millisecond)).Heartbeat(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "giving up")
	assert.NotContains(t, err.Error(), testToken)
}

func TestClientContextCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := fastClient(srv.URL).Heartbeat(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), err)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestTransferErrorsHideTheSignature(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close() // the connection drops mid-request
	}))
	defer srv.Close()
	c := fastClient(srv.URL, WithRetryDeadline(20*time.Millisecond))
	url := srv.URL + "/blob/k?expires=1&sig=deadbeefsecret"
	_, err := c.GetObject(context.Background(), url, io.Discard, func() error { return nil })
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "deadbeefsecret")
	err = c.PutObject(context.Background(), Upload{URL: url}, bytes.NewReader([]byte("x")), 1)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "deadbeefsecret")
}
