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
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs/localgit"
)

// The page-time benchmark (docs/PERFORMANCE.md): every UI page rendered
// through the whole handler (authentication, access rule, store reads,
// template) on a store holding one project with 10,000 pipelines, each
// with a workflow of four jobs, beside a baseline: a bare html/template
// render of the same records, read beforehand. Every page must take at
// most 100 ms.
//
//	go test -run '^$' -bench BenchmarkUIPages -benchtime 20x ./shared/api
//
// Other areas add their pages to uiBenchPages.

// uiPageBudget is the most server time a page may take.
const uiPageBudget = 100 * time.Millisecond

// benchFixture is the store the pages are timed on.
type benchFixture struct {
	h     http.Handler
	token string
	slug  string
	// newest is the newest pipeline, mid one from the middle of the history.
	newest, mid store.Pipeline
	// workflow is the newest pipeline's workflow.
	workflow store.Workflow
	// rows are the newest pipelines with their workflows (the baseline's
	// data for listings), jobs the newest workflow's jobs.
	rows []benchRow
	jobs []store.Job
}

type benchRow struct {
	P   store.Pipeline
	Wfs []store.Workflow
}

// uiBenchPages are the pages timed: a name, the URL on the fixture, and
// the baseline ("rows": a listing of 20 pipelines; "pipeline": one
// pipeline with its workflow and jobs).
var uiBenchPages = []struct {
	name, baseline string
	url            func(f *benchFixture) string
}{
	{"dashboard", "rows", func(f *benchFixture) string { return "/" }},
	{"dashboard-filtered", "rows", func(f *benchFixture) string { return "/?branch=feature-7&status=failed" }},
	{"dashboard-page-50", "rows", func(f *benchFixture) string { return "" }}, // filled in by the benchmark: 50 pages deep
	{"projects", "rows", func(f *benchFixture) string { return "/ui/projects" }},
	{"project", "rows", func(f *benchFixture) string { return "/ui/project/" + f.slug }},
	{"pipeline", "pipeline", func(f *benchFixture) string { return "/ui/pipeline/" + f.newest.ID }},
	{"pipeline-old", "pipeline", func(f *benchFixture) string { return "/ui/pipeline/" + f.mid.ID }},
	{"workflow", "pipeline", func(f *benchFixture) string { return "/ui/workflow/" + f.workflow.ID }},
	{"job", "pipeline", func(f *benchFixture) string {
		return fmt.Sprintf("/ui/project/%s/job/%d", f.slug, f.jobs[1].Number)
	}},
	{"account", "rows", func(f *benchFixture) string { return "/ui/account" }},
	{"admin", "rows", func(f *benchFixture) string { return "/ui/admin" }},
	{"admin-users", "rows", func(f *benchFixture) string { return "/ui/admin/users" }},
	{"admin-settings", "rows", func(f *benchFixture) string { return "/ui/admin/settings" }},
	{"admin-queues", "rows", func(f *benchFixture) string { return "/ui/admin/queues" }},
	{"admin-health", "rows", func(f *benchFixture) string { return "/ui/admin/health" }},
}

const benchPipelines = 10000

