package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Invoker runs the Lambda functions the engine has no Handler for: the
// lambda:invoke tasks (and Lambda ARN resources) of a function not given to
// RegisterLambda go to it. It returns the function's output, or an error
// with ErrorName() (and Cause()) that becomes the task's error, as a
// Handler's does. Invoke must be safe for concurrent use.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload json.RawMessage) (json.RawMessage, error)
}

// maxInvokePayload is Lambda's limit on a synchronous invocation's request
// and response (6 MB).
const maxInvokePayload = 6 * 1024 * 1024

// HTTPInvoker calls the Lambda Invoke API synchronously:
// POST <endpoint>/2015-03-31/functions/<name>/invocations with the payload
// as the body (InvocationType RequestResponse). That is what the Lambda
// Runtime Interface Emulator serves, each emulator running one function;
// requests are not signed, so it does not speak to AWS itself.
//
// Errors are Step Functions': a function error (the X-Amz-Function-Error
// header) is named by the function's errorType with the error document as
// its cause; a 404 is Lambda.ResourceNotFoundException, a 429
// Lambda.TooManyRequestsException, a 413 Lambda.RequestTooLargeException,
// an unreachable endpoint or a 5xx Lambda.ServiceException; a payload
// over 6 MB is refused before it is sent, as Lambda refuses it.
type HTTPInvoker struct {
	// Endpoints maps a function name to the base URL serving it, e.g.
	// "https://lambda.us-east-1.amazonaws.com"; the key "" is the endpoint
	// of every other function. An endpoint ending in "/invocations" is the
	// invocation URL itself: the emulator serves its one function as
	// "function", e.g. "http://127.0.0.1:9001/2015-03-31/functions/function/invocations".
	Endpoints map[string]string
	// Client sends the requests (nil: http.DefaultClient). The task's
	// context bounds each call.
	Client *http.Client
}

var _ Invoker = (*HTTPInvoker)(nil)

// Invoke implements Invoker.
func (h *HTTPInvoker) Invoke(ctx context.Context, function string, payload json.RawMessage) (json.RawMessage, error) {
	base, ok := h.Endpoints[function]
	if !ok {
		base, ok = h.Endpoints[""]
	}
	if !ok {
		return nil, invokeError("Lambda.ResourceNotFoundException", "Function not found: %s (no Invoke endpoint configured)", function)
	}
	if len(payload) > maxInvokePayload {
		return nil, invokeError("Lambda.RequestTooLargeException", "Request must be smaller than %d bytes for the InvokeFunction operation (function %s, %d bytes)", maxInvokePayload, function, len(payload))
	}
	u := base
	if !strings.HasSuffix(u, "/invocations") {
		u = strings.TrimRight(base, "/") + "/2015-03-31/functions/" + url.PathEscape(function) + "/invocations"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return nil, invokeError("Lambda.ServiceException", "invoke %s: %v", function, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, invokeError("Lambda.ServiceException", "invoke %s: %v", function, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxInvokePayload+1))
	if err != nil {
		return nil, invokeError("Lambda.ServiceException", "invoke %s: read the response: %v", function, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, invokeError("Lambda.ResourceNotFoundException", "Function not found: %s", function)
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, invokeError("Lambda.TooManyRequestsException", "Rate exceeded (function %s)", function)
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return nil, invokeError("Lambda.RequestTooLargeException", "%s", strings.TrimSpace(string(body)))
	case resp.StatusCode >= 500 || resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, invokeError("Lambda.ServiceException", "invoke %s: HTTP %d: %s", function, resp.StatusCode, strings.TrimSpace(string(body)))
	case len(body) > maxInvokePayload:
		return nil, invokeError("Lambda.ServiceException", "function %s returned more than %d bytes", function, maxInvokePayload)
	}
	if kind := resp.Header.Get("X-Amz-Function-Error"); kind != "" {
		var doc struct {
			ErrorType string `json:"errorType"`
		}
		_ = json.Unmarshal(body, &doc)
		name := doc.ErrorType
		if name == "" {
			name = kind // "Unhandled": the runtime crashed or timed out
		}
		return nil, &statesError{name: name, cause: string(body)}
	}
	return body, nil
}

func invokeError(name, format string, args ...any) error {
	return &statesError{name: name, cause: fmt.Sprintf(format, args...)}
}
