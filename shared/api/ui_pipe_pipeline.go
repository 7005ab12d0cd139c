package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/dagsvg"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// --- the pipeline page (/ui/pipeline/{id}) and the workflow page
// (/ui/workflow/{id}): each workflow's graph (dagsvg), its jobs, the
// controls (approve, cancel, rerun, rerun from failed), and on the pipeline
// page the config with its warnings and errors marked on their lines. ---

type pipePipelinePage struct {
	uiBase
	Pipeline pipelineJSON
	// Commit is the pipeline's commit ("pipe-commit"); zero when unknown.
	Commit    vcs.Commit
	Workflows []pipeWorkflow
	Config    pipeConfig
	// Parameters are the pipeline parameters given at trigger time.
	Parameters []nameStatus
}

type pipeWorkflowPage struct {
	uiBase
	Pipeline pipelineJSON
	// Commit is the pipeline's commit ("pipe-commit"); zero when unknown.
	Commit   vcs.Commit
	Workflow pipeWorkflow
}

// pipeWorkflow is one workflow as the "pipe-workflow" partial shows it.
type pipeWorkflow struct {
	ID, Name, Status, Duration, Slug string
	PipelineID, RerunOf              string
	CreatedAt                        string
	Graph                            template.HTML
	Jobs                             []pipeJob
	// Controls: the user may approve, cancel and rerun (write access and
	// a conductor); the buttons shown are those the status allows.
	Controls, CanCancel, CanRerun, CanRerunFailed bool
	// Page is where the controls' forms come back to.
	Page string
	// Base is the page's base, for the forms' CSRF field.
	Base *uiBase
}

type pipeJob struct {
	ID, Name, Type, Status, Duration, Href, Waiting string
	// Message is the job's own (why it was refused, say); ExecutorNotice
	// what of its executor was not honoured.
	Message, ExecutorNotice string
	Number                  int64
	Requires                []string
	// Approvable: an approval job on hold.
	Approvable bool
}

// pipeConfig is the pipeline's config source with its messages.
type pipeConfig struct {
	File     string
	Lines    []pipeLine
	Messages []pipeMessage
	Compiled string
}

type pipeLine struct {
	N      int
	Text   string
	Marked bool
}

type pipeMessage struct {
	Type, Message string
	// Line is the line of the config it names; 0 for none.
	Line int
}

func (s *server) uiPipelinePage(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	p, err := s.st.GetPipeline(ctx, r.PathValue("id"))
	if err != nil {
		return "", nil, err
	}
	wfs, err := s.st.ListWorkflows(ctx, p.ID)
	if err != nil {
		return "", nil, err
	}
	page := &pipePipelinePage{
		uiBase:   uiBase{Title: fmt.Sprintf("%s #%d", p.ProjectSlug, p.Number), Nav: "projects"},
		Pipeline: pipelineView(p),
		Commit:   p.VCS.Commit,
	}
	for _, k := range sortedKeys(p.Parameters) {
		page.Parameters = append(page.Parameters, nameStatus{Name: k, Status: fmt.Sprint(p.Parameters[k])})
	}
	active := pipelineActive(p.State)
	for _, wf := range wfs {
		pw, err := s.pipeWorkflowOf(ctx, wf, "/ui/pipeline/"+p.ID, &page.uiBase)
		if err != nil {
			return "", nil, err
		}
		active = active || !wf.Status.Terminal()
		page.Workflows = append(page.Workflows, pw)
	}
	if page.Config, err = s.pipeConfigOf(ctx, p); err != nil {
		return "", nil, err
	}
	if active {
		page.Refresh = refreshSeconds
	}
	return "pipeline", page, nil
}

func (s *server) uiWorkflowPage(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	wf, err := s.st.GetWorkflow(ctx, r.PathValue("id"))
	if err != nil {
		return "", nil, err
	}
	p, err := s.st.GetPipeline(ctx, wf.PipelineID)
	if err != nil {
		return "", nil, err
	}
	page := &pipeWorkflowPage{uiBase: uiBase{Title: fmt.Sprintf("%s · %s #%d", wf.Name, p.ProjectSlug, p.Number), Nav: "projects"},
		Pipeline: pipelineView(p), Commit: p.VCS.Commit}
	if page.Workflow, err = s.pipeWorkflowOf(ctx, wf, "/ui/workflow/"+wf.ID, &page.uiBase); err != nil {
		return "", nil, err
	}
	if !wf.Status.Terminal() {
		page.Refresh = refreshSeconds
	}
	return "workflow", page, nil
}

