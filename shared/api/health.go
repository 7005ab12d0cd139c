package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/queue"
	"github.com/orbit-ci/orbit/shared/secrets"
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

// Checks are named dependency checks ("store", "blob", "secrets", …); a nil
// error is healthy. Health runs them, and the groups added with And, at
// once: Config.Health of a process that holds these dependencies.
type Checks map[string]func(ctx context.Context) error

// Health runs every check concurrently and returns each one's result.
func (c Checks) Health(ctx context.Context) map[string]error {
	out := make(map[string]error, len(c))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range c {
		wg.Go(func() {
			err := check(ctx)
			mu.Lock()
			out[name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// And returns a Config.Health that runs c and more (e.g. the bridge's
// Health: "nomad", "run_queue") at once, merging their results.
func (c Checks) And(more ...func(ctx context.Context) map[string]error) func(ctx context.Context) map[string]error {
	return func(ctx context.Context) map[string]error {
		results := make([]map[string]error, len(more))
		var wg sync.WaitGroup
		for i, f := range more {
			wg.Go(func() { results[i] = f(ctx) })
		}
		out := c.Health(ctx)
		wg.Wait()
		for _, r := range results {
			for name, err := range r {
				out[name] = err
			}
		}
		return out
	}
}

// healthKey is a key no record has: reading it proves the store answers.
const healthKey = "HEALTH#CHECK"

// StoreCheck reads one (missing) item: the store answers.
func StoreCheck(s interface {
	Get(ctx context.Context, pk, sk string) (kv.Item, error)
}) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := s.Get(ctx, healthKey, healthKey); err != nil && !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	}
}

// BlobCheck lists at most one object: the blob store answers.
func BlobCheck(b interface {
	List(ctx context.Context, prefix, startAfter string, limit int) (blob.ListPage, error)
}) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := b.List(ctx, "health/", "", 1); err != nil {
			return fmt.Errorf("blob store: %w", err)
		}
		return nil
	}
}

// QueueCheck reads a queue's depth: the queue answers.
func QueueCheck(q interface {
	Stats(ctx context.Context) (queue.Stats, error)
}) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := q.Stats(ctx); err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		return nil
	}
}

// SecretsCheck asks the key service for a data key (and drops it): the
// master keys are there and usable.
func SecretsCheck(keys interface {
	GenerateDataKey(ctx context.Context, aad map[string]string) (secrets.DataKey, error)
}) func(context.Context) error {
	return func(ctx context.Context) error {
		dk, err := keys.GenerateDataKey(ctx, map[string]string{"purpose": "health-check"})
		if err != nil {
			return fmt.Errorf("secrets: %w", err)
		}
		clear(dk.Plaintext)
		return nil
	}
}
