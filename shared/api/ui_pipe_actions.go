package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
)

// The pipeline pages' routes and their form actions. Each action runs the
// API route's own handler (callAPI): the same checks, the same conductor
// controls, the same audit events as a script calling the API.
//
//	GET  /                                        the dashboard
//	GET  /ui/projects                             followed projects, follow forms
//	POST /ui/projects/follow                      follow a local repository (POST /api/v2/project)
//	POST /ui/projects/follow-github               follow a GitHub repository (where configured)
//	GET  /ui/project/{vcs}/{org}/{repo}           a project's pipelines, branches, trigger form
//	POST /ui/project/{vcs}/{org}/{repo}/pipeline  trigger (POST /api/v2/project/{slug}/pipeline)
//	POST /ui/project/{vcs}/{org}/{repo}/unfollow  unfollow (DELETE /api/v2/project/{slug}, or GitHub's)
//	GET  /ui/pipeline/{id}                        a pipeline's workflows (graphs), config
//	GET  /ui/workflow/{id}                        one workflow
//	POST /ui/workflow/{id}/approve/{approval_request_id}, /cancel, /rerun (from_failed=true)

func (s *server) routeUIPipelines(mux *http.ServeMux) {
	const project = "/ui/project/{vcs}/{org}/{repo}"
	s.route(mux, "GET /{$}", signedIn, s.html(s.uiDashboard))
	s.route(mux, "GET /ui/projects", signedIn, s.html(s.uiProjects))
	s.route(mux, "POST /ui/projects/follow", signedIn, s.action(s.uiFollowLocal))
	s.route(mux, "GET "+project, onProject(accounts.Read, BySlug), s.html(s.uiProject))
	s.route(mux, "POST "+project+"/pipeline", onProject(accounts.Write, BySlug), s.action(s.uiTrigger))
	s.route(mux, "POST "+project+"/unfollow", onProject(accounts.Admin, BySlug), s.action(s.uiUnfollow))
	s.route(mux, "GET /ui/pipeline/{id}", onProject(accounts.Read, ByPipeline), s.html(s.uiPipelinePage))
	s.route(mux, "GET /ui/workflow/{id}", onProject(accounts.Read, ByWorkflow), s.html(s.uiWorkflowPage))
	if s.cfg.GitHub != nil {
		s.route(mux, "POST /ui/projects/follow-github", signedIn, s.action(s.uiFollowGitHub))
	}
	if s.cfg.Controls != nil {
		write := onProject(accounts.Write, ByWorkflow)
		s.route(mux, "POST /ui/workflow/{id}/approve/{approval_request_id}", write, s.action(s.uiApprove))
		s.route(mux, "POST /ui/workflow/{id}/cancel", write, s.action(s.uiCancel))
		s.route(mux, "POST /ui/workflow/{id}/rerun", write, s.action(s.uiRerun))
	}
}

// followLocal is POST /api/v2/project's handler, audited as CircleCI does.
func (s *server) followLocal() apiFunc {
	return s.audited(audit.ProjectAdd, projectTarget, s.audited(audit.ProjectFollow, projectTarget, s.followProject))
}

func (s *server) uiFollowLocal(r *http.Request) (string, string, error) {
	var p projectJSON
	req := followRequest{Path: r.PostFormValue("path"), Org: r.PostFormValue("org"), Name: r.PostFormValue("name")}
	if err := s.callAPIInto(r, s.followLocal(), req, &p); err != nil {
		return "", "", err
	}
	return "/ui/project/" + p.Slug, "Following " + p.Slug + ".", nil
}

func (s *server) uiFollowGitHub(r *http.Request) (string, string, error) {
	org, repo := strings.TrimSpace(r.PostFormValue("org")), strings.TrimSpace(r.PostFormValue("repo"))
	if org == "" || repo == "" {
		return "", "", badRequest("give the repository's owner and name")
	}
	slug := "gh/" + org + "/" + repo
	if err := s.requireOn(r.Context(), slug, accounts.Admin); err != nil {
		return "", "", err
	}
	var p projectJSON
	if err := s.callAPIInto(r, s.audited(audit.ProjectFollow, projectTarget, s.followGitHub), nil, &p,
		"vcs", "gh", "org", org, "repo", repo); err != nil {
		return "", "", err
	}
	return "/ui/project/" + p.Slug, "Following " + p.Slug + " on GitHub.", nil
}

