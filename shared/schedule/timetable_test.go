package schedule

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/store"
)

func TestTimetableMatch(t *testing.T) {
	// 2024-05-01 is a Wednesday.
	weekly := store.Timetable{PerHour: 4, HoursOfDay: []int{3, 15}, DaysOfWeek: []string{"WED"}}
	monthly := store.Timetable{PerHour: 1, HoursOfDay: []int{0}, DaysOfMonth: []int{1, 15}, Months: []string{"MAY"}}
	tests := []struct {
		name string
		tt   store.Timetable
		at   time.Time
		want bool
	}{
		{"quarter past, listed hour and day", weekly, at("03:15"), true},
		{"the last of four runs", weekly, at("15:45"), true},
		{"between runs", weekly, at("03:20"), false},
		{"hour not listed", weekly, at("04:00"), false},
		{"day not listed", weekly, at("03:00").Add(24 * time.Hour), false},
		{"a week later", weekly, at("03:00").Add(7 * 24 * time.Hour), true},
		{"first of the month at midnight", monthly, at("00:00"), true},
		{"the 15th", monthly, at("00:00").Add(14 * 24 * time.Hour), true},
		{"month not listed", monthly, at("00:00").AddDate(0, 1, 0), false},
		{"once an hour is on the hour", monthly, at("00:01"), false},
		{"7 a hour: 0, 8, ..., 48 (not 56)", store.Timetable{PerHour: 7, HoursOfDay: []int{0}, DaysOfMonth: []int{1}}, at("00:56"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, CheckTimetable(tc.tt))
			assert.Equal(t, tc.want, timetable{tc.tt}.Match(tc.at))
		})
	}
}

func TestCheckTimetable(t *testing.T) {
	ok := store.Timetable{PerHour: 1, HoursOfDay: []int{1}, DaysOfWeek: []string{"MON"}}
	for name, tc := range map[string]struct {
		change func(*store.Timetable)
		want   string
	}{
		"per-hour 0":    {func(t *store.Timetable) { t.PerHour = 0 }, "per-hour 0"},
		"per-hour 61":   {func(t *store.Timetable) { t.PerHour = 61 }, "per-hour 61"},
		"no hours":      {func(t *store.Timetable) { t.HoursOfDay = nil }, "hours-of-day"},
		"hour 24":       {func(t *store.Timetable) { t.HoursOfDay = []int{24} }, "hours-of-day: 24"},
		"no days":       {func(t *store.Timetable) { t.DaysOfWeek = nil }, "days-of-week or days-of-month"},
		"both days":     {func(t *store.Timetable) { t.DaysOfMonth = []int{1} }, "not both"},
		"bad weekday":   {func(t *store.Timetable) { t.DaysOfWeek = []string{"MONDAY"} }, `"MONDAY"`},
		"bad month day": {func(t *store.Timetable) { t.DaysOfWeek, t.DaysOfMonth = nil, []int{32} }, "days-of-month: 32"},
		"bad month":     {func(t *store.Timetable) { t.Months = []string{"jan"} }, `"jan"`},
	} {
		tt := ok
		tc.change(&tt)
		err := CheckTimetable(tt)
		require.ErrorIs(t, err, ErrInvalidTimetable, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
}

// TestEvaluatePipelineSchedules: a schedule made through the API triggers
// its branch and parameters once per due minute, beside the config's.
func TestEvaluatePipelineSchedules(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	trig := &fakeTrigger{}
	e := newEvaluator(t, st, trig, nil)
	_, err := st.CreatePipelineSchedule(ctx, store.PipelineSchedule{ProjectSlug: "local/acme/noconfig", Name: "twice",
		Timetable:  store.Timetable{PerHour: 2, HoursOfDay: []int{3}, DaysOfWeek: []string{"WED"}},
		Parameters: map[string]any{"branch": "dev", "deploy": true}, ActorLogin: "alice"})
	require.NoError(t, err)
	_, err = st.CreatePipelineSchedule(ctx, store.PipelineSchedule{ProjectSlug: "local/acme/app", Name: "default branch",
		Timetable: store.Timetable{PerHour: 1, HoursOfDay: []int{3}, DaysOfMonth: []int{1}}})
	require.NoError(t, err)

	require.NoError(t, e.Evaluate(ctx, at("03:00:02")))
	assert.ElementsMatch(t, []string{"local/acme/app nightly@main", "local/acme/app nightly@release",
		"local/acme/app @main", "local/acme/noconfig @dev"}, trig.runs())
	require.NoError(t, e.Evaluate(ctx, at("03:00:40")))
	require.NoError(t, e.Evaluate(ctx, at("03:15")))
	assert.Empty(t, trig.runs(), "each due minute once; 03:15 is not a run of twice an hour")
	require.NoError(t, e.Evaluate(ctx, at("03:30")))
	trig.mu.Lock()
	require.Len(t, trig.reqs, 2) // hourly@main (config) and twice (API)
	var api int
	for _, r := range trig.reqs {
		if r.ProjectSlug == "local/acme/noconfig" {
			api++
			assert.Equal(t, "dev", r.Branch)
			assert.Equal(t, "alice", r.Actor)
			assert.Equal(t, map[string]any{"deploy": true}, r.Parameters)
			assert.Empty(t, r.ScheduledWorkflow, "the pipeline's own workflows run")
		}
	}
	trig.mu.Unlock()
	assert.Equal(t, 1, api)
}
