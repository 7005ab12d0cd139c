package api

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"
)

// healthTimeout bounds the dependency checks of one health request.
const healthTimeout = 5 * time.Second

// checks runs the configured health checks.
func (s *server) checks(ctx context.Context) map[string]error {
	if s.cfg.Health == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	return s.cfg.Health(ctx)
}

// healthCheck is CircleCI Server's /health-check: 200 when every dependency
// answers, else 500 naming the failed ones (their errors are on /status).
func (s *server) healthCheck(w http.ResponseWriter, r *http.Request) {
	var failed []string
	for name, err := range s.checks(r.Context()) {
		if err != nil {
			failed = append(failed, name)
		}
	}
	if len(failed) == 0 {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	sort.Strings(failed)
	writeJSON(w, http.StatusInternalServerError, healthBody{
		Status:  "unhealthy",
		Message: "unhealthy dependencies: " + strings.Join(failed, ", "),
		Failed:  failed,
	})
}

type healthBody struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Failed  []string `json:"failed"`
}

// statusBody is /status: the version and each dependency's state.
type statusBody struct {
	Status       string            `json:"status"`
	Version      string            `json:"version"`
	Dependencies map[string]string `json:"dependencies"`
}

// status reports every dependency: "ok" or its error.
func (s *server) status(w http.ResponseWriter, r *http.Request) {
	body := statusBody{Status: "ok", Version: s.cfg.Version, Dependencies: map[string]string{}}
	code := http.StatusOK
	for name, err := range s.checks(r.Context()) {
		if err == nil {
			body.Dependencies[name] = "ok"
			continue
		}
		body.Dependencies[name] = err.Error()
		body.Status, code = "unhealthy", http.StatusInternalServerError
		s.log.WarnContext(r.Context(), "dependency unhealthy", "request_id", RequestID(r.Context()),
			"dependency", name, "error", err)
	}
	writeJSON(w, code, body)
}
