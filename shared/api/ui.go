package api

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// The UI is server-rendered with html/template (which escapes everything it
// prints) and has no JavaScript: pages that show something still running
// reload themselves every refreshSeconds.

//go:embed templates/*.html
var templateFS embed.FS

const (
	// refreshSeconds is the reload period of pages with unfinished work.
	refreshSeconds = 2
	// recentPipelines is how many pipelines the home page shows per project.
	recentPipelines = 5
	// uiOutputLimit bounds the output shown per step; the raw output link
	// has all of it.
	uiOutputLimit = 256 << 10
	// uiCSP allows inline styles and nothing else: the UI has no scripts.
	uiCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// uiTemplates holds one template set per page (each with the layout).
type uiTemplates struct {
	pages map[string]*template.Template
}

var uiFuncs = template.FuncMap{
	"badge": badgeClass,
	"when":  formatTime,
	"short": shortSHA,
	// warning tells a config warning (what CircleCI tolerates) from an
	// error in a pipeline's errors list (conductor.recordWarnings).
	"warning": func(msg string) bool { return strings.Contains(msg, ": warning: ") },
}

func parseTemplates() (*uiTemplates, error) {
	t := &uiTemplates{pages: map[string]*template.Template{}}
	for _, page := range []string{"index", "pipeline", "settings", "error", "login"} {
		tpl, err := template.New("layout.html").Funcs(uiFuncs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("api: parse template %s: %w", page, err)
		}
		t.pages[page] = tpl
	}
	return t, nil
}

// pageFunc builds a page: the template to render and its data.
type pageFunc func(r *http.Request) (page string, data any, err error)

// html adapts a pageFunc to http.Handler. The page is rendered to a buffer
// first so a template error still becomes a clean 500.
func (s *server) html(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", uiCSP)
		page, data, err := fn(r)
		var buf bytes.Buffer
		if err == nil {
			err = s.ui.pages[page].Execute(&buf, data)
		}
		if err != nil {
			s.htmlError(w, r, err)
			return
		}
		writeHTML(w, http.StatusOK, buf.Bytes())
	})
}

// htmlError answers a page's error as an HTML page.
func (s *server) htmlError(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Content-Security-Policy", uiCSP)
	code, msg := s.classifyAndLog(r, err)
	var buf bytes.Buffer
	data := errorPage{Title: http.StatusText(code), Code: code, Message: msg, RequestID: RequestID(r.Context())}
	if err := s.ui.pages["error"].Execute(&buf, data); err != nil {
		s.log.ErrorContext(r.Context(), "render error page", "request_id", data.RequestID, "error", err)
		http.Error(w, msg, code)
		return
	}
	writeHTML(w, code, buf.Bytes())
}

func writeHTML(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

type errorPage struct {
	Title     string
	Refresh   int
	Code      int
	Message   string
	RequestID string
}

// badgeClass colours a status the way CircleCI does.
func badgeClass(s string) string {
	switch s {
	case "success", "created":
		return "ok"
	case "failed", "failing", "error", "errored", "infrastructure_fail", "timedout", "unauthorized":
		return "bad"
	case "running", "queued", "pending", "setup-pending", "setup":
		return "run"
	case "on_hold":
		return "hold"
	}
	return "idle" // blocked, canceled, not_run
}

func formatTime(v any) string {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if t == nil {
			return ""
		}
		return formatTime(*t)
	}
	return ""
}