func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	ctx := context.Background()
	bdb, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bdb.Close() })
	db, err := boltkv.New(bdb, boltkv.Config{})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := t0
	st := store.New(db, func() time.Time { clock = clock.Add(time.Second); return clock })
	acc, err := accounts.New(db, accounts.Config{SessionKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	admin, err := acc.SignIn(ctx, accounts.Identity{Provider: accounts.ProviderLocal, ProviderID: "admin", Login: "admin"})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := acc.CreateToken(ctx, admin.ID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	h, err := api.New(api.Config{Store: st, Trigger: &fakeTrigger{st: st}, Projects: localgit.Repos{}, Accounts: acc,
		Logger: slog.New(slog.DiscardHandler), Controls: &fakeControls{}})
	if err != nil {
		b.Fatal(err)
	}
	f := &benchFixture{h: h, token: token, slug: "local/acme/big"}
	if _, err := st.CreateProject(ctx, store.Project{Slug: f.slug, Name: "big", VCS: "local", RepoURL: "/src/acme/big", DefaultBranch: "main"}); err != nil {
		b.Fatal(err)
	}
	const source = "version: 2.1\nparameters:\n  deploy: {type: boolean, default: false}\njobs:\n  build: {docker: [{image: cimg/base:stable}], steps: [checkout]}\n"
	var job int64
	for i := 0; i < benchPipelines; i++ {
		branch := "main"
		if i%3 != 0 {
			branch = fmt.Sprintf("feature-%d", i%40)
		}
		p, err := st.CreatePipeline(ctx, store.Pipeline{ProjectSlug: f.slug, Trigger: store.Trigger{Type: "api", Actor: "alice"},
			VCS: store.PipelineVCS{OriginRepositoryURL: "/src/acme/big", Branch: branch}})
		if err != nil {
			b.Fatal(err)
		}
		if p, err = st.TransitionPipeline(ctx, p.ID, func(p *store.Pipeline) (status.Pipeline, error) {
			p.VCS.Revision = fmt.Sprintf("%040x", i)
			return status.PipelineCreated, nil
		}); err != nil {
			b.Fatal(err)
		}
		if i%100 == 0 || i == benchPipelines-1 {
			if err := st.PutPipelineConfig(ctx, p.ID, store.PipelineConfig{Source: source, Plan: []byte(`{"version":"2.1"}`)}); err != nil {
				b.Fatal(err)
			}
		}
		wst, outcome := status.WorkflowSuccess, status.JobSuccess
		if i%7 == 0 {
			wst, outcome = status.WorkflowFailed, status.JobFailed
		}
		stop := p.CreatedAt.Add(90 * time.Second)
		wf := store.Workflow{ID: uuid.NewString(), Name: "build-test-deploy", PipelineID: p.ID, PipelineNumber: p.Number,
			ProjectSlug: f.slug, Status: wst, CreatedAt: p.CreatedAt, StoppedAt: &stop}
		var jobs []store.Job
		for k, name := range []string{"build", "test", "hold", "deploy"} {
			j := store.Job{ID: uuid.NewString(), WorkflowID: wf.ID, PipelineID: p.ID, ProjectSlug: f.slug, Name: name,
				Type: "build", Status: status.JobSuccess, Parallelism: 1, StartedAt: &p.CreatedAt, StoppedAt: &stop}
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
			if j.Type != "approval" {
				job++
				j.Number = job
			}
			jobs = append(jobs, j)
		}
		if err := st.CreateWorkflow(ctx, wf, jobs); err != nil {
			b.Fatal(err)
		}
		switch i {
		case benchPipelines / 2:
			f.mid = p
		case benchPipelines - 1:
			// the newest jobs are reachable by number, as dispatch makes them
			for k := range jobs {
				if jobs[k].Type == "approval" {
					continue
				}
				jobs[k].Number = 0
				if jobs[k], err = st.AssignJobNumber(ctx, jobs[k]); err != nil {
					b.Fatal(err)
				}
			}
			f.newest, f.workflow, f.jobs = p, wf, jobs
		}
	}
	recent, _, err := st.ListPipelines(ctx, f.slug, "", 20)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range recent {
		wfs, err := st.ListWorkflows(ctx, p.ID)
		if err != nil {
			b.Fatal(err)
		}
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
}

func (f *benchFixture) baselineData(name string) any {
	if name == "rows" {
		return f.rows
	}
	return struct {
		P    store.Pipeline
		Jobs []store.Job
	}{f.newest, f.jobs}
}

func (f *benchFixture) get(b *testing.B, url string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Circle-Token", f.token)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %.300s", url, rec.Code, rec.Body.String())
	}
	return rec
}

func BenchmarkUIPages(b *testing.B) {
	f := newBenchFixture(b)
	// The 50th page of the dashboard: follow the "older" links.
	deep := "/"
	for i := 0; i < 49; i++ {
		m := nextLink.FindStringSubmatch(f.get(b, deep).Body.String())
		if m == nil {
			b.Fatalf("page %d of the dashboard has no next link", i+1)
		}
		deep = html(m[1])
	}
	for _, pg := range uiBenchPages {
		url := pg.url(f)
		if pg.name == "dashboard-page-50" {
			url = deep
		}
		b.Run(pg.name+"/handler", func(b *testing.B) {
			f.get(b, url) // warm the caches once, as a server is
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				f.get(b, url)
			}
			if per := time.Since(start) / time.Duration(b.N); per > uiPageBudget {
				b.Errorf("%s (%s) takes %v per page; the budget is %v", pg.name, url, per, uiPageBudget)
			}
		})
		b.Run(pg.name+"/baseline", func(b *testing.B) {
			tpl, data := baselines[pg.baseline], f.baselineData(pg.baseline)
			var buf bytes.Buffer
			for i := 0; i < b.N; i++ {
				buf.Reset()
				if err := tpl.Execute(&buf, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// html undoes the template's escaping of a link's ampersands.
func html(href string) string {
	return string(bytes.ReplaceAll([]byte(href), []byte("&amp;"), []byte("&")))
}