func (s *server) uiUnfollow(r *http.Request) (string, string, error) {
	h := s.audited(audit.ProjectUnfollow, projectTarget, s.deleteProject)
	if v := r.PathValue("vcs"); s.cfg.GitHub != nil && (v == "gh" || v == "github") {
		h = s.audited(audit.ProjectUnfollow, projectTarget, s.unfollowGitHub)
	}
	if err := s.callAPIInto(r, h, nil, nil); err != nil {
		return "", "", err
	}
	return "/ui/projects", "Stopped following " + slugOf(r) + ".", nil
}

// uiTrigger triggers a pipeline from the project page's form: its branch,
// the parameters the config declares (param.<name>, typed as declared) and
// free name/value rows (typed by their look).
func (s *server) uiTrigger(r *http.Request) (string, string, error) {
	params := map[string]any{}
	declared := map[string]string{}
	recent, _, err := s.st.ListPipelines(r.Context(), slugOf(r), "", paramsLookback)
	if err != nil {
		return "", "", err
	}
	ps, err := s.declaredParams(r.Context(), recent)
	if err != nil {
		return "", "", err
	}
	for _, p := range ps {
		declared[p.Name] = p.Type
	}
	for key, vals := range r.PostForm {
		name, ok := strings.CutPrefix(key, "param.")
		if !ok || len(vals) == 0 || vals[0] == "" {
			continue
		}
		v, err := formParam(name, vals[0], declared[name])
		if err != nil {
			return "", "", err
		}
		params[name] = v
	}
	names, values := r.PostForm["extra_name"], r.PostForm["extra_value"]
	for i, name := range names {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		value := ""
		if i < len(values) {
			value = values[i]
		}
		v, err := formParam(name, value, declared[name])
		if err != nil {
			return "", "", err
		}
		params[name] = v
	}
	req := triggerRequest{Branch: strings.TrimSpace(r.PostFormValue("branch"))}
	if len(params) > 0 {
		req.Parameters = params
	}
	var created pipelineCreationJSON
	if err := s.callAPIInto(r, s.triggerPipeline, req, &created); err != nil {
		return "", "", err
	}
	return "/ui/pipeline/" + created.ID, fmt.Sprintf("Pipeline #%d triggered.", created.Number), nil
}

// formParam types a form's parameter value: as the config declares it
// (typ), or for an undeclared one by its look.
func formParam(name, value, typ string) (any, error) {
	switch typ {
	case "boolean":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, badRequest("parameter %s is a boolean: %q is neither true nor false", name, value)
		}
		return b, nil
	case "integer":
		if _, err := strconv.ParseInt(value, 10, 64); err != nil {
			return nil, badRequest("parameter %s is an integer: %q is not one", name, value)
		}
		return json.Number(value), nil
	case "":
		if b, err := strconv.ParseBool(value); err == nil && (value == "true" || value == "false") {
			return b, nil
		}
		if _, err := strconv.ParseInt(value, 10, 64); err == nil {
			return json.Number(value), nil
		}
	}
	return value, nil
}

func (s *server) uiApprove(r *http.Request) (string, string, error) {
	if err := s.callAPIInto(r, s.audited(audit.JobApprove, workflowTarget, s.approve), nil, nil); err != nil {
		return "", "", err
	}
	return s.workflowPipelinePage(r, r.PathValue("id")), "Approved.", nil
}

func (s *server) uiCancel(r *http.Request) (string, string, error) {
	if err := s.callAPIInto(r, s.cancelWorkflow, nil, nil); err != nil {
		return "", "", err
	}
	return s.workflowPipelinePage(r, r.PathValue("id")), "Workflow canceled.", nil
}

func (s *server) uiRerun(r *http.Request) (string, string, error) {
	fromFailed := r.PostFormValue("from_failed") == "true"
	req := rerunRequest{FromFailed: fromFailed}
	notice := "Workflow rerun from the start."
	if fromFailed {
		notice = "Workflow rerun from failed."
	}
	if r.PostFormValue("enable_ssh") == "true" { // "Rerun job with SSH" on the job page
		req = rerunRequest{EnableSSH: true, Jobs: []string{r.PostFormValue("job")}}
		notice = "Job rerun with SSH: its output shows the ssh command once it runs."
	}
	var out rerunJSON
	if err := s.callAPIInto(r, s.audited(audit.WorkflowRetry, workflowTarget, s.rerunWorkflow), req, &out); err != nil {
		return "", "", err
	}
	return s.workflowPipelinePage(r, out.WorkflowID), notice, nil
}

// workflowPipelinePage is the pipeline page of workflow id ("/" if it
// cannot be read).
func (s *server) workflowPipelinePage(r *http.Request, id string) string {
	wf, err := s.st.GetWorkflow(r.Context(), id)
	if err != nil {
		return "/"
	}
	return "/ui/pipeline/" + wf.PipelineID
}