func shortSHA(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// formatDuration prints a run time like CircleCI ("1m 05s", "3s", "420ms").
func formatDuration(start, stop *time.Time) string {
	if start == nil || stop == nil {
		return ""
	}
	d := stop.Sub(*start)
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// ansi matches terminal escape sequences (CSI and OSC), which the UI drops;
// the raw output endpoint keeps them.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]`)

func stripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

// --- the home page ---

type indexPage struct {
	Title    string
	Refresh  int
	Projects []indexProject
	// Settings links each project's settings page (served with a vault).
	Settings bool
}

type indexProject struct {
	Slug, RepoURL, DefaultBranch string
	Pipelines                    []indexPipeline
}

type indexPipeline struct {
	ID, State, Branch, Tag, Revision string
	Number                           int64
	CreatedAt                        time.Time
	Workflows                        []nameStatus
}

type nameStatus struct{ Name, Status string }

func (s *server) uiIndex(r *http.Request) (string, any, error) {
	ctx := r.Context()
	ps, err := s.visibleProjects(ctx)
	if err != nil {
		return "", nil, err
	}
	page := indexPage{Title: "Projects", Settings: s.cfg.Vault != nil}
	active := false
	for _, p := range ps {
		ip := indexProject{Slug: p.Slug, RepoURL: p.RepoURL, DefaultBranch: p.DefaultBranch}
		pls, _, err := s.st.ListPipelines(ctx, p.Slug, "", recentPipelines)
		if err != nil {
			return "", nil, err
		}
		for _, pl := range pls {
			wfs, err := s.st.ListWorkflows(ctx, pl.ID)
			if err != nil {
				return "", nil, err
			}
			row := indexPipeline{ID: pl.ID, Number: pl.Number, State: string(pl.State), Branch: pl.VCS.Branch,
				Tag: pl.VCS.Tag, Revision: pl.VCS.Revision, CreatedAt: pl.CreatedAt}
			active = active || pipelineActive(pl.State)
			for _, wf := range wfs {
				row.Workflows = append(row.Workflows, nameStatus{Name: wf.Name, Status: string(wf.Status)})
				active = active || !wf.Status.Terminal()
			}
			ip.Pipelines = append(ip.Pipelines, row)
		}
		page.Projects = append(page.Projects, ip)
	}
	if active {
		page.Refresh = refreshSeconds
	}
	return "index", page, nil
}

func pipelineActive(s status.Pipeline) bool {
	return s != status.PipelineCreated && s != status.PipelineErrored
}

// --- the pipeline page ---

type pipelinePage struct {
	Title     string
	Refresh   int
	Pipeline  pipelineJSON
	Workflows []uiWorkflow
}

type uiWorkflow struct {
	ID, Name, Status     string
	CreatedAt, StoppedAt *time.Time
	Jobs                 []uiJob
}

type uiJob struct {
	ID, Name, Type, Status, Message string
	// Waiting is why the queued job waits ("" when unknown).
	Waiting string
	// ExecutorNotice says what of the executor was not honoured.
	ExecutorNotice string
	Number         int64
	Duration       string
	Requires       []string
	Parallelism    int
	Tasks          []nameStatus
	Steps          []uiStep
}

type uiStep struct {
	Index      int
	Name, Type string
	Runs       []uiRun
}

type uiRun struct {
	Task                        int
	Status, ExitCode, Duration  string
	Output, OutputURL           string
	Truncated, Open, ShowTaskNo bool
}

func (s *server) uiPipeline(r *http.Request) (string, any, error) {
	ctx := r.Context()
	p, err := s.st.GetPipeline(ctx, r.PathValue("id"))
	if err != nil {
		return "", nil, err
	}
	wfs, err := s.st.ListWorkflows(ctx, p.ID)
	if err != nil {
		return "", nil, err
	}
	page := pipelinePage{
		Title:    fmt.Sprintf("%s #%d", p.ProjectSlug, p.Number),
		Pipeline: pipelineView(p),
	}
	active := pipelineActive(p.State)
	for _, wf := range wfs {
		uw := uiWorkflow{ID: wf.ID, Name: wf.Name, Status: string(wf.Status), StoppedAt: wf.StoppedAt}
		created := wf.CreatedAt
		uw.CreatedAt = &created
		active = active || !wf.Status.Terminal()
		jobs, err := s.st.ListJobs(ctx, wf.ID)
		if err != nil {
			return "", nil, err
		}
		sortJobs(jobs)
		for _, j := range jobs {
			active = active || !j.Status.Terminal()
			uj, err := s.uiJob(ctx, j)
			if err != nil {
				return "", nil, err
			}
			uw.Jobs = append(uw.Jobs, uj)
		}
		page.Workflows = append(page.Workflows, uw)
	}
	if active {
		page.Refresh = refreshSeconds
	}
	return "pipeline", page, nil
}

func (s *server) uiJob(ctx context.Context, j store.Job) (uiJob, error) {
	uj := uiJob{ID: j.ID, Name: j.Name, Type: j.Type, Status: string(j.Status), Message: j.Message,
		Number: j.Number, Duration: formatDuration(j.StartedAt, j.StoppedAt), Parallelism: max(j.Parallelism, 1)}
	for _, req := range j.Requires {
		uj.Requires = append(uj.Requires, req.Name)
	}
	if w := s.jobWaiting(ctx, j); w != nil {
		uj.Waiting = w.Reason
	}
	if inv, err := jobSpec(j); err == nil && inv.Job != nil && s.cfg.HostExecutor {
		uj.ExecutorNotice = hostExecutorNotice(inv.Job.Executor)
	}
	if uj.Parallelism > 1 {
		tasks, err := s.jobTasks(ctx, j)
		if err != nil {
			return uj, err
		}
		for _, t := range tasks {
			uj.Tasks = append(uj.Tasks, nameStatus{Name: strconv.Itoa(t.Index), Status: string(t.Status)})
		}
	}
	groups, err := s.jobSteps(ctx, j)
	if err != nil {
		return uj, err
	}
	for _, g := range groups {
		us := uiStep{Index: g.Index, Name: g.Name, Type: g.Type}
		for _, run := range g.Runs {
			st := run.Step
			out, truncated, err := s.stepOutput(ctx, run.TaskID, g.Index, uiOutputLimit)
			if err != nil {
				return uj, err
			}
			ur := uiRun{
				Task:       run.Task,
				Status:     string(st.Status),
				Duration:   formatDuration(stepStart(st), st.StoppedAt),
				Output:     stripANSI(out),
				Truncated:  truncated,
				OutputURL:  fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=%d&task=%d", j.ProjectSlug, j.Number, g.Index, run.Task),
				Open:       st.Status != status.StepSuccess,
				ShowTaskNo: uj.Parallelism > 1,
			}
			if st.ExitCode != nil {
				ur.ExitCode = strconv.Itoa(*st.ExitCode)
			}
			us.Runs = append(us.Runs, ur)
		}
		uj.Steps = append(uj.Steps, us)
	}
	return uj, nil
}
