package api

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"

	"github.com/orbit-ci/orbit/shared/audit"
)

// Auditing: the routes whose actions the seed's audit log lists are
// wrapped in audited (see the route tables in api.go, vault.go and
// actions.go). The wrapper records the action after the handler ran,
// success or not (the event's success flag says which), with the request
// (X-Request-Id, the client's address, X-Client-Trace-Id) and the caller
// (audit.Config.ActorFrom). The payload names what was acted on, never a
// value: the target comes from the path, or from the handler's JSON answer
// (masked values only) for creations.

// auditTarget names an audited request's target and payload from the
// request and the first bytes of the handler's answer.
type auditTarget func(r *http.Request, answer map[string]any) (target, scope audit.Entity, payload map[string]any)

// audited wraps h so that each call records action. Without a recorder
// (Config.Audit nil) it is h.
func (s *server) audited(action string, target auditTarget, h apiFunc) apiFunc {
	if s.cfg.Audit == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := audit.WithRequest(r.Context(), requestOf(r))
		r = r.WithContext(ctx)
		tee := &teeWriter{ResponseWriter: w}
		err := h(tee, r)
		var answer map[string]any
		_ = json.Unmarshal(tee.head.Bytes(), &answer)
		tgt, scope, payload := target(r, answer)
		s.cfg.Audit.Must(ctx, audit.Event{Action: action, Target: tgt, Scope: scope, Payload: payload,
			Success: err == nil && tee.status < http.StatusBadRequest})
		return err
	}
}

// requestOf is the audit view of r: the client's address is the peer's
// (Orbit sees no proxy headers it could trust).
func requestOf(r *http.Request) audit.Request {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return audit.Request{ID: RequestID(r.Context()), IPAddress: ip, ClientTraceID: r.Header.Get("X-Client-Trace-Id")}
}

// teeWriter keeps the status and the first 4 KiB of the answer.
type teeWriter struct {
	http.ResponseWriter
	status int
	head   bytes.Buffer
}

func (t *teeWriter) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	if n := 4096 - t.head.Len(); n > 0 {
		t.head.Write(b[:min(n, len(b))])
	}
	return t.ResponseWriter.Write(b)
}

// projectTarget: the project of the path ({vcs}/{org}/{repo}), or of the
// answer's slug (a follow), with the path's {name} as the variable.
func projectTarget(r *http.Request, answer map[string]any) (audit.Entity, audit.Entity, map[string]any) {
	slug := r.PathValue("vcs") + "/" + r.PathValue("org") + "/" + r.PathValue("repo")
	if r.PathValue("vcs") == "" {
		slug, _ = answer["slug"].(string)
		if slug == "" {
			slug = "unknown"
		}
	}
	payload := map[string]any{"project": map[string]any{"slug": slug}}
	if name := varName(r, answer); name != "" {
		payload["env_var"] = map[string]any{"name": name}
	}
	return audit.ProjectEntity(slug), audit.AccountEntity(slug), payload
}

// contextTarget: the context of the path's {id}, or of the answer's id (a
// creation).
func contextTarget(r *http.Request, answer map[string]any) (audit.Entity, audit.Entity, map[string]any) {
	id := r.PathValue("id")
	if id == "" {
		id, _ = answer["id"].(string)
	}
	name, _ := answer["name"].(string)
	if id == "" {
		id = "unknown"
	}
	payload := map[string]any{"context": map[string]any{"id": id, "name": name}}
	if v := varName(r, answer); v != "" {
		payload["env_var"] = map[string]any{"name": v}
	}
	return audit.Entity{ID: id, Type: "context", Name: name}, audit.Entity{ID: id, Type: "context", Name: name}, payload
}

// workflowTarget: the workflow of the path's {id} (approvals, reruns).
func workflowTarget(r *http.Request, answer map[string]any) (audit.Entity, audit.Entity, map[string]any) {
	id := r.PathValue("id")
	payload := map[string]any{"workflow": map[string]any{"id": id}}
	if a := r.PathValue("approval_request_id"); a != "" {
		payload["job"] = map[string]any{"id": a}
	}
	if nw, ok := answer["workflow_id"].(string); ok {
		payload["new_workflow"] = map[string]any{"id": nw}
	}
	return audit.Entity{ID: id, Type: "workflow"}, audit.Entity{ID: id, Type: "workflow"}, payload
}

// varName is the variable a request names: in its path, or the answer's
// "name"/"variable" (the masked answer of a creation).
func varName(r *http.Request, answer map[string]any) string {
	if n := r.PathValue("name"); n != "" {
		return n
	}
	if n, ok := answer["variable"].(string); ok {
		return n
	}
	if _, isVar := answer["value"]; isVar {
		n, _ := answer["name"].(string)
		return n
	}
	return ""
}
