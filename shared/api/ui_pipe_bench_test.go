package api_test

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/insights"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vault"
	"github.com/orbit-ci/orbit/shared/vcs/localgit"
)

// The page-time benchmark (docs/PERFORMANCE.md): every UI page rendered
// through the whole handler (authentication, access rule, store reads,
// template) on a store holding one project with 10,000 pipelines, each
// with a workflow of four jobs recorded by Insights, a few of them still
// running, 20 project variables and 8 contexts of 10 variables, beside a
// baseline: a bare html/template render of the same records, read
// beforehand, measured in the same run. Every page must take at most
// 100 ms. Each handler sub-benchmark reports ms/page (wall), cpu-ms/page
// (the process's CPU time: what the page costs whatever the wait for a
// core on a loaded machine) and reads/page (the kv port's Gets and
// Queries, counted by countingKV); each baseline ms/page and cpu-ms/page.
//
//	go test -run '^$' -bench BenchmarkUIPages -benchtime 20x ./shared/api
//
// TestUIPageReadsFlat (ui_reads_test.go) holds the reads per page flat
// as the history grows. Other areas add their pages to uiBenchPages.

// uiPageBudget is the most server time a page may take.
const uiPageBudget = 100 * time.Millisecond

// benchFixture is the store the pages are timed on.
type benchFixture struct {
	h     http.Handler
	token string
	slug  string
	reads *countingKV
	st    *store.Store
	in    *insights.Insights
	vault *vault.Vault
	acc   *accounts.Service
	// newest is the newest pipeline, mid one from the middle of the history.
	newest, mid store.Pipeline
	// workflow is the newest pipeline's workflow.
	workflow store.Workflow
	// rows are the newest pipelines with their workflows (the baseline's
	// data for listings), jobs the newest workflow's jobs.
	rows []benchRow
	jobs []store.Job
	// context is one of the project's organization's contexts.
	context store.Context
}

type benchRow struct {
	P   store.Pipeline
	Wfs []store.Workflow
}

// uiBenchPages are the pages timed: a name, the URL on the fixture, and
// the baseline (a key of baselines: the records the page shows, in a
// bare table).
var uiBenchPages = []struct {
	name, baseline string
	url            func(f *benchFixture) string
}{
	{"dashboard", "rows", func(f *benchFixture) string { return "/" }},
	{"dashboard-filtered", "rows", func(f *benchFixture) string { return "/?branch=feature-7&status=failed" }},
	{"dashboard-page-50", "rows", func(f *benchFixture) string { return "" }}, // filled in by the benchmark: 50 pages deep
	{"projects", "projects", func(f *benchFixture) string { return "/ui/projects" }},
	{"project", "rows", func(f *benchFixture) string { return "/ui/project/" + f.slug }},
	{"pipeline", "pipeline", func(f *benchFixture) string { return "/ui/pipeline/" + f.newest.ID }},
	{"pipeline-old", "pipeline", func(f *benchFixture) string { return "/ui/pipeline/" + f.mid.ID }},
	{"workflow", "pipeline", func(f *benchFixture) string { return "/ui/workflow/" + f.workflow.ID }},
	{"job", "pipeline", func(f *benchFixture) string {
		return fmt.Sprintf("/ui/project/%s/job/%d", f.slug, f.jobs[1].Number)
	}},
	{"account", "users", func(f *benchFixture) string { return "/ui/account" }},
	{"admin", "users", func(f *benchFixture) string { return "/ui/admin" }},
	{"admin-users", "users", func(f *benchFixture) string { return "/ui/admin/users" }},
	{"admin-settings", "users", func(f *benchFixture) string { return "/ui/admin/settings" }},
	{"admin-queues", "queues", func(f *benchFixture) string { return "/ui/admin/queues" }},
	{"admin-health", "health", func(f *benchFixture) string { return "/ui/admin/health" }},
	{"insights", "insights", func(f *benchFixture) string { return "/ui/insights" }},
	{"insights-project", "insights", func(f *benchFixture) string { return "/ui/insights/" + f.slug }},
	{"insights-workflow", "insights", func(f *benchFixture) string {
		return "/ui/insights/" + f.slug + "/workflows/build-test-deploy"
	}},
	{"settings", "settings", func(f *benchFixture) string { return "/ui/project/" + f.slug + "/settings" }},
	{"contexts", "contexts", func(f *benchFixture) string { return "/ui/contexts" }},
	{"context", "context", func(f *benchFixture) string { return "/ui/contexts/" + f.context.ID }},
}

