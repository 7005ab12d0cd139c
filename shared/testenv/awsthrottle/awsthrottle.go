// Package awsthrottle puts an HTTP front before an AWS endpoint (moto in
// tests) that answers the first attempts of every SDK call with the
// service's throttling error, so tests can show that a driver's requests
// are retried with backoff and that nothing is lost or applied twice.
//
//	SDK client ──▶ Front ──attempt ≤ Throttles of this call──▶ 400/503 throttling error
//	                  └──────────later attempts─────────────▶ reverse proxy ──▶ moto
//
// A call is recognised by the header amz-sdk-invocation-id, which the SDK
// sets once per operation and repeats on each retry. The throttled request
// never reaches the endpoint, as a real throttle: its retry is the first
// attempt the endpoint sees.
package awsthrottle

import (
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Front is the throttling front. Create it with New.
type Front struct {
	// URL is the front's base URL: the clients' BaseEndpoint.
	URL string

	throttles int
	only      map[string]bool // operations to throttle; empty: all
	srv       *httptest.Server
	proxy     *httputil.ReverseProxy

	mu        sync.Mutex
	attempts  map[string]int // by invocation id
	throttled map[string]int // throttled answers by operation
	passed    map[string]int // requests passed on, by operation
}

// New starts a front before target (e.g. moto's URL) that throttles the
// first throttles attempts of every call of the operations ops (named as
// Throttled names them, e.g. "SQS.SendMessage"; none: every operation).
// Close it when done.
func New(target string, throttles int, ops ...string) (*Front, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("awsthrottle: target %q is not an absolute URL", target)
	}
	only := map[string]bool{}
	for _, op := range ops {
		only[op] = true
	}
	f := &Front{throttles: throttles, only: only, proxy: httputil.NewSingleHostReverseProxy(u),
		attempts: map[string]int{}, throttled: map[string]int{}, passed: map[string]int{}}
	// A client that gives up (its context ended) is no news to log.
	f.proxy.ErrorLog = log.New(io.Discard, "", 0)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f, nil
}

// Config returns base pointed at the front, with the SDK's standard
// retryer made quick for tests: a 1 ms backoff instead of the 1 s base for
// throttles, and no retry quota (a suite of hundreds of throttled calls
// would drain the 500 tokens; in production the quota is what stops a
// retry storm). Its MaxAttempts stay the SDK's default (3): the drivers
// raise it themselves.
func (f *Front) Config(base aws.Config) aws.Config {
	cfg := base.Copy()
	cfg.BaseEndpoint = aws.String(f.URL)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			o.RateLimiter = ratelimit.None
		})
	}
	return cfg
}

// Close stops the front.
func (f *Front) Close() { f.srv.Close() }

// Throttled returns how many throttling answers each operation got
// (e.g. "DynamoDB.PutItem", "SQS.SendMessage", "S3.PUT").
func (f *Front) Throttled() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.throttled)
}

// Passed returns how many requests of each operation reached the target.
func (f *Front) Passed() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.passed)
}

func (f *Front) serve(w http.ResponseWriter, r *http.Request) {
	svc, op := operation(r)
	key := svc + "." + op
	id := r.Header.Get("amz-sdk-invocation-id")
	f.mu.Lock()
	throttle := false
	if id != "" && (len(f.only) == 0 || f.only[key]) {
		f.attempts[id]++
		throttle = f.attempts[id] <= f.throttles
	}
	if throttle {
		f.throttled[key]++
	} else {
		f.passed[key]++
	}
	n := f.throttled[key]
	f.mu.Unlock()
	if !throttle {
		f.proxy.ServeHTTP(w, r)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	writeThrottle(w, svc, n)
}

// operation names the service and operation of a request: JSON protocols
// say it in X-Amz-Target ("DynamoDB_20120810.PutItem", "AmazonSQS.SendMessage",
// "TrentService.Encrypt"); anything else is taken for S3's REST API.
func operation(r *http.Request) (svc, op string) {
	target := r.Header.Get("X-Amz-Target")
	prefix, op, ok := strings.Cut(target, ".")
	if !ok {
		return "S3", r.Method
	}
	switch {
	case strings.HasPrefix(prefix, "DynamoDB"):
		return "DynamoDB", op
	case prefix == "AmazonSQS":
		return "SQS", op
	case prefix == "TrentService":
		return "KMS", op
	}
	return prefix, op
}

// Throttling error codes each service answers, in turn; the SDK's standard
// retryer counts every one of them as a throttle (retry.DefaultThrottleErrorCodes).
var codes = map[string][]string{
	"DynamoDB": {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"},
	"SQS":      {"RequestThrottled", "ThrottlingException"},
	"KMS":      {"ThrottlingException"},
	"S3":       {"SlowDown"},
}

// writeThrottle answers as the service does when it throttles; n picks the
// error code in turn.
func writeThrottle(w http.ResponseWriter, svc string, n int) {
	list := codes[svc]
	if len(list) == 0 {
		list = []string{"ThrottlingException"}
	}
	code := list[n%len(list)]
	msg := "Rate exceeded (throttled by awsthrottle)"
	switch svc {
	case "S3":
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
	case "SQS":
		// SQS's JSON protocol also names the query-protocol code.
		w.Header().Set("x-amzn-query-error", code+";Sender")
		fallthrough
	default:
		ns := map[string]string{"DynamoDB": "com.amazonaws.dynamodb.v20120810#", "SQS": "com.amazonaws.sqs#"}[svc]
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"%s%s","message":"%s"}`, ns, code, msg)
	}
}
