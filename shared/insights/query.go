package insights

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// ErrBadWindow: a reporting window CircleCI does not name.
var ErrBadWindow = errors.New("reporting-window must be one of last-24-hours, last-7-days, last-30-days, last-60-days, last-90-days")

// Window is a reporting window as CircleCI names it.
type Window string

// The reporting windows.
const (
	Last24Hours Window = "last-24-hours"
	Last7Days   Window = "last-7-days"
	Last30Days  Window = "last-30-days"
	Last60Days  Window = "last-60-days"
	Last90Days  Window = "last-90-days"
)

var windowDays = map[Window]int{Last24Hours: 1, Last7Days: 7, Last30Days: 30, Last60Days: 60, Last90Days: 90}

// ParseWindow reads a reporting-window parameter; "" is last-90-days.
func ParseWindow(s string) (Window, error) {
	if s == "" {
		return Last90Days, nil
	}
	if _, ok := windowDays[Window(s)]; !ok {
		return "", fmt.Errorf("%w, not %q", ErrBadWindow, s)
	}
	return Window(s), nil
}

// Days is the window's length in days.
func (w Window) Days() int { return windowDays[w] }

// Span is a time range [From, To).
type Span struct{ From, To time.Time }

// Spans are the window ending now and the one before it, of equal length.
func (in *Insights) Spans(w Window) (cur, prev Span) {
	now := in.now().UTC()
	d := time.Duration(w.Days()) * 24 * time.Hour
	return Span{now.Add(-d), now}, Span{now.Add(-2 * d), now.Add(-d)}
}

// Scope selects runs by branch: All, or the one Branch ("" is runs with
// no branch, e.g. tags).
type Scope struct {
	All    bool
	Branch string
}

// Has says whether r is in the scope.
func (s Scope) Has(r Run) bool { return s.All || r.Branch == s.Branch }

