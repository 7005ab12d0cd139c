package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/orbit-ci/orbit/shared/kv"
)

// PipelineSchedule is a schedule made through the API (CircleCI's
// "scheduled pipelines"), as opposed to the `triggers: schedule` of a
// config: it runs the project's pipeline on a timetable, with its
// parameters (branch or tag among them). shared/schedule evaluates both.
//
// Keys: PSCHEDULE#<id>/META; GSI1 PROJECT#<slug>#PSCHEDULES, by creation.
type PipelineSchedule struct {
	ID          string `json:"id"`
	ProjectSlug string `json:"project_slug"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Timetable says when it runs (UTC).
	Timetable Timetable `json:"timetable"`
	// Parameters are the pipeline's parameters; "branch" or "tag" names
	// what it builds (the default branch without either).
	Parameters map[string]any `json:"parameters"`
	// ActorID and ActorLogin name the user the runs are attributed to;
	// empty: the system.
	ActorID    string    `json:"actor_id,omitempty"`
	ActorLogin string    `json:"actor_login,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Timetable is CircleCI's schedule timetable: PerHour runs in each hour of
// HoursOfDay, on DaysOfWeek or DaysOfMonth, in Months (all when empty).
type Timetable struct {
	PerHour     int      `json:"per_hour"`
	HoursOfDay  []int    `json:"hours_of_day"`
	DaysOfWeek  []string `json:"days_of_week,omitempty"`
	DaysOfMonth []int    `json:"days_of_month,omitempty"`
	Months      []string `json:"months,omitempty"`
}

func pipelineScheduleIndex(p *PipelineSchedule, it *kv.Item) {
	it.GSI1PK = "PROJECT#" + p.ProjectSlug + "#PSCHEDULES"
	it.GSI1SK = p.CreatedAt.Format(time.RFC3339Nano) + "#" + p.ID
}

// CreatePipelineSchedule stores a new schedule with a fresh id.
func (s *Store) CreatePipelineSchedule(ctx context.Context, p PipelineSchedule) (PipelineSchedule, error) {
	p.ID = uuid.NewString()
	p.CreatedAt = s.Now()
	p.UpdatedAt = p.CreatedAt
	it, err := item("PSCHEDULE#"+p.ID, "META", p)
	if err != nil {
		return PipelineSchedule{}, err
	}
	pipelineScheduleIndex(&p, &it)
	if err := s.create(ctx, it); err != nil {
		return PipelineSchedule{}, fmt.Errorf("create schedule %s of %s: %w", p.Name, p.ProjectSlug, err)
	}
	return p, nil
}

// GetPipelineSchedule returns the schedule with the id, or ErrNotFound.
func (s *Store) GetPipelineSchedule(ctx context.Context, id string) (PipelineSchedule, error) {
	var p PipelineSchedule
	if _, err := s.get(ctx, "PSCHEDULE#"+id, "META", &p); err != nil {
		return PipelineSchedule{}, fmt.Errorf("schedule %s: %w", id, err)
	}
	return p, nil
}

// ListPipelineSchedules returns a page of a project's schedules, oldest
// first.
func (s *Store) ListPipelineSchedules(ctx context.Context, slug, cursor string, limit int) ([]PipelineSchedule, string, error) {
	out, next, err := queryPage[PipelineSchedule](ctx, s, kv.Query{Index: kv.GSI1, PK: "PROJECT#" + slug + "#PSCHEDULES", Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, "", fmt.Errorf("list schedules of %s: %w", slug, err)
	}
	return out, next, nil
}

// UpdatePipelineSchedule changes a schedule with a conditional write.
func (s *Store) UpdatePipelineSchedule(ctx context.Context, id string, fn func(*PipelineSchedule) error) (PipelineSchedule, error) {
	p, err := update(ctx, s, "PSCHEDULE#"+id, "META", pipelineScheduleIndex, func(p *PipelineSchedule) error {
		if err := fn(p); err != nil {
			return err
		}
		p.UpdatedAt = s.Now()
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("update schedule %s: %w", id, err)
	}
	return p, nil
}

// DeletePipelineSchedule deletes a schedule; a missing one is ErrNotFound.
func (s *Store) DeletePipelineSchedule(ctx context.Context, id string) error {
	if _, err := s.GetPipelineSchedule(ctx, id); err != nil {
		return err
	}
	return s.kv.Delete(ctx, "PSCHEDULE#"+id, "META", kv.Condition{})
}
