package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/insights"
)

// The summary routes of the Insights API (insights.go has the list).

type projectMetricsJSON struct {
	TotalRuns     int64   `json:"total_runs"`
	TotalDuration int64   `json:"total_duration_secs"`
	TotalCredits  int64   `json:"total_credits_used"`
	SuccessRate   float64 `json:"success_rate"`
	Throughput    float64 `json:"throughput"`
}

type projectTrendsJSON struct {
	TotalRuns     float64 `json:"total_runs"`
	TotalDuration float64 `json:"total_duration_secs"`
	TotalCredits  float64 `json:"total_credits_used"`
	SuccessRate   float64 `json:"success_rate"`
	Throughput    float64 `json:"throughput"`
}

type metricsTrendsJSON[M, T any] struct {
	Metrics M `json:"metrics"`
	Trends  T `json:"trends"`
}

func projectFigures(cur, prev insights.Metrics) metricsTrendsJSON[projectMetricsJSON, projectTrendsJSON] {
	f := func(m insights.Metrics) projectMetricsJSON {
		return projectMetricsJSON{TotalRuns: m.TotalRuns, TotalDuration: m.Duration.Total, TotalCredits: m.TotalCredits,
			SuccessRate: m.SuccessRate, Throughput: m.Throughput}
	}
	c, p := f(cur), f(prev)
	return metricsTrendsJSON[projectMetricsJSON, projectTrendsJSON]{Metrics: c, Trends: projectTrendsJSON{
		TotalRuns: insights.Trend(float64(c.TotalRuns), float64(p.TotalRuns)), TotalDuration: insights.Trend(float64(c.TotalDuration), float64(p.TotalDuration)),
		TotalCredits: insights.Trend(float64(c.TotalCredits), float64(p.TotalCredits)), SuccessRate: insights.Trend(c.SuccessRate, p.SuccessRate),
		Throughput: insights.Trend(c.Throughput, p.Throughput)}}
}

type groupMetricsJSON struct {
	TotalCredits int64   `json:"total_credits_used"`
	P95Duration  float64 `json:"p95_duration_secs"`
	TotalRuns    int64   `json:"total_runs"`
	SuccessRate  float64 `json:"success_rate"`
}

type groupTrendsJSON struct {
	TotalCredits float64 `json:"total_credits_used"`
	P95Duration  float64 `json:"p95_duration_secs"`
	TotalRuns    float64 `json:"total_runs"`
	SuccessRate  float64 `json:"success_rate"`
}

type workflowGroupJSON struct {
	WorkflowName string  `json:"workflow_name"`
	Branch       *string `json:"branch,omitempty"`
	metricsTrendsJSON[groupMetricsJSON, groupTrendsJSON]
}

func groupFigures(g insights.Named) metricsTrendsJSON[groupMetricsJSON, groupTrendsJSON] {
	c, p := g.Cur, g.Prev
	return metricsTrendsJSON[groupMetricsJSON, groupTrendsJSON]{
		Metrics: groupMetricsJSON{TotalCredits: c.TotalCredits, P95Duration: float64(c.Duration.P95), TotalRuns: c.TotalRuns, SuccessRate: c.SuccessRate},
		Trends: groupTrendsJSON{TotalCredits: insights.Trend(float64(c.TotalCredits), float64(p.TotalCredits)),
			P95Duration: insights.Trend(float64(c.Duration.P95), float64(p.Duration.P95)),
			TotalRuns:   insights.Trend(float64(c.TotalRuns), float64(p.TotalRuns)), SuccessRate: insights.Trend(c.SuccessRate, p.SuccessRate)}}
}

type pageSummaryJSON struct {
	OrgID           string                                                   `json:"org_id"`
	ProjectID       string                                                   `json:"project_id"`
	ProjectData     metricsTrendsJSON[projectMetricsJSON, projectTrendsJSON] `json:"project_data"`
	WorkflowData    []workflowGroupJSON                                      `json:"project_workflow_data"`
	WorkflowBranchs []workflowGroupJSON                                      `json:"project_workflow_branch_data"`
	AllBranches     []string                                                 `json:"all_branches"`
	AllWorkflows    []string                                                 `json:"all_workflows"`
}

