package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// requestError is a problem with the request itself (body, query or path
// parameter); its text is shown to the caller as is.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

// badRequest returns a requestError (400) with a message that says what was
// wrong and where.
func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

// errRouteNotFound answers API paths that match no route.
var errRouteNotFound = errors.New("route not found")

// errMethodNotAllowed answers a known API path asked with a method it does
// not serve (405, with the Allow header set).
var errMethodNotAllowed = errors.New("method not allowed")

// routeMethods are the methods the API's routes use.
var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// methodNotAllowed runs for an /api/ request no route took: when the path
// is a route's under another method it sets Allow and returns
// errMethodNotAllowed, else errRouteNotFound. (The catch-all /api/ route,
// which makes unknown paths answer CircleCI's JSON 404, would otherwise
// also take the wrong methods of known paths, where net/http answers 405.)
func methodNotAllowed(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range routeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return errRouteNotFound
	}
	if slices.Contains(allow, http.MethodGet) {
		allow = append(allow, http.MethodHead)
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return errMethodNotAllowed
}

// internalMessage is all a caller learns of an unexpected error; the error
// itself is logged with the request id.
const internalMessage = "internal server error"

// classify is the one place where errors become HTTP statuses and the
// message the caller sees.
func classify(err error) (code int, msg string) {
	var reqErr *requestError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &reqErr):
		return http.StatusBadRequest, reqErr.msg
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)
	case errors.Is(err, conductor.ErrBadTrigger), errors.Is(err, conductor.ErrNotAllowed), errors.Is(err, vcs.ErrRepoNotFound),
		errors.Is(err, vault.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, accounts.ErrUnauthenticated), errors.Is(err, accounts.ErrSuspended):
		// CircleCI's words; a suspended user learns no more than that.
		return http.StatusUnauthorized, "You must log in first."
	case errors.Is(err, accounts.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, accounts.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, errForbidden):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType, err.Error()
	case errors.Is(err, errRateLimited):
		return http.StatusTooManyRequests, err.Error()
	case errors.Is(err, errRouteNotFound):
		return http.StatusNotFound, "Not found"
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, "Method not allowed"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, store.ErrExists):
		return http.StatusConflict, err.Error()
	case errors.Is(err, conductor.ErrIdempotencyConflict):
		return http.StatusUnprocessableEntity, err.Error()
	}
	return http.StatusInternalServerError, internalMessage
}

// message is CircleCI's error body.
type message struct {
	Message string `json:"message"`
}

// apiFunc is a JSON handler; a returned error is answered by fail.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// api adapts an apiFunc to http.Handler.
func (s *server) api(fn apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			code, msg := s.classifyAndLog(r, err)
			writeJSON(w, code, message{Message: msg})
		}
	})
}

// classifyAndLog classifies err and logs server errors in full.
func (s *server) classifyAndLog(r *http.Request, err error) (int, string) {
	code, msg := classify(err)
	if code >= http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "error", err)
	} else {
		s.log.DebugContext(r.Context(), "request refused", "request_id", RequestID(r.Context()),
			"status", code, "error", err)
	}
	return code, msg
}

// writeJSON writes v as the JSON response body with code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the client went away; nothing to do
}

// decodeJSON reads the request body into v. An empty body leaves v as it is
// when allowEmpty (CircleCI's trigger takes an optional body).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields() // {"brnch": "main"} is a mistake, not the default branch
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return err
		case errors.Is(err, io.EOF) && allowEmpty:
			return nil
		case errors.Is(err, io.EOF):
			return badRequest("request body: expected a JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			// encoding/json has no typed error for this one, and names
			// only the last key: find its whole path.
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			if path := unknownField(raw, reflect.TypeOf(v)); path != "" {
				field = path
			}
			return badRequest("request body: unknown field %q", field)
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return badRequest("request body: field %q: expected %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return badRequest("request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return badRequest("request body: unexpected data after the JSON object")
	}
	return nil
}

// unknownField is the dotted path ("owner.kind") of the first key in the
// JSON document raw that type t has no field for, or "".
func unknownField(raw []byte, t reflect.Type) string {
	var doc any
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	return unknownIn(doc, t, "")
}

func unknownIn(doc any, t reflect.Type, at string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch d := doc.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			for k, v := range d {
				if p := unknownIn(v, t.Elem(), join(at, k)); p != "" {
					return p
				}
			}
		case reflect.Struct:
			keys := slices.Sorted(maps.Keys(d))
			for _, k := range keys {
				f, ok := jsonField(t, k)
				if !ok {
					return join(at, k)
				}
				if p := unknownIn(d[k], f.Type, join(at, k)); p != "" {
					return p
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, v := range d {
				if p := unknownIn(v, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

// jsonField finds the field encoding/json decodes key into (names match
// without regard to case, as encoding/json matches them).
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || f.Anonymous && name == "" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.EqualFold(name, key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// maxBody bounds request bodies.
const maxBody = 1 << 20