const (
	benchPipelines = 10000
	// benchSpacing is the time between two pipelines of the benchmark:
	// 10,000 span 35 days, so the 30-day Insights window holds 8,640
	// workflow runs (and 3 job runs each), as a busy project's does.
	benchSpacing = 5 * time.Minute
	// benchUnfinished is how many pipelines before the newest are still
	// running (a job running, one queued, two blocked).
	benchUnfinished = 10
	benchVars       = 20
	benchContexts   = 8
)

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// newBenchFixture builds the store of n pipelines, one every spacing, the
// newest created an hour ago (Insights' aggregates expire after their
// retention by the kv's clock, the real one).
func newBenchFixture(tb testing.TB, n int, spacing time.Duration) *benchFixture {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	bdb, err := bolt.Open(filepath.Join(dir, "bench.db"), 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true})
	must(tb, err)
	tb.Cleanup(func() { _ = bdb.Close() })
	raw, err := boltkv.New(bdb, boltkv.Config{})
	must(tb, err)
	db := &countingKV{Store: raw}
	benchEnd := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	start := benchEnd.Add(-time.Duration(n-1) * spacing)
	clock := start
	st := store.New(db, func() time.Time { clock = clock.Add(time.Millisecond); return clock })
	acc, err := accounts.New(db, accounts.Config{SessionKey: []byte("0123456789abcdef0123456789abcdef")})
	must(tb, err)
	admin, err := acc.SignIn(ctx, accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: "admin", Login: "admin"})
	must(tb, err)
	token, _, err := acc.CreateToken(ctx, admin.ID, "bench")
	must(tb, err)
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(dir, "master.keys")})
	must(tb, err)
	vlt := vault.New(st, secrets.NewSealer(keys))
	insightsNow := benchEnd.Add(10 * time.Minute)
	in, err := insights.New(insights.Config{KV: db, Records: st, Now: func() time.Time { return insightsNow }})
	must(tb, err)
	h, err := api.New(api.Config{Store: st, Trigger: &fakeTrigger{st: st}, Projects: localgit.Repos{}, Accounts: acc,
		Logger: slog.New(slog.DiscardHandler), Controls: &fakeControls{}, Vault: vlt, Insights: in})
	must(tb, err)
	f := &benchFixture{h: h, token: token, slug: "local/acme/big", reads: db, st: st, in: in, vault: vlt, acc: acc}
	_, err = st.CreateProject(ctx, store.Project{Slug: f.slug, Name: "big", VCS: "local", RepoURL: "/src/acme/big", DefaultBranch: "main"})
	must(tb, err)
	for i := range benchVars {
		_, err := vlt.SetVar(ctx, store.ProjectScope(f.slug), fmt.Sprintf("PROJECT_VAR_%02d", i), fmt.Sprintf("value-%d", i))
		must(tb, err)
	}
	for i := range benchContexts {
		c, err := vlt.CreateContext(ctx, vault.Owner(f.slug), fmt.Sprintf("context-%d", i))
		must(tb, err)
		for k := range 10 {
			_, err := vlt.SetVar(ctx, store.ContextScope(c.ID), fmt.Sprintf("CONTEXT_VAR_%02d", k), "secret")
			must(tb, err)
		}
		f.context = c
	}
	const source = "version: 2.1\nparameters:\n  deploy: {type: boolean, default: false}\njobs:\n  build: {docker: [{image: cimg/base:stable}], steps: [checkout]}\n"
	spec := []byte(`{"job":{"executor":{"type":"docker","resource_class":"medium"}}}`)
	var job int64
	for i := range n {
		clock = start.Add(time.Duration(i) * spacing)
		branch := "main"
		if i%3 != 0 {
			branch = fmt.Sprintf("feature-%d", i%40)
		}
		p, err := st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: f.slug, Trigger: store.Trigger{Type: "api", Actor: "alice"},
			VCS: store.PipelineVCS{OriginRepositoryURL: "/src/acme/big", Branch: branch}})
		must(tb, err)
		p, err = st.TransitionPipeline(ctx, p.ID, func(p *store.Pipeline) (status.Pipeline, error) {
			p.VCS.Revision = fmt.Sprintf("%040x", i)
			return status.PipelineCreated, nil
		})
		must(tb, err)
		if i%100 == 0 || i == n-1 {
			must(tb, st.PutPipelineConfig(ctx, p.ID, store.PipelineConfig{Source: source, Plan: []byte(`{"version":"2.1"}`)}))
		}
		unfinished := i >= n-1-benchUnfinished && i < n-1
		wst, outcome := status.WorkflowSuccess, status.JobSuccess
		if i%7 == 0 {
			wst, outcome = status.WorkflowFailed, status.JobFailed
		}
		created := p.CreatedAt
		queued, started, stop := created.Add(5*time.Second), created.Add(15*time.Second), created.Add(90*time.Second)
		wf := store.Workflow{ID: uuid.NewString(), Name: "build-test-deploy", PipelineID: p.ID, PipelineNumber: p.Number,
			ProjectSlug: f.slug, Status: wst, CreatedAt: created, StoppedAt: &stop}
		if unfinished {
			wf.Status, wf.StoppedAt = status.WorkflowRunning, nil
		}
		var jobs []store.Job
		for k, name := range []string{"build", "test", "hold", "deploy"} {
			j := store.Job{ID: uuid.NewString(), WorkflowID: wf.ID, PipelineID: p.ID, ProjectSlug: f.slug, Name: name,
				Type: "build", Status: status.JobSuccess, Parallelism: 1, Spec: spec, Attempt: 1,
				CreatedAt: created, QueuedAt: &queued, StartedAt: &started, StoppedAt: &stop}
			if k > 0 {
				j.Requires = []store.Requirement{{Name: jobs[k-1].Name}}
			}
			switch name {
			case "test":
				j.Status = outcome
			case "hold":
				j.Type, j.Status = "approval", status.JobSuccess
			case "deploy":
				if outcome == status.JobFailed {
					j.Status = status.JobNotRun
				}
			}
			if unfinished {
				j.StoppedAt = nil
				j.Status = []status.Job{status.JobRunning, status.JobQueued, status.JobBlocked, status.JobBlocked}[k]
				if j.Status != status.JobRunning {
					j.StartedAt = nil
				}
			}
			if j.Type != "approval" {
				job++
				j.Number = job
			}
			jobs = append(jobs, j)
		}
		must(tb, st.CreateWorkflow(ctx, wf, jobs))
		if !unfinished {
			must(tb, in.RecordWorkflow(ctx, wf))
			for _, j := range jobs {
				must(tb, in.RecordJob(ctx, j))
			}
		}
		switch i {
		case n / 2:
			f.mid = p
		case n - 1:
			// the newest jobs are reachable by number, as dispatch makes them
			for k := range jobs {
				if jobs[k].Type == "approval" {
					continue
				}
				jobs[k].Number = 0
				jobs[k], err = st.AssignJobNumber(ctx, jobs[k])
				must(tb, err)
			}
			f.newest, f.workflow, f.jobs = p, wf, jobs
		}
	}
	recent, _, err := st.ListPipelines(ctx, f.slug, "", 20)
	must(tb, err)
	for _, p := range recent {
		wfs, err := st.ListWorkflows(ctx, p.ID)
		must(tb, err)
		f.rows = append(f.rows, benchRow{P: p, Wfs: wfs})
	}
	return f
}

