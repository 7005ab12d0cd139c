package api

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	ansihtml "github.com/orbit-ci/orbit/shared/ansi"
	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// The job page: /ui/project/{vcs}/{org}/{repo}/job/{number}. Its steps
// per parallel task (side by side), each step's output with its colours
// (shared/ansi) and the time of each line, the job's artifacts, its test
// results (failures first) and, while it is queued, why it waits.
//
// While a step runs, static/30-job.js follows its output: through
// GET …/job/{number}/events (server-sent events, jobevents.go) where the
// shape can stream (Config.StreamOutput), else — and whenever the event
// stream fails — by polling GET /api/v2/…/job/{number}/output from the
// sequence number the page carries (X-Orbit-Next-Seq answers the next),
// which works through API Gateway. Without JavaScript the page refreshes
// itself while the job runs, and each step links its raw output.

// routeUIJob adds the job page, its raw output download and its event
// stream.
func (s *server) routeUIJob(mux *http.ServeMux) {
	const job = "/ui/project/{vcs}/{org}/{repo}/job/{number}"
	read := onProject(accounts.Read, BySlug)
	s.route(mux, "GET "+job, read, s.html(s.uiJobPage))
	s.route(mux, "GET "+job+"/raw", read, s.api(s.rawOutput))
	if s.cfg.StreamOutput {
		s.route(mux, "GET "+job+"/events", read, s.api(s.jobEvents))
	}
}

type jobPage struct {
	uiBase
	// Slug is the project's; the URLs are of the pages the breadcrumb links.
	Slug, ProjectURL, PipelineURL, WorkflowURL string
	// PipelineNumber and WorkflowName name the job's pipeline and workflow
	// (0 and "" when they cannot be read).
	PipelineNumber int64
	WorkflowName   string
	// Job is the job's head: status, duration, why it waits.
	Job uiJob
	// WaitingSince is when the reason Job.Waiting started to hold.
	WaitingSince time.Time
	Tasks        []jobTask
	// Stream: the page follows output by server-sent events (else polls).
	Stream bool
	// EventsURL and OutputURL are where the script follows output.
	EventsURL, OutputURL string
	// Artifacts link to the API route that serves them (getArtifact).
	Artifacts []artifactJSON
	// Tests are the results, failures first, and their counts.
	Tests                 []testJSON
	Failed, Passed, Skips int
	// FilesKnown: the shape keeps artifacts and tests.
	FilesKnown bool
	// RerunURL is the workflow's rerun form, for "Rerun job with SSH"
	// (a finished job the caller may rerun); JobID names the job in it.
	RerunURL, JobID string
}

// jobTask is one parallel task's column.
type jobTask struct {
	Index  int
	Status string
	Runs   []jobRun
}

// jobRun is one step on one task.
type jobRun struct {
	Step, Task               int
	Name, Status             string
	ExitCode, Duration       string
	Open, Running, Truncated bool
	RawURL, DownloadURL      string
	Out                      renderedOutput
}

