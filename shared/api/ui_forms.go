package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/orbit-ci/orbit/shared/store"
)

// The settings, contexts and account pages' forms do their work through
// the API's own handlers (callAPI): the same checks, the same store and
// vault calls and the same audit events as the JSON routes, so a form
// can never do what the API would refuse, nor leave a different trace.

// callAPI runs the API handler h for the form request r with body as its
// JSON body and path as extra path values (name, value pairs), and
// returns its answer decoded. An error the handler reports (a bad value,
// a missing record, no access) is returned as it is; htmlError and
// formAction turn it into the page's message.
func (s *server) callAPI(r *http.Request, h apiFunc, body any, path ...string) (map[string]any, error) {
	var answer map[string]any
	err := s.callAPIInto(r, h, body, &answer, path...)
	return answer, err
}

// callAPIInto is callAPI with the answer decoded into out (nil: ignored).
func (s *server) callAPIInto(r *http.Request, h apiFunc, body, out any, path ...string) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(raw))
	req.ContentLength = int64(len(raw))
	req.Header = r.Header.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.URL = &url.URL{Path: r.URL.Path} // the API reads options from the query; a form gives none
	for i := 0; i+1 < len(path); i += 2 {
		req.SetPathValue(path[i], path[i+1])
	}
	rec := &answerRecorder{header: http.Header{}}
	if err := h(rec, req); err != nil {
		return err
	}
	if rec.status >= http.StatusBadRequest {
		var m message
		_ = json.Unmarshal(rec.body.Bytes(), &m)
		msg := m.Message
		if msg == "" {
			msg = http.StatusText(rec.status)
		}
		switch rec.status {
		case http.StatusBadRequest:
			return badRequest("%s", msg)
		case http.StatusForbidden:
			return &forbiddenError{msg}
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s", store.ErrNotFound, msg)
		}
		return errors.New(msg)
	}
	if out == nil || rec.body.Len() == 0 {
		return nil
	}
	return json.Unmarshal(rec.body.Bytes(), out)
}

// answerRecorder keeps an in-process API answer.
type answerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *answerRecorder) Header() http.Header { return a.header }

func (a *answerRecorder) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(b)
}

// formAction is action for a form on a page the user returns to: a
// refusal of what was typed (400) goes back to back(r) with the reason as
// the notice, so the page says what to fix; other errors (no access, a
// record gone, a failure) show the error page.
func (s *server) formAction(back func(r *http.Request) string, fn actionFunc) http.Handler {
	return s.action(func(r *http.Request) (string, string, error) {
		next, notice, err := fn(r)
		if err != nil {
			if code, msg := classify(err); code == http.StatusBadRequest || code == http.StatusConflict {
				return back(r), "Not saved: " + strings.TrimPrefix(msg, "request body: "), nil
			}
		}
		return next, notice, err
	})
}

// formValue is a form field with surrounding spaces removed.
func formValue(r *http.Request, name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
