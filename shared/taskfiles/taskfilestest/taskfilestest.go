// Package taskfilestest runs a real taskfiles.Service for tests of its
// clients (the build agent, the API): a directory blob store, an in-memory
// task registry standing in for Orbit's records, and one HTTP handler that
// serves the blob store's presigned GETs and the signed upload PUTs.
package taskfilestest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/orbit-ci/orbit/shared/blob/dirblob"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/taskfiles"
)

// Tasks is an in-memory taskfiles.Tasks.
type Tasks struct {
	mu    sync.Mutex
	tasks map[string]taskfiles.TaskContext
	over  map[string]bool
}

// Set registers or replaces a task.
func (t *Tasks) Set(tc taskfiles.TaskContext) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	t.tasks[tc.TaskID] = tc
}

// End makes a task terminal.
func (t *Tasks) End(taskID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	t.over[taskID] = true
}

func (t *Tasks) init() {
	if t.tasks == nil {
		t.tasks, t.over = map[string]taskfiles.TaskContext{}, map[string]bool{}
	}
}

// TaskContext implements taskfiles.Tasks.
func (t *Tasks) TaskContext(_ context.Context, taskID string) (taskfiles.TaskContext, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tc, ok := t.tasks[taskID]
	switch {
	case !ok:
		return tc, fmt.Errorf("task %s: not found", taskID)
	case t.over[taskID]:
		return tc, fmt.Errorf("task %s: %w", taskID, runner.ErrTaskTerminal)
	}
	return tc, nil
}

// Env is a running Service.
type Env struct {
	Service *taskfiles.Service
	Blobs   *dirblob.Store
	Tasks   *Tasks
	// Handler serves GET /blob/... (presigned downloads) and PUT
	// /runner/v1/uploads/... (uploads); mount it at the root of BaseURL.
	Handler http.Handler
}

// New builds an Env whose URLs start with baseURL (e.g. an httptest
// server's URL), storing under dir.
func New(dir, baseURL string) (*Env, error) {
	secret := []byte(strings.Repeat("k", 32))
	blobs, err := dirblob.New(dirblob.Config{Root: dir, BaseURL: baseURL + "/blob", Secret: secret})
	if err != nil {
		return nil, err
	}
	tasks := &Tasks{}
	svc, err := taskfiles.New(taskfiles.Config{Blobs: blobs, Tasks: tasks,
		UploadURL: baseURL + "/runner/v1/uploads", Secret: secret})
	if err != nil {
		return nil, err
	}
	runnerFiles := runner.NewHandler(nil, noTokens{}, nil, runner.WithFiles(svc))
	mux := http.NewServeMux()
	mux.Handle("/blob/", blobs.Handler())
	mux.Handle("PUT /runner/v1/uploads/", http.StripPrefix("/runner/v1", runnerFiles))
	return &Env{Service: svc, Blobs: blobs, Tasks: tasks, Handler: mux}, nil
}

// noTokens refuses every token: Handler serves only the signed uploads.
type noTokens struct{}

func (noTokens) Verify(string) (string, error) { return "", runner.ErrBadToken }
