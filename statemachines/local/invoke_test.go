package local_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines/local"
)

// TestHTTPInvoker runs a lambda:invoke task through the Invoke API, each
// answer shaped as Lambda (and the Runtime Interface Emulator) gives it,
// and checks the task's output or error as Step Functions reports them.
func TestHTTPInvoker(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    string // X-Amz-Function-Error
		body      string
		function  string
		rie       bool // the endpoint is the emulator's invocation URL
		wantOut   string
		wantError string
		wantCause string
	}{
		{name: "output", status: 200, body: `{"echo":1}`, wantOut: `{"echo":1}`},
		{name: "emulator invocation URL", status: 200, body: `{"echo":2}`, rie: true, wantOut: `{"echo":2}`},
		{name: "function error keeps its errorType", status: 200, header: "Unhandled",
			body:      `{"errorType":"InfrastructureFail","errorMessage":"node lost"}`,
			wantError: "InfrastructureFail", wantCause: `"errorMessage":"node lost"`},
		{name: "crash without a type", status: 200, header: "Unhandled", body: `{}`, wantError: "Unhandled"},
		{name: "throttled", status: 429, body: `{}`, wantError: "Lambda.TooManyRequestsException"},
		{name: "service error", status: 502, body: `bad gateway`, wantError: "Lambda.ServiceException", wantCause: "502"},
		{name: "unknown function", status: 404, body: ``, wantError: "Lambda.ResourceNotFoundException"},
		{name: "no endpoint for the function", function: "other", wantError: "Lambda.ResourceNotFoundException", wantCause: "no Invoke endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct{ path, body string }
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got.path, got.body = r.URL.Path, string(b)
				if tt.header != "" {
					w.Header().Set("X-Amz-Function-Error", tt.header)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			endpoint, wantPath := srv.URL, "/2015-03-31/functions/fn/invocations"
			if tt.rie {
				wantPath = "/2015-03-31/functions/function/invocations"
				endpoint += wantPath
			}
			e, _ := newEngine(t, local.Config{Invoker: &local.HTTPInvoker{Endpoints: map[string]string{"fn": endpoint}}})
			fn := "fn"
			if tt.function != "" {
				fn = tt.function
			}
			arn := define(t, e, "m", map[string]any{"StartAt": "T", "States": map[string]any{
				"T": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
					"Parameters": map[string]any{"FunctionName": fn, "Payload": map[string]any{"v.$": "$.v"}},
					"OutputPath": "$.Payload", "End": true},
			}})
			d := run(t, e, arn, `{"v":7}`)
			if tt.wantError != "" {
				assert.Equal(t, local.StatusFailed, d.Status)
				assert.Equal(t, tt.wantError, d.Error)
				assert.Contains(t, d.Cause, tt.wantCause)
				return
			}
			require.Equal(t, local.StatusSucceeded, d.Status, d.Cause)
			assert.JSONEq(t, tt.wantOut, string(d.Output))
			assert.Equal(t, wantPath, got.path)
			assert.JSONEq(t, `{"v":7}`, got.body)
		})
	}
}

// TestHTTPInvokerPayloadLimit: a payload over Lambda's 6 MB is refused
// before it is sent.
func TestHTTPInvokerPayloadLimit(t *testing.T) {
	called := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	defer srv.Close()
	inv := &local.HTTPInvoker{Endpoints: map[string]string{"": srv.URL}}
	big, err := json.Marshal(map[string]string{"blob": strings.Repeat("x", 6*1024*1024)})
	require.NoError(t, err)
	_, err = inv.Invoke(testCtx(t), "big", big)
	var named interface{ ErrorName() string }
	require.ErrorAs(t, err, &named)
	assert.Equal(t, "Lambda.RequestTooLargeException", named.ErrorName())
	assert.False(t, called)
}
