package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/orbit-ci/orbit/shared/status"
)

// Status changes. Every change of a pipeline's state or of a workflow's,
// job's or task's status goes through one Transition method per record kind
// (the Update methods refuse to change a status: ErrStatusWrite), so "where
// do statuses change" has one answer and the rules of package status hold
// on every write:
//
//	Transition<Kind>(ctx, id, decide)
//	  read the record ─▶ decide(record) → target status, or an error (ErrStale: nothing to do)
//	  ─▶ same status: no transition, other fields written as decide left them
//	  ─▶ rule refuses (status.<Kind>.CanTransition): ErrStale, nothing written
//	  ─▶ set the status, stamp the times, place it in the index of unfinished
//	     work or take it out (unfinished.go) ─▶ conditional write (retried on conflict)
//
// decide sees the current record and may change its other fields (a
// message, a token, the attempt) but not its status: it returns the status
// it wants instead. It may run more than once (a conflicting write makes the
// store read again). Times stamped on a transition:
//
//	job:      queued → QueuedAt; running → StartedAt (first time); terminal → StoppedAt
//	task:     running → StartedAt; terminal → StoppedAt
//	workflow: terminal → StoppedAt (first time)
//	pipeline: UpdatedAt on every write

// ErrStatusWrite: an Update method's function changed a status, which only
// the Transition methods may do. A programming error.
var ErrStatusWrite = errors.New("status changed outside a Transition method")

// TransitionJob changes the job's status to the one decide returns, under
// the job rules (status.Job.CanTransition), stamping its times.
func (s *Store) TransitionJob(ctx context.Context, workflowID, name string, decide func(*Job) (status.Job, error)) (Job, error) {
	var from status.Job
	j, err := update(ctx, s, "WORKFLOW#"+workflowID, "JOB#"+name, jobIndex, func(j *Job) error {
		from = j.Status
		to, err := decideOnly(j, &j.Status, decide)
		if err != nil || to == from {
			return err
		}
		if !from.CanTransition(to) {
			return fmt.Errorf("%w: job %s cannot go from %s to %s", ErrStale, name, from, to)
		}
		now := s.Now()
		j.Status = to
		switch {
		case to == status.JobQueued:
			j.QueuedAt = &now
		case to == status.JobRunning && j.StartedAt == nil:
			j.StartedAt = &now
		case to.Terminal():
			j.StoppedAt = &now
		}
		return nil
	})
	if err != nil {
		return j, fmt.Errorf("job %s of workflow %s: %w", name, workflowID, err)
	}
	if j.Status != from {
		for _, o := range s.observers {
			o.JobChanged(ctx, from, j)
		}
	}
	return j, nil
}

// TransitionTask changes the task's status to the one decide returns,
// under the task rules (status.Job.TaskCanTransition), stamping its times.
func (s *Store) TransitionTask(ctx context.Context, id string, decide func(*Task) (status.Job, error)) (Task, error) {
	t, err := update(ctx, s, "TASK#"+id, "META", taskIndex, func(t *Task) error {
		from := t.Status
		to, err := decideOnly(t, &t.Status, decide)
		if err != nil || to == from {
			return err
		}
		if !from.TaskCanTransition(to) {
			return fmt.Errorf("%w: task cannot go from %s to %s", ErrStale, from, to)
		}
		now := s.Now()
		t.Status = to
		switch {
		case to == status.JobRunning:
			t.StartedAt = &now
		case to.Terminal():
			t.StoppedAt = &now
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("task %s: %w", id, err)
	}
	return t, nil
}

// TransitionWorkflow changes the workflow's status to the one decide
// returns, under the workflow rules (status.Workflow.CanTransition),
// stamping StoppedAt when it ends.
func (s *Store) TransitionWorkflow(ctx context.Context, id string, decide func(*Workflow) (status.Workflow, error)) (Workflow, error) {
	var from status.Workflow
	w, err := update(ctx, s, "WORKFLOW#"+id, "META", workflowIndex, func(w *Workflow) error {
		from = w.Status
		to, err := decideOnly(w, &w.Status, decide)
		if err != nil || to == from {
			return err
		}
		if !from.CanTransition(to) {
			return fmt.Errorf("%w: workflow cannot go from %s to %s", ErrStale, from, to)
		}
		w.Status = to
		if to.Terminal() && w.StoppedAt == nil {
			now := s.Now()
			w.StoppedAt = &now
		}
		return nil
	})
	if err != nil {
		return w, fmt.Errorf("workflow %s: %w", id, err)
	}
	if w.Status != from {
		for _, o := range s.observers {
			o.WorkflowChanged(ctx, from, w)
		}
	}
	return w, nil
}

// TransitionPipeline changes the pipeline's state to the one decide
// returns, under the pipeline rules (status.Pipeline.CanTransition).
func (s *Store) TransitionPipeline(ctx context.Context, id string, decide func(*Pipeline) (status.Pipeline, error)) (Pipeline, error) {
	p, err := update(ctx, s, "PIPELINE#"+id, "META", pipelineIndex, func(p *Pipeline) error {
		from := p.State
		to, err := decideOnly(p, &p.State, decide)
		if err != nil {
			return err
		}
		if to != from && !from.CanTransition(to) {
			return fmt.Errorf("%w: pipeline cannot go from %s to %s", ErrStale, from, to)
		}
		p.State = to
		p.UpdatedAt = s.Now()
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("pipeline %s: %w", id, err)
	}
	return p, nil
}

// decideOnly runs decide on rec and checks that it left the status field
// alone (it returns the status it wants instead).
func decideOnly[R any, S comparable](rec *R, field *S, decide func(*R) (S, error)) (S, error) {
	before := *field
	to, err := decide(rec)
	if *field != before {
		return before, fmt.Errorf("%w: the decision set it to %v", ErrStatusWrite, *field)
	}
	return to, err
}

// keepStatus wraps an Update method's function: it may change anything but
// the status (field).
func keepStatus[R any, S comparable](field func(*R) *S, fn func(*R) error) func(*R) error {
	return func(rec *R) error {
		before := *field(rec)
		err := fn(rec)
		if after := *field(rec); after != before {
			return fmt.Errorf("%w: %v to %v", ErrStatusWrite, before, after)
		}
		return err
	}
}
