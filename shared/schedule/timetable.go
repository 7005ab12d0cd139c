package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/store"
)

// Schedules made through the API (store.PipelineSchedule, CircleCI's
// scheduled pipelines) run on a timetable rather than a cron line: PerHour
// runs spread evenly over each hour of HoursOfDay (minutes 0, 60/PerHour,
// ...), on the DaysOfWeek or DaysOfMonth, in the Months (every month when
// none), in UTC. The evaluator claims their minutes with the same marks as
// the config's schedules (key "api|<id>"), so each due minute runs once.

// Weekdays and Months are CircleCI's names, in time.Weekday and time.Month
// order.
var (
	Weekdays = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
	Months   = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
)

// ErrInvalidTimetable is a timetable CircleCI would refuse.
var ErrInvalidTimetable = errors.New("invalid timetable")

// CheckTimetable says what is wrong with t, naming the field.
func CheckTimetable(t store.Timetable) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidTimetable, fmt.Sprintf(format, args...))
	}
	switch {
	case t.PerHour < 1 || t.PerHour > 60:
		return bad("per-hour %d: must be 1 to 60", t.PerHour)
	case len(t.HoursOfDay) == 0:
		return bad("hours-of-day: give at least one hour (0 to 23)")
	case len(t.DaysOfWeek) == 0 && len(t.DaysOfMonth) == 0:
		return bad("give days-of-week or days-of-month")
	case len(t.DaysOfWeek) > 0 && len(t.DaysOfMonth) > 0:
		return bad("give days-of-week or days-of-month, not both")
	}
	for _, h := range t.HoursOfDay {
		if h < 0 || h > 23 {
			return bad("hours-of-day: %d is not an hour (0 to 23)", h)
		}
	}
	for _, d := range t.DaysOfMonth {
		if d < 1 || d > 31 {
			return bad("days-of-month: %d is not a day (1 to 31)", d)
		}
	}
	for _, d := range t.DaysOfWeek {
		if !slices.Contains(Weekdays, d) {
			return bad("days-of-week: %q is not one of %s", d, strings.Join(Weekdays, ", "))
		}
	}
	for _, m := range t.Months {
		if !slices.Contains(Months, m) {
			return bad("months: %q is not one of %s", m, strings.Join(Months, ", "))
		}
	}
	return nil
}

// timetable matches the minutes a valid store.Timetable runs in.
type timetable struct{ t store.Timetable }

// Match reports whether the timetable runs in minute m (UTC).
func (tt timetable) Match(m time.Time) bool {
	t, m := tt.t, m.UTC()
	step := 60 / t.PerHour
	switch {
	case m.Minute()%step != 0 || m.Minute()/step >= t.PerHour:
		return false
	case !slices.Contains(t.HoursOfDay, m.Hour()):
		return false
	case len(t.Months) > 0 && !slices.Contains(t.Months, Months[m.Month()-1]):
		return false
	case len(t.DaysOfWeek) > 0:
		return slices.Contains(t.DaysOfWeek, Weekdays[m.Weekday()])
	}
	return slices.Contains(t.DaysOfMonth, m.Day())
}

// evaluatePipelineSchedules runs the project's API schedules due in minute.
func (e *Evaluator) evaluatePipelineSchedules(ctx context.Context, p store.Project, minute time.Time) error {
	cursor := ""
	for {
		scheds, next, err := e.st.ListPipelineSchedules(ctx, p.Slug, cursor, 100)
		if err != nil {
			return err
		}
		for _, sch := range scheds {
			if err := CheckTimetable(sch.Timetable); err != nil {
				e.log.WarnContext(ctx, "invalid schedule", "project", p.Slug, "schedule_id", sch.ID, "error", err)
				continue
			}
			req := conductor.TriggerRequest{ProjectSlug: p.Slug, TriggerType: "schedule", Actor: sch.ActorLogin,
				Parameters: map[string]any{}}
			for k, v := range sch.Parameters {
				switch k {
				case "branch":
					req.Branch, _ = v.(string)
				case "tag":
					req.Tag, _ = v.(string)
				default:
					req.Parameters[k] = v
				}
			}
			if req.Branch == "" && req.Tag == "" {
				req.Branch = p.DefaultBranch
			}
			if err := e.claimAndTrigger(ctx, p, "api|"+sch.ID, timetable{sch.Timetable}, minute, req); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}
