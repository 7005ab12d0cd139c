package api

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/insights"
	"github.com/orbit-ci/orbit/shared/insights/svg"
)

// The Insights pages (served with Config.Insights), from shared/insights'
// aggregates and drawn on the server as inline SVG (shared/insights/svg):
//
//	GET /ui/insights                                           each visible project's figures
//	GET /ui/insights/{vcs}/{org}/{repo}?window=&branch=        the seed's figures, trends of every workflow,
//	                                                           each workflow's figures, the flakiest tests
//	GET /ui/insights/{vcs}/{org}/{repo}/workflows/{name}?…     one workflow: its trends, a bar per recent run,
//	                                                           its jobs, its slowest tests
//
// window is CircleCI's reporting window (last-24-hours … last-90-days;
// default last-30-days); the last 24 hours are drawn per hour, longer
// windows per day. branch limits the runs to one branch (default all).
func (s *server) routeUIInsights(mux *http.ServeMux) {
	read := onProject(accounts.Read, BySlug)
	s.route(mux, "GET /ui/insights", signedIn, s.html(s.uiInsights))
	s.route(mux, "GET /ui/insights/{vcs}/{org}/{repo}", read, s.html(s.uiInsightsProject))
	s.route(mux, "GET /ui/insights/{vcs}/{org}/{repo}/workflows/{workflow}", read, s.html(s.uiInsightsProject))
}

// recentRunBars is how many of the newest runs the workflow page draws.
const recentRunBars = 30

type insightsListPage struct {
	uiBase
	Projects []insightsProjectRow
	Window   string
}

type insightsProjectRow struct {
	Slug string
	insights.Metrics
}

func (s *server) uiInsights(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	ps, err := s.visibleProjects(ctx)
	if err != nil {
		return "", nil, err
	}
	page := &insightsListPage{uiBase: uiBase{Title: "Insights", Nav: "insights"}, Window: string(insights.Last30Days)}
	for _, p := range ps {
		sum, err := s.cfg.Insights.Summarize(ctx, p.Slug, insights.Last30Days, nil, nil)
		if err != nil {
			return "", nil, err
		}
		page.Projects = append(page.Projects, insightsProjectRow{Slug: p.Slug, Metrics: sum.Cur})
	}
	return "insights", page, nil
}

type insightsPage struct {
	uiBase
	Slug, Workflow, Branch, Window string
	Windows                        []string
	Branches                       []string
	// Dashboard is the seed's figures of the project's builds (jobs).
	Dashboard insights.Dashboard
	// Cur are the figures of the window's workflow runs.
	Cur                              insights.Metrics
	Runs                             int
	Duration, Success, Queue, Counts template.HTML
	// RecentRuns (a workflow's page) is a bar per run, newest last;
	// Tests its slowest tests; Flaky the project's flakiest (empty
	// without tests: the page says so in words).
	RecentRuns, Tests, Flaky template.HTML
	// Groups are the workflows (project page) or jobs (workflow page).
	Groups []insightsGroup
}

type insightsGroup struct {
	Name string
	insights.Metrics
}

