package api

import (
	"encoding/base64"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/insights"
)

// CircleCI's Insights API (tag Insights of its OpenAPI document), answered
// from the aggregates of shared/insights (never by reading jobs):
//
//	GET /api/v2/insights/pages/{slug}/summary                 project, workflow and branch figures with trends
//	GET /api/v2/insights/{slug}/workflows                     each workflow's figures (paginated)
//	GET /api/v2/insights/{slug}/workflows/{workflow}          a workflow's recent runs (paginated)
//	GET /api/v2/insights/{slug}/workflows/{workflow}/jobs     each job's figures (paginated)
//	GET /api/v2/insights/{slug}/workflows/{workflow}/summary  a workflow's figures and trends (90 days)
//	GET /api/v2/insights/{slug}/workflows/{workflow}/test-metrics  tests of the 10 newest runs
//	GET /api/v2/insights/{slug}/branches                      branches seen
//	GET /api/v2/insights/{slug}/flaky-tests                   tests that passed and failed on one revision
//	GET /api/v2/insights/time-series/{slug}/workflows/{workflow}/jobs  daily or hourly job figures
//	GET /api/v2/insights/{org}/summary                        the organization's and each project's figures
//	GET /api/v2/insights/{slug}/dashboard                     Orbit: the seed's Insights page figures
//
// Branch scope: all-branches=true, else branch, else the project's default
// branch. project_id and org_id are the project's and organization's slugs
// (Orbit has no uuids for them). The pages summary and a workflow's runs
// share the path shape /insights/{a}/{b}/{c}/{d}/{e}, which net/http's
// ServeMux cannot tell apart by pattern, so one route serves both and
// checks read access on the project it names itself (requireOn).

func (s *server) routeInsights(mux *http.ServeMux) {
	const base = "/api/v2/insights/{vcs}/{org}/{repo}"
	read := onProject(accounts.Read, BySlug)
	s.route(mux, "GET /api/v2/insights/{a}/{b}/{c}/{d}/{e}", signedIn, s.api(s.insightsFive))
	s.route(mux, "GET "+base+"/workflows", read, s.api(s.insightsWorkflows))
	s.route(mux, "GET "+base+"/workflows/{workflow}/jobs", read, s.api(s.insightsJobs))
	s.route(mux, "GET "+base+"/workflows/{workflow}/summary", read, s.api(s.insightsWorkflowSummary))
	s.route(mux, "GET "+base+"/workflows/{workflow}/test-metrics", read, s.api(s.insightsTestMetrics))
	s.route(mux, "GET "+base+"/branches", read, s.api(s.insightsBranches))
	s.route(mux, "GET "+base+"/flaky-tests", read, s.api(s.insightsFlaky))
	s.route(mux, "GET "+base+"/dashboard", read, s.api(s.insightsDashboard))
	s.route(mux, "GET /api/v2/insights/time-series/{vcs}/{org}/{repo}/workflows/{workflow}/jobs", read, s.api(s.insightsTimeSeries))
	s.route(mux, "GET /api/v2/insights/{vcs}/{org}/summary", signedIn, s.api(s.insightsOrg))
}

// insightsFive serves the two five-segment paths (see above).
func (s *server) insightsFive(w http.ResponseWriter, r *http.Request) error {
	v := func(n string) string { return r.PathValue(n) }
	switch {
	case v("a") == "pages" && v("e") == "summary":
		return s.insightsPage(w, r, v("b")+"/"+v("c")+"/"+v("d"))
	case v("d") == "workflows":
		return s.insightsRuns(w, r, v("a")+"/"+v("b")+"/"+v("c"), v("e"))
	}
	return errRouteNotFound
}

// scopeOf reads all-branches and branch; neither is the default branch.
func (s *server) scopeOf(r *http.Request, slug string) (insights.Scope, error) {
	q := r.URL.Query()
	if all := q.Get("all-branches"); all != "" {
		b, err := strconv.ParseBool(all)
		if err != nil {
			return insights.Scope{}, badRequest("all-branches %q is not true or false", all)
		}
		if b {
			return insights.Scope{All: true}, nil
		}
	}
	if q.Has("branch") {
		return insights.Scope{Branch: q.Get("branch")}, nil
	}
	p, err := s.st.GetProject(r.Context(), slug)
	if err != nil {
		return insights.Scope{}, err
	}
	return insights.Scope{Branch: p.DefaultBranch}, nil
}