// baselines are bare html/template pages of the same records, without
// the layout, partials, store or handler.
var baselines = map[string]*template.Template{
	"rows": template.Must(template.New("rows").Parse(`<!doctype html><title>Dashboard</title><table>
{{range .}}<tr><td><a href="/ui/pipeline/{{.P.ID}}">#{{.P.Number}}</a></td><td>{{range .Wfs}}<a href="/ui/workflow/{{.ID}}">{{.Name}}</a> {{.Status}}{{end}}</td>
<td>{{.P.VCS.Branch}}</td><td>{{.P.VCS.Revision}}</td><td>{{.P.Trigger.Type}} {{.P.Trigger.Actor}}</td><td>{{.P.CreatedAt}}</td></tr>{{end}}
</table>`)),
	"pipeline": template.Must(template.New("pipeline").Parse(`<!doctype html><title>Pipeline</title><h1>#{{.P.Number}} {{.P.VCS.Branch}}</h1>
<table>{{range .Jobs}}<tr><td><a href="/ui/job/{{.Number}}">{{.Name}}</a></td><td>{{.Status}}</td><td>{{.StartedAt}}</td></tr>{{end}}</table>`)),
	"projects": template.Must(template.New("projects").Parse(`<!doctype html><title>Projects</title>
<table>{{range .}}<tr><td><a href="/ui/project/{{.Slug}}">{{.Slug}}</a></td><td>{{.DefaultBranch}}</td><td><form method="post"><button>Unfollow</button></form></td></tr>{{end}}</table>`)),
	"users": template.Must(template.New("users").Parse(`<!doctype html><title>Users</title>
<table>{{range .}}<tr><td>{{.Login}}</td><td>{{.Name}}</td><td><form method="post"><button>Suspend</button></form></td></tr>{{end}}</table>`)),
	"health": template.Must(template.New("health").Parse(`<!doctype html><title>Health</title>
<table>{{range .}}<tr><td>{{.}}</td><td>ok</td></tr>{{end}}</table>`)),
	"queues": template.Must(template.New("queues").Parse(`<!doctype html><title>Queues</title>
<dl><dt>Queued</dt><dd>{{len .Queued}}</dd><dt>Blocked</dt><dd>{{len .Blocked}}</dd><dt>Running</dt><dd>{{len .Running}}</dd></dl>
<table>{{range .Queued}}<tr><td><input type="checkbox" name="job" value="{{.ID}}"></td><td><a href="/ui/project/{{.ProjectSlug}}/job/{{.Number}}">{{.ProjectSlug}} #{{.Number}}</a> {{.Name}}</td><td>{{.QueuedAt}}</td></tr>{{end}}</table>`)),
	"insights": template.Must(template.New("insights").Parse(`<!doctype html><title>Insights</title>
<dl><dt>Runs</dt><dd>{{.Cur.TotalRuns}}</dd><dt>Success rate</dt><dd>{{.Cur.SuccessRate}}</dd><dt>Median</dt><dd>{{.Cur.Duration.Median}}</dd></dl>
<table>{{range .Points}}<tr><td>{{.Start}}</td><td>{{.Metrics.TotalRuns}}</td><td>{{.Metrics.SuccessRate}}</td><td>{{.Metrics.Duration.Median}}</td></tr>{{end}}</table>`)),
	"settings": template.Must(template.New("settings").Parse(`<!doctype html><title>Settings</title>
<table>{{range .}}<tr><td>{{.Name}}</td><td>{{.Masked}}</td><td>{{.CreatedAt}}</td><td><form method="post"><button>Delete</button></form></td></tr>{{end}}</table>`)),
	"contexts": template.Must(template.New("contexts").Parse(`<!doctype html><title>Contexts</title>
<table>{{range .}}<tr><td><a href="/ui/contexts/{{.ID}}">{{.Name}}</a></td><td>{{.CreatedAt}}</td></tr>{{end}}</table>`)),
	"context": template.Must(template.New("context").Parse(`<!doctype html><title>Context</title>
<table>{{range .}}<tr><td>{{.Name}}</td><td>{{.Masked}}</td><td>{{.CreatedAt}}</td><td><form method="post"><button>Delete</button></form></td></tr>{{end}}</table>`)),
}

