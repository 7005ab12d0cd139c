package api

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
)

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to ("" outside a
// request served by this package's handler).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// middleware wraps the mux: it gives every request an id (the caller's
// X-Request-Id when it is sane, else a new one, echoed in the response),
// sets nosniff, recovers panics, lets project slugs arrive with escaped
// slashes, and writes one access-log line per request. Only the method,
// path (never the query, which may carry presigned-URL signatures), status,
// size and duration are logged: never headers, so never Authorization or
// Circle-Token.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		rec := &recorder{ResponseWriter: w}
		r = s.circleciSlug(canonicalProvider(unescapeSlug(r.WithContext(ctx))))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic serving request", "request_id", id, "panic", p,
					"stack", string(debug.Stack()))
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, message{Message: internalMessage})
				}
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			// Access logs are DEBUG (they were 2,036 of the first 2,321
			// INFO lines of a run, issue 9); a server error is WARN, its
			// cause is logged at ERROR where it is classified.
			level := slog.LevelDebug
			if rec.status >= http.StatusInternalServerError {
				level = slog.LevelWarn
			}
			s.log.LogAttrs(ctx, level, "request",
				slog.String("request_id", id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", time.Since(start)))
		}()
		next.ServeHTTP(rec, r)
	})
}

// validRequestID accepts ids of up to 128 characters from a safe set, so
// that a caller cannot inject into logs or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}

// unescapeSlug lets /api/v2/project/local%2Facme%2Fapi/... reach the routes
// written for /api/v2/project/local/acme/api/... (CircleCI accepts both):
// ServeMux matches the escaped path segment by segment, so dropping RawPath
// makes the %2F real slashes. Only project and insights paths are rewritten.
func unescapeSlug(r *http.Request) *http.Request {
	if r.URL.RawPath == "" || !strings.HasPrefix(r.URL.Path, "/api/v2/project/") && !strings.HasPrefix(r.URL.Path, "/api/v2/insights/") {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.RawPath = ""
	r2.URL = &u
	return r2
}

// recorder remembers the status and size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush
// for streaming responses).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