func windowOf(r *http.Request) (insights.Window, error) {
	w, err := insights.ParseWindow(r.URL.Query().Get("reporting-window"))
	if err != nil {
		return "", badRequest("%v", err)
	}
	return w, nil
}

// page cuts items at the offset a page-token names.
func page[T any](r *http.Request, items []T, size int) ([]T, string, error) {
	off := 0
	if tok := r.URL.Query().Get("page-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || err2 != nil || n < 0 || !strings.HasPrefix(string(b), "offset:") {
			return nil, "", badRequest("page-token %q is not a token this list returned", tok)
		}
		off = n
	}
	if off >= len(items) {
		return []T{}, "", nil
	}
	end, next := min(off+size, len(items)), ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return items[off:end], next, nil
}

func round(f float64) int64 { return int64(math.Round(f)) }

type durationsJSON struct {
	Min    int64   `json:"min"`
	Mean   int64   `json:"mean"`
	Median int64   `json:"median"`
	P95    int64   `json:"p95"`
	Max    int64   `json:"max"`
	StdDev float64 `json:"standard_deviation"`
}

func durationsView(d insights.Durations) durationsJSON {
	return durationsJSON{Min: d.Min, Mean: d.Mean, Median: d.Median, P95: d.P95, Max: d.Max, StdDev: d.StdDev}
}

type workflowMetricsJSON struct {
	TotalRuns       int64         `json:"total_runs"`
	SuccessfulRuns  int64         `json:"successful_runs"`
	MTTR            int64         `json:"mttr"`
	TotalCredits    int64         `json:"total_credits_used"`
	FailedRuns      int64         `json:"failed_runs"`
	SuccessRate     float64       `json:"success_rate"`
	Duration        durationsJSON `json:"duration_metrics"`
	TotalRecoveries int64         `json:"total_recoveries"`
	Throughput      float64       `json:"throughput"`
}

func workflowMetricsView(m insights.Metrics) workflowMetricsJSON {
	return workflowMetricsJSON{TotalRuns: m.TotalRuns, SuccessfulRuns: m.SuccessfulRuns, MTTR: m.MTTR, TotalCredits: m.TotalCredits,
		FailedRuns: m.FailedRuns, SuccessRate: m.SuccessRate, Duration: durationsView(m.Duration), TotalRecoveries: m.TotalRecoveries,
		Throughput: m.Throughput}
}