// pipeWorkflowOf builds a workflow's graph, jobs and controls; page is the
// page its forms return to.
func (s *server) pipeWorkflowOf(ctx context.Context, wf store.Workflow, page string, base *uiBase) (pipeWorkflow, error) {
	jobs, err := s.st.ListJobs(ctx, wf.ID)
	if err != nil {
		return pipeWorkflow{}, err
	}
	sortJobs(jobs)
	// A running workflow shows no ticking duration: its live region then
	// changes only when something happens, and a swap does not take a
	// button away under the user's pointer every refresh.
	pw := pipeWorkflow{ID: wf.ID, Name: wf.Name, Status: string(wf.Status), Slug: wf.ProjectSlug, PipelineID: wf.PipelineID,
		RerunOf: wf.RerunOf, CreatedAt: formatTime(wf.CreatedAt), Duration: formatDuration(&wf.CreatedAt, wf.StoppedAt), Page: page, Base: base}
	write, err := s.can(ctx, wf.ProjectSlug, accounts.Write)
	if err != nil {
		return pipeWorkflow{}, err
	}
	pw.Controls = write && s.cfg.Controls != nil
	pw.CanCancel = !wf.Status.Terminal()
	pw.CanRerun = wf.Status.Terminal()
	nodes := make([]dagsvg.Node, 0, len(jobs))
	for _, j := range jobs {
		pj := pipeJob{ID: j.ID, Name: j.Name, Type: j.Type, Status: string(j.Status), Number: j.Number,
			Duration: formatDuration(j.StartedAt, j.StoppedAt), Approvable: j.Type == "approval" && j.Status == status.JobOnHold}
		if j.Number > 0 && j.Type != "approval" {
			pj.Href = fmt.Sprintf("/ui/project/%s/job/%d", j.ProjectSlug, j.Number)
		}
		if w := s.jobWaiting(ctx, j); w != nil {
			pj.Waiting = w.Reason
		}
		pj.Message = j.Message
		if inv, err := jobSpec(j); err == nil && inv.Job != nil && s.cfg.HostExecutor {
			pj.ExecutorNotice = hostExecutorNotice(inv.Job.Executor)
		}
		for _, req := range j.Requires {
			pj.Requires = append(pj.Requires, req.Name)
		}
		pw.CanRerunFailed = pw.CanRerunFailed || wf.Status.Terminal() && j.Status.Failed()
		pw.Jobs = append(pw.Jobs, pj)
		href := pj.Href
		if href == "" {
			href = page + "#job-" + j.ID
		}
		nodes = append(nodes, dagsvg.Node{Name: j.Name, Requires: pj.Requires, Status: pj.Status, Class: badgeClass(pj.Status),
			Href: href, Approval: j.Type == "approval", NotRun: j.Status == status.JobNotRun})
	}
	pw.Graph = dagsvg.Render("Workflow "+wf.Name+": its jobs and what each requires", nodes)
	return pw, nil
}

// configPosition finds the file and line a config message names
// ("file:line[:col]: …", config.Error's format).
var configPosition = regexp.MustCompile(`^([^\s:]+):(\d+)(?::\d+)?: `)

// pipeConfigOf is pipeline p's config source, numbered, with the lines its
// errors and warnings name marked.
func (s *server) pipeConfigOf(ctx context.Context, p store.Pipeline) (pipeConfig, error) {
	c, err := s.st.GetPipelineConfig(ctx, p.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return pipeConfig{}, err
	}
	out := pipeConfig{File: p.ConfigPath}
	if out.File == "" {
		out.File = config.DefaultFilename
	}
	marked := map[int]bool{}
	for _, e := range p.Errors {
		m := pipeMessage{Type: e.Type, Message: e.Message}
		if pos := configPosition.FindStringSubmatch(e.Message); pos != nil && pos[1] == out.File {
			m.Line, _ = strconv.Atoi(pos[2])
			marked[m.Line] = true
		}
		out.Messages = append(out.Messages, m)
	}
	if c.Source != "" {
		for i, text := range strings.Split(strings.TrimSuffix(c.Source, "\n"), "\n") {
			out.Lines = append(out.Lines, pipeLine{N: i + 1, Text: text, Marked: marked[i+1]})
		}
	}
	if len(c.Plan) > 0 {
		var buf bytes.Buffer
		if err := json.Indent(&buf, c.Plan, "", "  "); err != nil {
			return pipeConfig{}, fmt.Errorf("indent plan of pipeline %s: %w", p.ID, err)
		}
		out.Compiled = buf.String()
	}
	return out, nil
}