// baselineData reads the records a baseline renders (before the timing).
func (f *benchFixture) baselineData(tb testing.TB, name string) any {
	ctx := context.Background()
	switch name {
	case "rows":
		return f.rows
	case "projects":
		ps, err := f.st.ListProjects(ctx)
		must(tb, err)
		return ps
	case "users":
		us, err := f.acc.List(ctx)
		must(tb, err)
		return us
	case "health":
		return []string{"kv", "blob", "queue", "nomad"}
	case "queues":
		var d struct{ Queued, Blocked, Running []store.Job }
		for s, dst := range map[status.Job]*[]store.Job{status.JobQueued: &d.Queued, status.JobBlocked: &d.Blocked, status.JobRunning: &d.Running} {
			jobs, _, err := f.st.UnfinishedJobs(ctx, s, "", 1000)
			must(tb, err)
			*dst = jobs
		}
		return d
	case "insights":
		// the figures and the day-by-day points the charts draw
		sum, err := f.in.Summarize(ctx, f.slug, insights.Last30Days, nil, nil)
		must(tb, err)
		return struct {
			Cur    insights.Metrics
			Points []insights.Point
		}{sum.Cur, insights.Series(sum.Runs, 24*time.Hour)}
	case "settings":
		vars, err := f.vault.ListVars(ctx, store.ProjectScope(f.slug))
		must(tb, err)
		return vars
	case "contexts":
		cs, err := f.st.ListContexts(ctx, vault.Owner(f.slug))
		must(tb, err)
		return cs
	case "context":
		vars, err := f.vault.ListVars(ctx, store.ContextScope(f.context.ID))
		must(tb, err)
		return vars
	}
	return struct {
		P    store.Pipeline
		Jobs []store.Job
	}{f.newest, f.jobs}
}

