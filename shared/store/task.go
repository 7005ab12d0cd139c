package store

import (
	"context"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/status"
)

// Task is one parallel node of one attempt of a job: what one Nomad job runs.
type Task struct {
	ID          string     `json:"id"`
	JobID       string     `json:"job_id"`
	JobName     string     `json:"job_name"`
	WorkflowID  string     `json:"workflow_id"`
	PipelineID  string     `json:"pipeline_id"`
	ProjectSlug string     `json:"project_slug"`
	Index       int        `json:"index"`
	Attempt     int        `json:"attempt"`
	Status      status.Job `json:"status"`
	// Host is where the agent runs (reported by the agent).
	Host      string     `json:"host,omitempty"`
	Message   string     `json:"message,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	StoppedAt *time.Time `json:"stopped_at,omitempty"`
}

// TaskID is the deterministic id of a job's task, so a retried dispatch
// finds the tasks it created before.
func TaskID(jobID string, attempt, index int) string {
	return fmt.Sprintf("%s-%d-%d", jobID, attempt, index)
}

// Step is one step of a task.
type Step struct {
	TaskID    string      `json:"task_id"`
	Index     int         `json:"index"`
	Name      string      `json:"name"`
	Type      string      `json:"type"`
	Status    status.Step `json:"status"`
	ExitCode  *int        `json:"exit_code"`
	Message   string      `json:"message,omitempty"`
	StartedAt time.Time   `json:"started_at"`
	StoppedAt *time.Time  `json:"stopped_at"`
}

// OutputChunk is a piece of a step's output, in order of Seq.
type OutputChunk struct {
	Seq  int    `json:"seq"`
	Data []byte `json:"data"`
	// At is when the chunk was stored (zero on chunks stored before
	// chunks carried a time); the job page shows it per line.
	At time.Time `json:"at,omitzero"`
}

// CreateTask stores a task unless it exists (idempotent).
func (s *Store) CreateTask(ctx context.Context, t Task) (Task, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.Now()
	}
	it, err := item("TASK#"+t.ID, "META", t)
	if err != nil {
		return Task{}, err
	}
	taskIndex(&t, &it)
	err = s.create(ctx, it)
	if isConflict(err) {
		return s.GetTask(ctx, t.ID)
	}
	if err != nil {
		return Task{}, fmt.Errorf("create task %s: %w", t.ID, err)
	}
	return t, nil
}

// GetTask returns the task with the id.
func (s *Store) GetTask(ctx context.Context, id string) (Task, error) {
	var t Task
	if _, err := s.get(ctx, "TASK#"+id, "META", &t); err != nil {
		return Task{}, fmt.Errorf("task %s: %w", id, err)
	}
	return t, nil
}

// UpdateTask changes a task with a conditional write; its status changes
// only through TransitionTask (fn changing it is ErrStatusWrite).
func (s *Store) UpdateTask(ctx context.Context, id string, fn func(*Task) error) (Task, error) {
	t, err := update(ctx, s, "TASK#"+id, "META", taskIndex, keepStatus(func(t *Task) *status.Job { return &t.Status }, fn))
	if err != nil {
		return t, fmt.Errorf("update task %s: %w", id, err)
	}
	return t, nil
}

func stepSK(n int) string { return fmt.Sprintf("STEP#%04d", n) }

// PutStep creates or changes a step with fn (which sees the zero Step with
// TaskID and Index set when the step is new).
func (s *Store) PutStep(ctx context.Context, taskID string, n int, fn func(*Step) error) (Step, error) {
	it, err := item("TASK#"+taskID, stepSK(n), Step{TaskID: taskID, Index: n})
	if err != nil {
		return Step{}, err
	}
	if err := s.create(ctx, it); err != nil && !isConflict(err) {
		return Step{}, fmt.Errorf("create step %d of task %s: %w", n, taskID, err)
	}
	st, err := update(ctx, s, "TASK#"+taskID, stepSK(n), nil, fn)
	if err != nil {
		return st, fmt.Errorf("update step %d of task %s: %w", n, taskID, err)
	}
	return st, nil
}

// ListSteps returns a task's steps in order.
func (s *Store) ListSteps(ctx context.Context, taskID string) ([]Step, error) {
	return queryAll[Step](ctx, s, kv.Query{PK: "TASK#" + taskID, Prefix: "STEP#"})
}

// AppendOutput stores chunk seq of step n's output; storing the same seq
// twice keeps the first (agents retry uploads).
func (s *Store) AppendOutput(ctx context.Context, taskID string, n, seq int, data []byte) error {
	it, err := item("TASK#"+taskID, fmt.Sprintf("OUT#%04d#%08d", n, seq), OutputChunk{Seq: seq, Data: data, At: s.Now()})
	if err != nil {
		return err
	}
	if err := s.create(ctx, it); err != nil && !isConflict(err) {
		return fmt.Errorf("store output of step %d of task %s: %w", n, taskID, err)
	}
	return nil
}

// Output returns step n's output chunks from seq onwards, in order.
func (s *Store) Output(ctx context.Context, taskID string, n, fromSeq int) ([]OutputChunk, error) {
	prefix := fmt.Sprintf("OUT#%04d#", n)
	return queryAll[OutputChunk](ctx, s, kv.Query{PK: "TASK#" + taskID, Prefix: prefix, From: fmt.Sprintf("%s%08d", prefix, fromSeq)})
}
