package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ScheduleMark is how far a project's schedule (one scheduled workflow's
// trigger, for one branch) has been evaluated.
type ScheduleMark struct {
	// Last is the last minute (UTC, truncated to the minute) that was
	// evaluated and, if the cron matched, triggered.
	Last time.Time `json:"last"`
}

func scheduleSK(key string) string { return "SCHEDULE#" + key }

// AdvanceSchedule claims the minutes of a schedule up to and including to:
// it moves the schedule's mark to `to` with a conditional write and returns
// the mark it replaced (the zero time for a schedule never evaluated). When
// the mark is already at or past `to` it returns ErrStale and changes
// nothing, so of two evaluators (or an evaluator restarted within the
// minute) exactly one claims a minute, and a claimed minute is never
// triggered again.
func (s *Store) AdvanceSchedule(ctx context.Context, slug, key string, to time.Time) (time.Time, error) {
	pk, sk := "PROJECT#"+slug, scheduleSK(key)
	to = to.UTC().Truncate(time.Minute)
	it, err := item(pk, sk, ScheduleMark{})
	if err != nil {
		return time.Time{}, err
	}
	if err := s.create(ctx, it); err != nil && !errors.Is(err, ErrExists) {
		return time.Time{}, fmt.Errorf("create schedule mark %s of %s: %w", key, slug, err)
	}
	var prev time.Time
	_, err = update(ctx, s, pk, sk, nil, func(m *ScheduleMark) error {
		if !m.Last.Before(to) {
			return ErrStale
		}
		prev, m.Last = m.Last, to
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("advance schedule %s of %s: %w", key, slug, err)
	}
	return prev, nil
}

// GetScheduleMark returns a schedule's mark; ErrNotFound if it was never
// evaluated.
func (s *Store) GetScheduleMark(ctx context.Context, slug, key string) (ScheduleMark, error) {
	var m ScheduleMark
	if _, err := s.get(ctx, "PROJECT#"+slug, scheduleSK(key), &m); err != nil {
		return ScheduleMark{}, fmt.Errorf("schedule %s of %s: %w", key, slug, err)
	}
	return m, nil
}