func filter(runs []Run, keep func(Run) bool) []Run {
	var out []Run
	for _, r := range runs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// WorkflowRuns returns a project's workflow runs in span (oldest first);
// workflows nil means every workflow.
func (in *Insights) WorkflowRuns(ctx context.Context, slug string, span Span, workflows []string) ([]Run, error) {
	var keep func(string) bool
	if workflows != nil {
		keep = func(g string) bool {
			name, _, _ := strings.Cut(g, "#")
			return slices.Contains(workflows, unesc(name))
		}
	}
	return in.runs(ctx, pk(slug, "WF"), span.From, span.To, keep)
}

// JobRuns returns the job runs of a project's workflow in span (oldest
// first).
func (in *Insights) JobRuns(ctx context.Context, slug, workflow string, span Span) ([]Run, error) {
	return in.runs(ctx, pk(slug, "JOB", esc(workflow)), span.From, span.To, nil)
}

// Workflows returns the names of a project's workflows seen, sorted, and
// each one's branches.
func (in *Insights) Workflows(ctx context.Context, slug string) (map[string][]string, error) {
	it, err := in.kv.Get(ctx, pk(slug), "NAMES")
	if errors.Is(err, kv.ErrNotFound) {
		return map[string][]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	var n names
	if err := json.Unmarshal(it.Data, &n); err != nil {
		return nil, fmt.Errorf("decode names of %s: %w", slug, err)
	}
	if n.Workflows == nil {
		n.Workflows = map[string][]string{}
	}
	return n.Workflows, nil
}

// Branches returns the branches seen on a workflow, or on any workflow of
// the project when workflow is "", sorted.
func (in *Insights) Branches(ctx context.Context, slug, workflow string) ([]string, error) {
	wfs, err := in.Workflows(ctx, slug)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for name, bs := range wfs {
		if workflow == "" || name == workflow {
			out = append(out, bs...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Named is the figures of one group (a workflow, a job, a branch).
type Named struct {
	Name   string
	Branch string
	Cur    Metrics
	Prev   Metrics
}

// Group computes the figures of cur and prev runs grouped by key, sorted
// by key.
func Group(cur, prev []Run, days float64, key func(Run) (name, branch string)) []Named {
	type k struct{ n, b string }
	// Sort a copy of each by key and cut it into runs of one key: one
	// allocation each, not a slice per group.
	split := func(runs []Run) ([]k, [][]Run) {
		keys := make([]k, len(runs))
		idx := make([]int, len(runs))
		for i, r := range runs {
			n, b := key(r)
			keys[i], idx[i] = k{n, b}, i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			return cmp.Or(strings.Compare(keys[a].n, keys[b].n), strings.Compare(keys[a].b, keys[b].b))
		})
		sorted := make([]Run, len(runs))
		for i, j := range idx {
			sorted[i] = runs[j]
		}
		var ks []k
		var groups [][]Run
		for i := 0; i < len(idx); {
			j := i
			for j < len(idx) && keys[idx[j]] == keys[idx[i]] {
				j++
			}
			ks, groups = append(ks, keys[idx[i]]), append(groups, sorted[i:j:j])
			i = j
		}
		return ks, groups
	}
	ck, cg := split(cur)
	pk, pg := split(prev)
	before := make(map[k][]Run, len(pk))
	for i, key := range pk {
		before[key] = pg[i]
	}
	out := make([]Named, 0, len(ck))
	for i, key := range ck {
		out = append(out, Named{Name: key.n, Branch: key.b, Cur: Compute(cg[i], days), Prev: Compute(before[key], days)})
	}
	return out
}

// Summary is the figures of a project (or a workflow) over a window and
// the window before it.
type Summary struct {
	Span     Span
	Cur      Metrics
	Prev     Metrics
	Days     float64
	Runs     []Run // the window's runs, oldest first
	PrevRuns []Run
}

// Summarize returns the figures of the workflow runs of a project in a
// window, keeping those keep accepts (nil: all).
func (in *Insights) Summarize(ctx context.Context, slug string, w Window, workflows []string, keep func(Run) bool) (Summary, error) {
	cur, prev := in.Spans(w)
	runs, err := in.WorkflowRuns(ctx, slug, Span{prev.From, cur.To}, workflows)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Span: cur, Days: float64(w.Days())}
	// runs are in order of At: the previous window is a prefix.
	cut, _ := slices.BinarySearchFunc(runs, cur.From, func(r Run, t time.Time) int { return r.At.Compare(t) })
	s.PrevRuns, s.Runs = runs[:cut:cut], runs[cut:]
	if keep != nil {
		s.PrevRuns, s.Runs = filter(s.PrevRuns, keep), filter(s.Runs, keep)
	}
	s.Cur, s.Prev = Compute(s.Runs, s.Days), Compute(s.PrevRuns, s.Days)
	return s, nil
}

// Dashboard returns the seed's Insights page figures of a project over a
// window: from the job runs of every workflow it has.
func (in *Insights) Dashboard(ctx context.Context, slug string, w Window) (Dashboard, error) {
	wfs, err := in.Workflows(ctx, slug)
	if err != nil {
		return Dashboard{}, err
	}
	cur, _ := in.Spans(w)
	var jobs []Run
	for name := range wfs {
		rs, err := in.JobRuns(ctx, slug, name, cur)
		if err != nil {
			return Dashboard{}, err
		}
		jobs = append(jobs, rs...)
	}
	return ComputeDashboard(jobs), nil
}

// Point is one interval of a time series.
type Point struct {
	Start   time.Time
	Metrics Metrics
}

// Series groups runs into intervals of step (24h or 1h, aligned to UTC)
// from from to to, one Point per interval that has runs, in order;
// throughput is per day.
func Series(runs []Run, step time.Duration) []Point {
	if slices.IsSortedFunc(runs, func(a, b Run) int { return a.At.Compare(b.At) }) {
		// In order of At (as Summarize's are): each interval is a
		// subslice, no copy of the runs.
		var out []Point
		for i := 0; i < len(runs); {
			t := runs[i].At.UTC().Truncate(step)
			j := i + 1
			for j < len(runs) && runs[j].At.UTC().Truncate(step).Equal(t) {
				j++
			}
			out = append(out, Point{Start: t, Metrics: Compute(runs[i:j:j], step.Hours()/24)})
			i = j
		}
		return out
	}
	by := map[time.Time][]Run{}
	for _, r := range runs {
		t := r.At.UTC().Truncate(step)
		by[t] = append(by[t], r)
	}
	out := make([]Point, 0, len(by))
	for t, rs := range by {
		out = append(out, Point{Start: t, Metrics: Compute(rs, step.Hours()/24)})
	}
	slices.SortFunc(out, func(a, b Point) int { return a.Start.Compare(b.Start) })
	return out
}

// Now is the clock of the reporting windows, in UTC.
func (in *Insights) Now() time.Time { return in.now().UTC() }
