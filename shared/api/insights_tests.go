package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/insights"
)

// The test, branch, dashboard and time-series routes of the Insights API
// (insights.go has the list).

func (s *server) insightsTestMetrics(w http.ResponseWriter, r *http.Request) error {
	slug := slugOf(r)
	scope, err := s.scopeOf(r, slug)
	if err != nil {
		return err
	}
	tm, err := s.cfg.Insights.TestMetrics(r.Context(), slug, r.PathValue("workflow"), scope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tm)
	return nil
}

type branchesJSON struct {
	OrgID     string   `json:"org_id"`
	ProjectID string   `json:"project_id"`
	Branches  []string `json:"branches"`
}

func (s *server) insightsBranches(w http.ResponseWriter, r *http.Request) error {
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	bs, err := s.cfg.Insights.Branches(r.Context(), slug, r.URL.Query().Get("workflow-name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, branchesJSON{OrgID: orgOf(slug), ProjectID: slug, Branches: bs})
	return nil
}

type flakyJSON struct {
	FlakyTests []insights.FlakyTest `json:"flaky-tests"`
	Total      float64              `json:"total-flaky-tests"`
}

func (s *server) insightsFlaky(w http.ResponseWriter, r *http.Request) error {
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	fs, err := s.cfg.Insights.FlakyTests(r.Context(), slug)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, flakyJSON{FlakyTests: fs, Total: float64(len(fs))})
	return nil
}

// insightsDashboard is Orbit's: the seed's Insights page figures of a
// project's builds over a reporting window.
func (s *server) insightsDashboard(w http.ResponseWriter, r *http.Request) error {
	slug := slugOf(r)
	if _, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	}
	win, err := windowOf(r)
	if err != nil {
		return err
	}
	d, err := s.cfg.Insights.Dashboard(r.Context(), slug, win)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

type seriesDurationsJSON struct {
	Min    int64 `json:"min"`
	Median int64 `json:"median"`
	Max    int64 `json:"max"`
	P95    int64 `json:"p95"`
	Total  int64 `json:"total"`
}

type seriesMetricsJSON struct {
	TotalRuns      int64               `json:"total_runs"`
	FailedRuns     int64               `json:"failed_runs"`
	SuccessfulRuns int64               `json:"successful_runs"`
	Throughput     float64             `json:"throughput"`
	MedianCredits  int64               `json:"median_credits_used"`
	TotalCredits   int64               `json:"total_credits_used"`
	Duration       seriesDurationsJSON `json:"duration_metrics"`
}

type seriesJSON struct {
	Name         string            `json:"name"`
	MinStartedAt time.Time         `json:"min_started_at"`
	MaxEndedAt   time.Time         `json:"max_ended_at"`
	Timestamp    time.Time         `json:"timestamp"`
	Metrics      seriesMetricsJSON `json:"metrics"`
}

// insightsTimeSeries: each job's figures per day (default: the last 90
// days) or per hour (default: the last 48 hours), by job then time.
func (s *server) insightsTimeSeries(w http.ResponseWriter, r *http.Request) error {
	slug, wf := slugOf(r), r.PathValue("workflow")
	q := r.URL.Query()
	step, def := 24*time.Hour, 90*24*time.Hour
	switch g := q.Get("granularity"); g {
	case "", "daily":
	case "hourly":
		step, def = time.Hour, 48*time.Hour
	default:
		return badRequest("granularity %q is not daily or hourly", g)
	}
	scope := insights.Scope{All: true}
	if q.Has("branch") {
		scope = insights.Scope{Branch: q.Get("branch")}
	} else if p, err := s.st.GetProject(r.Context(), slug); err != nil {
		return err
	} else {
		scope.All, scope.Branch = false, p.DefaultBranch
	}
	span, err := s.dateRange(r, def)
	if err != nil {
		return err
	}
	runs, err := s.cfg.Insights.JobRuns(r.Context(), slug, wf, span)
	if err != nil {
		return err
	}
	byJob := map[string][]insights.Run{}
	for _, x := range runs {
		if scope.Has(x) {
			byJob[x.Job] = append(byJob[x.Job], x)
		}
	}
	out := []seriesJSON{}
	for _, job := range sortedKeys(byJob) {
		for _, p := range insights.Series(byJob[job], step) {
			m := p.Metrics
			out = append(out, seriesJSON{Name: job, MinStartedAt: m.MinStartedAt, MaxEndedAt: m.MaxEndedAt, Timestamp: p.Start,
				Metrics: seriesMetricsJSON{TotalRuns: m.TotalRuns, FailedRuns: m.FailedRuns, SuccessfulRuns: m.SuccessfulRuns,
					Throughput: m.Throughput, MedianCredits: m.MedianCredits, TotalCredits: m.TotalCredits,
					Duration: seriesDurationsJSON{Min: m.Duration.Min, Median: m.Duration.Median, Max: m.Duration.Max, P95: m.Duration.P95, Total: m.Duration.Total}}})
		}
	}
	slices.SortStableFunc(out, func(a, b seriesJSON) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, newList(out, ""))
	return nil
}