func (s *server) uiJobPage(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	j, err := s.jobByNumber(r)
	if err != nil {
		return "", nil, err
	}
	uj, err := s.uiJobHead(ctx, j)
	if err != nil {
		return "", nil, err
	}
	slug := j.ProjectSlug
	page := &jobPage{
		uiBase:      uiBase{Title: fmt.Sprintf("%s · job #%d %s", slug, j.Number, j.Name), Nav: "projects"},
		Slug:        slug,
		ProjectURL:  "/ui/project/" + slug,
		PipelineURL: "/ui/pipeline/" + j.PipelineID,
		WorkflowURL: "/ui/workflow/" + j.WorkflowID,
		Job:         uj,
		Stream:      s.cfg.StreamOutput,
		EventsURL:   fmt.Sprintf("/ui/project/%s/job/%d/events", slug, j.Number),
		OutputURL:   fmt.Sprintf("/api/v2/project/%s/job/%d/output", slug, j.Number),
		FilesKnown:  s.cfg.Files != nil,
	}
	if p, err := s.st.GetPipeline(ctx, j.PipelineID); err == nil {
		page.PipelineNumber = p.Number
	}
	if wf, err := s.st.GetWorkflow(ctx, j.WorkflowID); err == nil {
		page.WorkflowName = wf.Name
	}
	if w := s.jobWaiting(ctx, j); w != nil {
		page.WaitingSince = w.Since
	}
	if page.Tasks, err = s.jobTaskRuns(ctx, j, page.OutputURL); err != nil {
		return "", nil, err
	}
	if err := s.jobFiles(ctx, j, page); err != nil {
		return "", nil, err
	}
	if !j.Status.Terminal() {
		page.Refresh = refreshSeconds
	} else if ok, err := s.can(ctx, slug, accounts.Write); err == nil && ok && s.cfg.Controls != nil && j.Type != "approval" {
		page.RerunURL, page.JobID = "/ui/workflow/"+j.WorkflowID+"/rerun", j.ID
	}
	return "job", page, nil
}

// uiJob is what a page says of a job itself: status, duration, why it
// waits (the job page's head).
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
}

// uiJobHead is what the page says of the job itself (the pipeline page's
// view of a job, without its steps).
func (s *server) uiJobHead(ctx context.Context, j store.Job) (uiJob, error) {
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
	return uj, nil
}

// jobTaskRuns lays the steps out by task, each with its output rendered.
func (s *server) jobTaskRuns(ctx context.Context, j store.Job, outputURL string) ([]jobTask, error) {
	tasks, err := s.jobTasks(ctx, j)
	if err != nil {
		return nil, err
	}
	cols := make([]jobTask, len(tasks))
	for i, t := range tasks {
		cols[i] = jobTask{Index: t.Index, Status: string(t.Status)}
	}
	groups, err := s.jobSteps(ctx, j)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		for _, run := range g.Runs {
			st := run.Step
			chunks, err := s.st.Output(ctx, run.TaskID, g.Index, 0)
			if err != nil {
				return nil, err
			}
			q := fmt.Sprintf("?step=%d&task=%d", g.Index, run.Task)
			jr := jobRun{
				Step: g.Index, Task: run.Task, Name: g.Name, Status: string(st.Status),
				Duration:    formatDuration(stepStart(st), st.StoppedAt),
				Running:     stepRunning(st) && !j.Status.Terminal(),
				Open:        st.Status != status.StepSuccess,
				RawURL:      outputURL + q,
				DownloadURL: fmt.Sprintf("/ui/project/%s/job/%d/raw%s", j.ProjectSlug, j.Number, q),
				Out:         renderOutput(chunks, uiOutputLimit),
			}
			jr.Truncated = jr.Out.Truncated
			if st.ExitCode != nil {
				jr.ExitCode = strconv.Itoa(*st.ExitCode)
			}
			if run.Task < len(cols) {
				cols[run.Task].Runs = append(cols[run.Task].Runs, jr)
			}
		}
	}
	return cols, nil
}

func stepRunning(st store.Step) bool { return st.Status == status.StepRunning && st.StoppedAt == nil }

// jobFiles adds the job's artifacts and test results (failures first).
func (s *server) jobFiles(ctx context.Context, j store.Job, page *jobPage) error {
	if s.cfg.Files == nil || j.Number == 0 {
		return nil
	}
	arts, err := s.cfg.Files.Artifacts(ctx, j.ProjectSlug, j.Number)
	if err != nil {
		return err
	}
	base := fmt.Sprintf("/api/v2/project/%s/%d/artifacts/", j.ProjectSlug, j.Number)
	for _, a := range arts {
		page.Artifacts = append(page.Artifacts, artifactJSON{Path: a.Path, NodeIndex: a.NodeIndex,
			URL: base + strconv.Itoa(a.NodeIndex) + "/" + escapeSegments(a.Path)})
	}
	if j.Attempt == 0 {
		return nil
	}
	tests, err := s.uiTests(ctx, j)
	if err != nil {
		return err
	}
	rank := func(t junit.Test) int {
		switch t.Result {
		case junit.ResultFailure:
			return 0
		case junit.ResultSkipped:
			return 2
		}
		return 1
	}
	slices.SortStableFunc(tests, func(a, b junit.Test) int { return cmp.Compare(rank(a), rank(b)) })
	for _, t := range tests {
		switch rank(t) {
		case 0:
			page.Failed++
		case 1:
			page.Passed++
		default:
			page.Skips++
		}
		page.Tests = append(page.Tests, testView(t))
	}
	return nil
}