func (f *benchFixture) get(tb testing.TB, url string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Circle-Token", f.token)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET %s: %d %.300s", url, rec.Code, rec.Body.String())
	}
	return rec
}

// deepPage follows the dashboard's "older" links to its page n.
func (f *benchFixture) deepPage(tb testing.TB, n int) string {
	deep := "/"
	for i := 1; i < n; i++ {
		m := nextLink.FindStringSubmatch(f.get(tb, deep).Body.String())
		if m == nil {
			tb.Fatalf("page %d of the dashboard has no next link", i)
		}
		deep = html(m[1])
	}
	return deep
}

func BenchmarkUIPages(b *testing.B) {
	f := newBenchFixture(b, benchPipelines, benchSpacing)
	deep := f.deepPage(b, 50)
	for _, pg := range uiBenchPages {
		url := pg.url(f)
		if pg.name == "dashboard-page-50" {
			url = deep
		}
		b.Run(pg.name+"/handler", func(b *testing.B) {
			f.get(b, url) // warm the caches once, as a server is
			reads := f.reads.count()
			b.ResetTimer()
			start, cpu := time.Now(), processCPU()
			for i := 0; i < b.N; i++ {
				f.get(b, url)
			}
			per := time.Since(start) / time.Duration(b.N)
			cpuPer, readsPer := perPage(processCPU()-cpu, b.N), float64(f.reads.count()-reads)/float64(b.N)
			b.ReportMetric(perPage(per, 1), "ms/page")
			b.ReportMetric(cpuPer, "cpu-ms/page")
			b.ReportMetric(readsPer, "reads/page")
			if per > uiPageBudget {
				b.Errorf("%s (%s) takes %v per page (%.1f ms of CPU, %.0f reads); the budget is %v",
					pg.name, url, per, cpuPer, readsPer, uiPageBudget)
			}
		})
		b.Run(pg.name+"/baseline", func(b *testing.B) {
			tpl, data := baselines[pg.baseline], f.baselineData(b, pg.baseline)
			var buf bytes.Buffer
			b.ResetTimer()
			start, cpu := time.Now(), processCPU()
			for i := 0; i < b.N; i++ {
				buf.Reset()
				if err := tpl.Execute(&buf, data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perPage(time.Since(start), b.N), "ms/page")
			b.ReportMetric(perPage(processCPU()-cpu, b.N), "cpu-ms/page")
		})
	}
}

// perPage is d per page of n, in milliseconds.
func perPage(d time.Duration, n int) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }

// html undoes the template's escaping of a link's ampersands.
func html(href string) string {
	return string(bytes.ReplaceAll([]byte(href), []byte("&amp;"), []byte("&")))
}
