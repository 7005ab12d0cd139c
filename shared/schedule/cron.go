package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed five-field cron expression, in UTC, as CircleCI's
// schedule triggers take it:
//
//	┌─ minute (0-59)
//	│ ┌─ hour (0-23)
//	│ │ ┌─ day of the month (1-31)
//	│ │ │ ┌─ month (1-12 or JAN-DEC)
//	│ │ │ │ ┌─ day of the week (0-7 or SUN-SAT; 0 and 7 are Sunday)
//	* * * * *
//
// Each field is a comma-separated list of `*`, `n` or `n-m`, each
// optionally `/step` (`n/step` runs from n to the field's end). As in
// POSIX cron, when both day fields are restricted (neither starts with `*`)
// a day matches if either does.
type Cron struct {
	src                           string
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domStar, dowStar              bool
}

type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

	cronFields = [5]cronField{
		{name: "minute", min: 0, max: 59},
		{name: "hour", min: 0, max: 23},
		{name: "day of month", min: 1, max: 31},
		{name: "month", min: 1, max: 12, names: monthNames},
		{name: "day of week", min: 0, max: 7, names: dayNames},
	}
)

// ParseCron parses a five-field cron expression.
func ParseCron(s string) (Cron, error) {
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return Cron{}, fmt.Errorf("cron %q: want five fields (minute hour day-of-month month day-of-week), got %d", s, len(fields))
	}
	c := Cron{src: s}
	sets := [5]*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, f := range fields {
		bits, err := parseField(f, cronFields[i])
		if err != nil {
			return Cron{}, fmt.Errorf("cron %q: %w", s, err)
		}
		*sets[i] = bits
	}
	if c.dow&(1<<7) != 0 { // 7 is Sunday too
		c.dow |= 1
	}
	c.domStar, c.dowStar = strings.HasPrefix(fields[2], "*"), strings.HasPrefix(fields[4], "*")
	return c, nil
}

func parseField(s string, f cronField) (uint64, error) {
	var bits uint64
	for item := range strings.SplitSeq(s, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("%s: bad step %q in %q", f.name, stepText, item)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch lowText, highText, isRange := strings.Cut(rng, "-"); {
		case rng == "*":
		case isRange:
			var err error
			if lo, err = f.value(lowText); err != nil {
				return 0, err
			}
			if hi, err = f.value(highText); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("%s: range %q runs backwards", f.name, rng)
			}
		default:
			v, err := f.value(rng)
			if err != nil {
				return 0, err
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func (f cronField) value(s string) (int, error) {
	if v, ok := f.names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", f.name, s)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%s: %d is out of range %d-%d", f.name, v, f.min, f.max)
	}
	return v, nil
}

// Match reports whether the schedule runs in the minute of t (in UTC).
func (c Cron) Match(t time.Time) bool {
	t = t.UTC()
	has := func(bits uint64, v int) bool { return bits&(1<<v) != 0 }
	if !has(c.minute, t.Minute()) || !has(c.hour, t.Hour()) || !has(c.month, int(t.Month())) {
		return false
	}
	dom, dow := has(c.dom, t.Day()), has(c.dow, int(t.Weekday()))
	if !c.domStar && !c.dowStar {
		return dom || dow
	}
	return dom && dow
}

// String returns the expression as written.
func (c Cron) String() string { return c.src }