// rawOutput is a step's raw output as a download (the output endpoint's
// answer with a file name).
func (s *server) rawOutput(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"job-%s-step-%s-task-%s.txt\"",
		safeName(r.PathValue("number")), safeName(r.URL.Query().Get("step")), safeName(cmp.Or(r.URL.Query().Get("task"), "0"))))
	return s.output(w, r)
}

// safeName keeps the digits of a query value for a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// renderedOutput is a step's output as the page shows it.
type renderedOutput struct {
	// HTML is the lines, each a span (class job-ln, a block; data-t its
	// time), escaped by shared/ansi.
	HTML template.HTML
	// Next is the sequence number of the first chunk not shown.
	Next int
	// State is the colour state after the last line ("fg,bg,bold"), where
	// streamed output continues.
	State string
	// OpenLine: the last line has no newline yet (streamed text continues it).
	OpenLine bool
	// Truncated: the first chunks are left out (uiOutputLimit).
	Truncated bool
}

// renderOutput renders chunks as lines, each with the time of the chunk
// it starts in, keeping the last chunks within limit bytes.
func renderOutput(chunks []store.OutputChunk, limit int) renderedOutput {
	var out renderedOutput
	if len(chunks) > 0 {
		out.Next = chunks[len(chunks)-1].Seq + 1
	}
	size := 0
	first := len(chunks)
	for first > 0 && (first == len(chunks) || size+len(chunks[first-1].Data) <= limit) {
		first--
		size += len(chunks[first].Data)
	}
	out.Truncated = first > 0
	chunks = chunks[first:]
	var data []byte
	starts := make([]int, len(chunks)) // offset of each chunk in data
	for i, c := range chunks {
		starts[i] = len(data)
		data = append(data, c.Data...)
	}
	r := ansihtml.NewRenderer()
	var b strings.Builder
	ci := 0
	for off := 0; off < len(data); {
		end := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i
		}
		for ci+1 < len(starts) && starts[ci+1] <= off {
			ci++
		}
		b.WriteString(`<span class="job-ln"`)
		if at := chunks[ci].At; !at.IsZero() {
			b.WriteString(` data-t="` + at.UTC().Format("15:04:05") + `"`)
		}
		b.WriteString(">" + r.Line(string(data[off:end])) + "</span>")
		if end == len(data) {
			out.OpenLine = true
			break
		}
		off = end + 1
	}
	out.HTML = template.HTML(b.String()) // escaped by ansi
	bold := 0
	if r.State.Bold {
		bold = 1
	}
	out.State = fmt.Sprintf("%d,%d,%d", r.State.FG, r.State.BG, bold)
	return out
}

// uiTestsLimit bounds the test results the job page reads (pages of
// testsPage); the API pages through all of them.
const uiTestsLimit = 10000

// uiTests reads the job's test results page by page, up to uiTestsLimit,
// so the page can put every failure first.
func (s *server) uiTests(ctx context.Context, j store.Job) ([]junit.Test, error) {
	var all []junit.Test
	token := ""
	for {
		tests, next, err := s.cfg.Files.TestsPage(ctx, j.ProjectSlug, j.Number, j.Attempt, token, testsPage)
		if err != nil {
			return nil, err
		}
		all = append(all, tests...)
		if next == "" || len(all) >= uiTestsLimit {
			return all, nil
		}
		token = next
	}
}