// insightsPage: project figures over every workflow and branch; workflow
// figures of the workflow-names given (all without); workflow × branch
// figures of those workflows on the branches given (all without).
func (s *server) insightsPage(w http.ResponseWriter, r *http.Request, slug string) error {
	ctx := r.Context()
	if err := s.requireOn(ctx, slug, accounts.Read); err != nil {
		return err
	}
	if _, err := s.st.GetProject(ctx, slug); err != nil {
		return err
	}
	win, err := windowOf(r)
	if err != nil {
		return err
	}
	sum, err := s.cfg.Insights.Summarize(ctx, slug, win, nil, nil)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	names, branches := q["workflow-names"], q["branches"]
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	pick := func(runs []insights.Run, byBranch bool) []insights.Run {
		return slices.DeleteFunc(slices.Clone(runs), func(x insights.Run) bool {
			return !in(names, x.Workflow) || byBranch && !in(branches, x.Branch)
		})
	}
	out := pageSummaryJSON{OrgID: orgOf(slug), ProjectID: slug, ProjectData: projectFigures(sum.Cur, sum.Prev),
		WorkflowData: []workflowGroupJSON{}, WorkflowBranchs: []workflowGroupJSON{}}
	for _, g := range insights.Group(pick(sum.Runs, false), pick(sum.PrevRuns, false), sum.Days, func(x insights.Run) (string, string) { return x.Workflow, "" }) {
		out.WorkflowData = append(out.WorkflowData, workflowGroupJSON{WorkflowName: g.Name, metricsTrendsJSON: groupFigures(g)})
	}
	for _, g := range insights.Group(pick(sum.Runs, true), pick(sum.PrevRuns, true), sum.Days, func(x insights.Run) (string, string) { return x.Workflow, x.Branch }) {
		b := g.Branch
		out.WorkflowBranchs = append(out.WorkflowBranchs, workflowGroupJSON{WorkflowName: g.Name, Branch: &b, metricsTrendsJSON: groupFigures(g)})
	}
	if out.AllBranches, err = s.cfg.Insights.Branches(ctx, slug, ""); err != nil {
		return err
	}
	wfs, err := s.cfg.Insights.Workflows(ctx, slug)
	if err != nil {
		return err
	}
	out.AllWorkflows = sortedKeys(wfs)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// orgOf is "<vcs>/<org>" of a project slug.
func orgOf(slug string) string {
	parts := strings.SplitN(slug, "/", 3)
	if len(parts) < 2 {
		return slug
	}
	return parts[0] + "/" + parts[1]
}

type workflowSummaryMetricsJSON struct {
	workflowMetricsJSON
	CompletedRuns int64     `json:"completed_runs"`
	WindowStart   time.Time `json:"window_start"`
	WindowEnd     time.Time `json:"window_end"`
}

type workflowTrendsJSON struct {
	TotalRuns      float64 `json:"total_runs"`
	FailedRuns     float64 `json:"failed_runs"`
	SuccessRate    float64 `json:"success_rate"`
	P95Duration    float64 `json:"p95_duration_secs"`
	MedianDuration float64 `json:"median_duration_secs"`
	TotalCredits   float64 `json:"total_credits_used"`
	MTTR           float64 `json:"mttr"`
	Throughput     float64 `json:"throughput"`
}

type workflowSummaryJSON struct {
	Metrics       workflowSummaryMetricsJSON `json:"metrics"`
	Trends        workflowTrendsJSON         `json:"trends"`
	WorkflowNames []string                   `json:"workflow_names"`
}

// insightsWorkflowSummary: one workflow over the last 90 days (or the
// reporting-window given, an Orbit extension) against the 90 before.
func (s *server) insightsWorkflowSummary(w http.ResponseWriter, r *http.Request) error {
	slug, wf := slugOf(r), r.PathValue("workflow")
	scope, err := s.scopeOf(r, slug)
	if err != nil {
		return err
	}
	win, err := windowOf(r)
	if err != nil {
		return err
	}
	sum, err := s.cfg.Insights.Summarize(r.Context(), slug, win, []string{wf}, scope.Has)
	if err != nil {
		return err
	}
	wfs, err := s.cfg.Insights.Workflows(r.Context(), slug)
	if err != nil {
		return err
	}
	c, p := sum.Cur, sum.Prev
	t := func(a, b float64) float64 { return insights.Trend(a, b) }
	writeJSON(w, http.StatusOK, workflowSummaryJSON{
		Metrics: workflowSummaryMetricsJSON{workflowMetricsJSON: workflowMetricsView(c), CompletedRuns: c.TotalRuns,
			WindowStart: sum.Span.From, WindowEnd: sum.Span.To},
		Trends: workflowTrendsJSON{TotalRuns: t(float64(c.TotalRuns), float64(p.TotalRuns)), FailedRuns: t(float64(c.FailedRuns), float64(p.FailedRuns)),
			SuccessRate: t(c.SuccessRate, p.SuccessRate), P95Duration: t(float64(c.Duration.P95), float64(p.Duration.P95)),
			MedianDuration: t(float64(c.Duration.Median), float64(p.Duration.Median)), TotalCredits: t(float64(c.TotalCredits), float64(p.TotalCredits)),
			MTTR: t(float64(c.MTTR), float64(p.MTTR)), Throughput: t(c.Throughput, p.Throughput)},
		WorkflowNames: sortedKeys(wfs),
	})
	return nil
}

type orgProjectJSON struct {
	ProjectName string `json:"project_name"`
	metricsTrendsJSON[projectMetricsJSON, projectTrendsJSON]
}

type orgSummaryJSON struct {
	OrgData     metricsTrendsJSON[projectMetricsJSON, projectTrendsJSON] `json:"org_data"`
	OrgProjects []orgProjectJSON                                         `json:"org_project_data"`
	AllProjects []string                                                 `json:"all_projects"`
}

// insightsOrg: the organization's projects the caller may read (by name:
// project-names filters org_project_data), each and together.
func (s *server) insightsOrg(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	org := r.PathValue("vcs") + "/" + r.PathValue("org")
	if err := s.requireOn(ctx, org, accounts.Read); err != nil {
		return err
	}
	win, err := windowOf(r)
	if err != nil {
		return err
	}
	projects, err := s.st.ListProjects(ctx)
	if err != nil {
		return err
	}
	names := r.URL.Query()["project-names"]
	out := orgSummaryJSON{OrgProjects: []orgProjectJSON{}, AllProjects: []string{}}
	var cur, prev []insights.Run
	for _, p := range projects {
		if !strings.HasPrefix(p.Slug, org+"/") {
			continue
		}
		if ok, err := s.can(ctx, p.Slug, accounts.Read); err != nil || !ok {
			continue
		}
		sum, err := s.cfg.Insights.Summarize(ctx, p.Slug, win, nil, nil)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p.Slug, org+"/")
		out.AllProjects = append(out.AllProjects, name)
		cur, prev = append(cur, sum.Runs...), append(prev, sum.PrevRuns...)
		if len(names) == 0 || slices.Contains(names, name) {
			out.OrgProjects = append(out.OrgProjects, orgProjectJSON{ProjectName: name, metricsTrendsJSON: projectFigures(sum.Cur, sum.Prev)})
		}
	}
	days := float64(win.Days())
	out.OrgData = projectFigures(insights.Compute(cur, days), insights.Compute(prev, days))
	writeJSON(w, http.StatusOK, out)
	return nil
}