type namedMetricsJSON[M any] struct {
	Name        string    `json:"name"`
	Metrics     M         `json:"metrics"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	ProjectID   string    `json:"project_id,omitempty"`
}

func (s *server) insightsWorkflows(w http.ResponseWriter, r *http.Request) error {
	slug := slugOf(r)
	win, err := windowOf(r)
	if err != nil {
		return err
	}
	scope, err := s.scopeOf(r, slug)
	if err != nil {
		return err
	}
	sum, err := s.cfg.Insights.Summarize(r.Context(), slug, win, nil, scope.Has)
	if err != nil {
		return err
	}
	groups := insights.Group(sum.Runs, nil, sum.Days, func(r insights.Run) (string, string) { return r.Workflow, "" })
	items, next, err := page(r, groups, s.cfg.PageSize)
	if err != nil {
		return err
	}
	out := make([]namedMetricsJSON[workflowMetricsJSON], 0, len(items))
	for _, g := range items {
		out = append(out, namedMetricsJSON[workflowMetricsJSON]{Name: g.Name, Metrics: workflowMetricsView(g.Cur),
			WindowStart: g.Cur.MinStartedAt, WindowEnd: g.Cur.MaxEndedAt, ProjectID: slug})
	}
	writeJSON(w, http.StatusOK, newList(out, next))
	return nil
}

type jobMetricsJSON struct {
	TotalRuns      int64         `json:"total_runs"`
	FailedRuns     int64         `json:"failed_runs"`
	SuccessfulRuns int64         `json:"successful_runs"`
	Duration       durationsJSON `json:"duration_metrics"`
	SuccessRate    float64       `json:"success_rate"`
	TotalCredits   int64         `json:"total_credits_used"`
	Throughput     float64       `json:"throughput"`
}

func (s *server) insightsJobs(w http.ResponseWriter, r *http.Request) error {
	slug, wf := slugOf(r), r.PathValue("workflow")
	win, err := windowOf(r)
	if err != nil {
		return err
	}
	scope, err := s.scopeOf(r, slug)
	if err != nil {
		return err
	}
	cur, _ := s.cfg.Insights.Spans(win)
	runs, err := s.cfg.Insights.JobRuns(r.Context(), slug, wf, cur)
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("job-name")
	runs = slices.DeleteFunc(runs, func(x insights.Run) bool { return !scope.Has(x) || !strings.Contains(x.Job, name) })
	groups := insights.Group(runs, nil, float64(win.Days()), func(r insights.Run) (string, string) { return r.Job, "" })
	items, next, err := page(r, groups, s.cfg.PageSize)
	if err != nil {
		return err
	}
	out := make([]namedMetricsJSON[jobMetricsJSON], 0, len(items))
	for _, g := range items {
		m := g.Cur
		out = append(out, namedMetricsJSON[jobMetricsJSON]{Name: g.Name, WindowStart: m.MinStartedAt, WindowEnd: m.MaxEndedAt,
			Metrics: jobMetricsJSON{TotalRuns: m.TotalRuns, FailedRuns: m.FailedRuns, SuccessfulRuns: m.SuccessfulRuns,
				Duration: durationsView(m.Duration), SuccessRate: m.SuccessRate, TotalCredits: m.TotalCredits, Throughput: m.Throughput}})
	}
	writeJSON(w, http.StatusOK, newList(out, next))
	return nil
}

type workflowRunJSON struct {
	ID          string    `json:"id"`
	Branch      string    `json:"branch"`
	Duration    int64     `json:"duration"`
	CreatedAt   time.Time `json:"created_at"`
	StoppedAt   time.Time `json:"stopped_at"`
	CreditsUsed int64     `json:"credits_used"`
	Status      string    `json:"status"`
	IsApproval  bool      `json:"is_approval"`
}

// dateRange reads start-date and end-date (RFC 3339): end-date needs
// start-date and at most 90 days after it; defaults: [now−def, now).
func (s *server) dateRange(r *http.Request, def time.Duration) (insights.Span, error) {
	q := r.URL.Query()
	now := s.cfg.Insights.Now()
	sp := insights.Span{From: now.Add(-def), To: now}
	parse := func(name string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339, q.Get(name))
		if err != nil {
			return t, badRequest("%s %q is not an RFC 3339 date-time", name, q.Get(name))
		}
		return t, nil
	}
	var err error
	if q.Has("start-date") {
		if sp.From, err = parse("start-date"); err != nil {
			return sp, err
		}
	}
	if q.Has("end-date") {
		if !q.Has("start-date") {
			return sp, badRequest("end-date needs a start-date")
		}
		if sp.To, err = parse("end-date"); err != nil {
			return sp, err
		}
		if sp.To.Sub(sp.From) > 90*24*time.Hour {
			return sp, badRequest("end-date may be at most 90 days after start-date")
		}
	}
	if !sp.To.After(sp.From) {
		return sp, badRequest("end-date must be after start-date")
	}
	return sp, nil
}

func (s *server) insightsRuns(w http.ResponseWriter, r *http.Request, slug, wf string) error {
	if err := s.requireOn(r.Context(), slug, accounts.Read); err != nil {
		return err
	}
	scope, err := s.scopeOf(r, slug)
	if err != nil {
		return err
	}
	span, err := s.dateRange(r, 90*24*time.Hour)
	if err != nil {
		return err
	}
	runs, err := s.cfg.Insights.WorkflowRuns(r.Context(), slug, span, []string{wf})
	if err != nil {
		return err
	}
	runs = slices.DeleteFunc(runs, func(x insights.Run) bool { return !scope.Has(x) })
	slices.Reverse(runs) // newest first
	items, next, err := page(r, runs, s.cfg.PageSize)
	if err != nil {
		return err
	}
	out := make([]workflowRunJSON, 0, len(items))
	for _, x := range items {
		out = append(out, workflowRunJSON{ID: x.ID, Branch: x.Branch, Duration: round(x.Duration), CreatedAt: x.At, StoppedAt: x.StoppedAt,
			CreditsUsed: round(x.Credits), Status: x.Status, IsApproval: x.Approval})
	}
	writeJSON(w, http.StatusOK, newList(out, next))
	return nil
}
