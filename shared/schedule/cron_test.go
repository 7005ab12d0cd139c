package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCronMatch(t *testing.T) {
	// 2024-05-01 is a Wednesday.
	at := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", s)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		name, cron, at string
		want           bool
	}{
		{name: "every minute", cron: "* * * * *", at: "2024-05-01 13:37", want: true},
		{name: "nightly at 3", cron: "0 3 * * *", at: "2024-05-01 03:00", want: true},
		{name: "nightly, a minute late", cron: "0 3 * * *", at: "2024-05-01 03:01"},
		{name: "nightly, wrong hour", cron: "0 3 * * *", at: "2024-05-01 04:00"},
		{name: "step", cron: "*/15 * * * *", at: "2024-05-01 10:45", want: true},
		{name: "step miss", cron: "*/15 * * * *", at: "2024-05-01 10:46"},
		{name: "start and step", cron: "5/20 * * * *", at: "2024-05-01 10:45", want: true},
		{name: "start and step miss", cron: "5/20 * * * *", at: "2024-05-01 10:40"},
		{name: "range", cron: "0 9-17 * * *", at: "2024-05-01 17:00", want: true},
		{name: "range miss", cron: "0 9-17 * * *", at: "2024-05-01 18:00"},
		{name: "range with step", cron: "0 0-12/6 * * *", at: "2024-05-01 12:00", want: true},
		{name: "range with step miss", cron: "0 0-12/6 * * *", at: "2024-05-01 18:00"},
		{name: "list", cron: "0,30 * * * *", at: "2024-05-01 08:30", want: true},
		{name: "weekday range", cron: "0 0 * * 1-5", at: "2024-05-01 00:00", want: true},
		{name: "weekend", cron: "0 0 * * 0,6", at: "2024-05-01 00:00"},
		{name: "day names", cron: "0 0 * * MON-FRI", at: "2024-05-01 00:00", want: true},
		{name: "7 is Sunday", cron: "0 0 * * 7", at: "2024-05-05 00:00", want: true},
		{name: "month names", cron: "0 0 1 may *", at: "2024-05-01 00:00", want: true},
		{name: "month miss", cron: "0 0 1 JUN *", at: "2024-05-01 00:00"},
		{name: "day of month", cron: "0 0 15 * *", at: "2024-05-15 00:00", want: true},
		{name: "both days restricted: either matches (day of month)", cron: "0 0 1 * MON", at: "2024-05-01 00:00", want: true},
		{name: "both days restricted: either matches (day of week)", cron: "0 0 1 * MON", at: "2024-05-06 00:00", want: true},
		{name: "both days restricted: neither", cron: "0 0 1 * MON", at: "2024-05-07 00:00"},
		{name: "day of week starred: day of month decides", cron: "0 0 1 * *", at: "2024-05-06 00:00"},
		{name: "stepped star counts as star", cron: "0 0 */2 * MON", at: "2024-05-07 00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCron(tt.cron)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.Match(at(tt.at)))
			assert.Equal(t, tt.cron, c.String())
		})
	}
}

func TestCronMatchUsesUTC(t *testing.T) {
	c, err := ParseCron("0 3 * * *")
	require.NoError(t, err)
	paris := time.FixedZone("CEST", 2*3600)
	assert.True(t, c.Match(time.Date(2024, 5, 1, 5, 0, 0, 0, paris)))
	assert.False(t, c.Match(time.Date(2024, 5, 1, 3, 0, 0, 0, paris)))
}

func TestParseCronErrors(t *testing.T) {
	tests := []struct{ name, cron, want string }{
		{name: "too few fields", cron: "0 3 * *", want: "five fields"},
		{name: "too many fields", cron: "0 0 3 * * *", want: "five fields"},
		{name: "minute out of range", cron: "60 * * * *", want: "minute: 60 is out of range 0-59"},
		{name: "hour out of range", cron: "0 24 * * *", want: "hour"},
		{name: "day zero", cron: "0 0 0 * *", want: "day of month"},
		{name: "month 13", cron: "0 0 * 13 *", want: "month"},
		{name: "day of week 8", cron: "0 0 * * 8", want: "day of week"},
		{name: "not a number", cron: "x * * * *", want: `"x" is not a number`},
		{name: "bad step", cron: "*/0 * * * *", want: "bad step"},
		{name: "backwards range", cron: "0 17-9 * * *", want: "backwards"},
		{name: "unknown name", cron: "0 0 * * FUN", want: "day of week"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCron(tt.cron)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