func (s *server) uiInsightsProject(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	slug, wf := slugOf(r), r.PathValue("workflow")
	if _, err := s.st.GetProject(ctx, slug); err != nil {
		return "", nil, err
	}
	q := r.URL.Query()
	win := insights.Last30Days
	if v := q.Get("window"); v != "" {
		w, err := insights.ParseWindow(v)
		if err != nil {
			return "", nil, badRequest("window: %v", err)
		}
		win = w
	}
	step := 24 * time.Hour
	if win == insights.Last24Hours {
		step = time.Hour
	}
	page := &insightsPage{uiBase: uiBase{Title: "Insights · " + slug, Nav: "insights"}, Slug: slug, Workflow: wf,
		Branch: q.Get("branch"), Window: string(win),
		Windows: []string{string(insights.Last24Hours), string(insights.Last7Days), string(insights.Last30Days),
			string(insights.Last60Days), string(insights.Last90Days)}}
	if wf != "" {
		page.Title = "Insights · " + slug + " · " + wf
	}
	var err error
	if page.Branches, err = s.cfg.Insights.Branches(ctx, slug, wf); err != nil {
		return "", nil, err
	}
	var keep func(insights.Run) bool
	if q.Has("branch") {
		keep = func(run insights.Run) bool { return run.Branch == page.Branch }
	}
	var only []string
	if wf != "" {
		only = []string{wf}
	}
	sum, err := s.cfg.Insights.Summarize(ctx, slug, win, only, keep)
	if err != nil {
		return "", nil, err
	}
	page.Cur, page.Runs = sum.Cur, len(sum.Runs)
	what := slug
	if wf != "" {
		what = "workflow " + wf
	}
	points := insights.Series(sum.Runs, step)
	page.Duration = template.HTML(svg.DurationTrend("ins-duration", what, points, step))
	page.Success = template.HTML(svg.SuccessRate("ins-success", what, points, step))
	page.Counts = template.HTML(svg.Throughput("ins-throughput", what, points, step))

	// Job runs: the seed's figures, the queue time, each job's figures.
	wfs, err := s.cfg.Insights.Workflows(ctx, slug)
	if err != nil {
		return "", nil, err
	}
	var jobs []insights.Run
	merged := false
	for name := range wfs {
		if wf != "" && name != wf {
			continue
		}
		rs, err := s.cfg.Insights.JobRuns(ctx, slug, name, sum.Span)
		if err != nil {
			return "", nil, err
		}
		if keep != nil {
			rs = slices.DeleteFunc(rs, func(run insights.Run) bool { return !keep(run) })
		}
		if jobs == nil { // JobRuns's runs come in order: one workflow's need no copy or sort
			jobs = rs
			continue
		}
		jobs, merged = append(jobs, rs...), true
	}
	if merged {
		slices.SortFunc(jobs, func(a, b insights.Run) int { return a.At.Compare(b.At) })
	}
	page.Dashboard = insights.ComputeDashboard(jobs)
	page.Queue = template.HTML(svg.QueueTime("ins-queue", what, jobs, step))

	if wf == "" {
		for _, g := range insights.Group(sum.Runs, nil, sum.Days, func(run insights.Run) (string, string) { return run.Workflow, "" }) {
			page.Groups = append(page.Groups, insightsGroup{Name: g.Name, Metrics: g.Cur})
		}
		flaky, err := s.cfg.Insights.FlakyTests(ctx, slug)
		if err != nil {
			return "", nil, err
		}
		if len(flaky) > 0 {
			page.Flaky = template.HTML(svg.FlakiestTests("ins-flaky", flaky))
		}
		return "insights-project", page, nil
	}
	for _, g := range insights.Group(jobs, nil, sum.Days, func(run insights.Run) (string, string) { return run.Job, "" }) {
		page.Groups = append(page.Groups, insightsGroup{Name: g.Name, Metrics: g.Cur})
	}
	page.RecentRuns = template.HTML(recentRunsChart(wf, sum.Runs))
	scope := insights.Scope{All: !q.Has("branch"), Branch: page.Branch}
	tm, err := s.cfg.Insights.TestMetrics(ctx, slug, wf, scope)
	if err != nil {
		return "", nil, err
	}
	if len(tm.SlowestTests) > 0 {
		page.Tests = template.HTML(svg.SlowestTests("ins-slowest", tm.SlowestTests))
	}
	return "insights-project", page, nil
}

// recentRunsChart draws a bar per run (the newest recentRunBars), each
// labelled with its pipeline number, status and start.
func recentRunsChart(wf string, runs []insights.Run) string {
	if len(runs) > recentRunBars {
		runs = runs[len(runs)-recentRunBars:]
	}
	bars := make([]svg.Bar, 0, len(runs))
	for _, run := range runs {
		bars = append(bars, svg.Bar{Label: fmt.Sprintf("#%d %s %s", run.PipelineNumber, run.Status,
			run.At.UTC().Format("Jan 2 15:04")), Value: run.Duration})
	}
	return svg.Bars(svg.Chart{ID: "ins-runs", Title: "Recent runs of " + wf, Unit: svg.Seconds,
		Desc: "Duration of each of the " + fmt.Sprint(len(runs)) + " newest runs of workflow " + wf + ", oldest first."}, bars)
}

// percent formats a rate 0..1 as CircleCI shows it ("83.3%").
func percent(v float64) string {
	s := fmt.Sprintf("%.1f", v*100)
	return strings.TrimSuffix(s, ".0") + "%"
}

// The Insights pages' template functions (added to every page's set).
func init() {
	uiFuncs["insPercent"] = percent
	uiFuncs["insSecs"] = func(secs int64) string { return svg.Duration(float64(secs)) }
}
