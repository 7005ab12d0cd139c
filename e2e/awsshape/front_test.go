package awsshape

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// front is the test's API Gateway HTTP API (payload format 2.0): each
// request becomes an APIGatewayV2HTTPRequest event invoked on the api
// function, and the function's APIGatewayV2HTTPResponse becomes the answer.
// As in AWS, an event or a response over Lambda's 6 MB limit fails (413 /
// 502): a route whose body can grow must not send it through Lambda.
type front struct {
	api      *function
	requests atomic.Int64 // API Gateway requests
	units    atomic.Int64 // metered requests: API Gateway counts each 512 KB as one
	paths    func(path string)
	mu       sync.Mutex
	byPath   map[string]int // requests per URL path
}

// requestsTo counts the requests the front passed for one URL path.
func (f *front) requestsTo(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byPath[path]
}

// requestsWhere counts the requests the front passed for the URL paths
// match accepts.
func (f *front) requestsWhere(match func(path string) bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for p, c := range f.byPath {
		if match(p) {
			n += c
		}
	}
	return n
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	if f.byPath == nil {
		f.byPath = map[string]int{}
	}
	f.byPath[r.URL.Path]++
	f.mu.Unlock()
	if f.paths != nil {
		f.paths(r.Method + " " + r.URL.Path)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.units.Add(int64(max(1, (len(body)+512*1024-1)/(512*1024))))
	headers := map[string]string{}
	for k, v := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	headers["host"] = r.Host
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery,
		Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "$default", Stage: "$default", DomainName: r.Host,
			RequestID: strconv.FormatInt(time.Now().UnixNano(), 36), TimeEpoch: time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: "127.0.0.1", UserAgent: r.UserAgent()},
		},
	}
	for _, c := range r.Cookies() {
		ev.Cookies = append(ev.Cookies, c.String())
	}
	if len(body) > 0 {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if len(payload) > maxInvokePayload {
		http.Error(w, `{"message":"Request Entity Too Large"}`, http.StatusRequestEntityTooLarge)
		return
	}
	out, h, err := f.api.invoke(r.Context(), payload)
	if err != nil || h.Get("X-Amz-Function-Error") != "" {
		http.Error(w, `{"message":"Internal Server Error"}`, http.StatusBadGateway)
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		http.Error(w, `{"message":"Internal Server Error"}`, http.StatusBadGateway)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	data := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if data, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			http.Error(w, `{"message":"Internal Server Error"}`, http.StatusBadGateway)
			return
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(data)
}
