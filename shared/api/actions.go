package api

import (
	"context"
	"net/http"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/conductor"
)

// The workflow controls (CircleCI API v2 shapes):
//
//	POST /api/v2/workflow/{id}/approve/{approval_request_id}  → 202 {"message":"Accepted."}
//	POST /api/v2/workflow/{id}/cancel                         → 202 {"message":"Accepted."}
//	POST /api/v2/workflow/{id}/rerun {"from_failed"|"jobs"|"sparse_tree"|"enable_ssh"} → 202 {"workflow_id"}
//	POST /api/v2/project/{slug}/job/{number}/cancel           → 200 {"message":"Accepted."}
//	POST /api/v2/jobs/{job-id}/cancel                         → 200 {"message":"Accepted."}
//
// A control that does not apply to the workflow or job as it is now
// (conductor.ErrNotAllowed: approving a job that is not on hold, rerunning a
// running workflow, cancelling a finished job) is 400 with the reason; an
// unknown workflow or job is 404.

// Controls are the workflow controls; *conductor.Conductor satisfies it.
type Controls interface {
	Approve(ctx context.Context, workflowID, jobID string) error
	CancelWorkflow(ctx context.Context, workflowID string) error
	CancelJob(ctx context.Context, jobID string) error
	Rerun(ctx context.Context, workflowID string, req conductor.RerunRequest) (string, error)
}

var _ Controls = (*conductor.Conductor)(nil)

// accepted is CircleCI's answer to a control it has taken on.
var accepted = message{Message: "Accepted."}

func (s *server) routeControls(mux *http.ServeMux, project string) {
	s.route(mux, "POST /api/v2/workflow/{id}/approve/{approval_request_id}", onProject(accounts.Write, ByWorkflow), s.api(s.audited(audit.JobApprove, workflowTarget, s.approve)))
	s.route(mux, "POST /api/v2/workflow/{id}/cancel", onProject(accounts.Write, ByWorkflow), s.api(s.cancelWorkflow))
	s.route(mux, "POST /api/v2/workflow/{id}/rerun", onProject(accounts.Write, ByWorkflow), s.api(s.audited(audit.WorkflowRetry, workflowTarget, s.rerunWorkflow)))
	s.route(mux, "POST "+project+"/job/{number}/cancel", onProject(accounts.Write, BySlug), s.api(s.cancelJobByNumber))
	s.route(mux, "POST /api/v2/jobs/{job_id}/cancel", onProject(accounts.Write, ByJobID), s.api(s.cancelJobByID))
}

func (s *server) approve(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Controls.Approve(r.Context(), r.PathValue("id"), r.PathValue("approval_request_id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, accepted)
	return nil
}

func (s *server) cancelWorkflow(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Controls.CancelWorkflow(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, accepted)
	return nil
}

// rerunRequest is CircleCI's RerunWorkflowParameters.
type rerunRequest struct {
	EnableSSH  bool     `json:"enable_ssh"`
	FromFailed bool     `json:"from_failed"`
	Jobs       []string `json:"jobs"`
	SparseTree bool     `json:"sparse_tree"`
}

type rerunJSON struct {
	WorkflowID string `json:"workflow_id"`
}

func (s *server) rerunWorkflow(w http.ResponseWriter, r *http.Request) error {
	var req rerunRequest
	if err := decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	var keys []string
	if req.EnableSSH {
		var err error
		if keys, err = s.sshKeys(r); err != nil {
			return err
		}
		if len(keys) == 0 {
			return badRequest("enable_ssh: your account has no SSH public key: add one (PUT /api/v2/me/ssh-keys), then rerun with SSH")
		}
	}
	id, err := s.cfg.Controls.Rerun(r.Context(), r.PathValue("id"), conductor.RerunRequest{
		FromFailed: req.FromFailed, Jobs: req.Jobs, SparseTree: req.SparseTree, SSHKeys: keys,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, rerunJSON{WorkflowID: id})
	return nil
}

func (s *server) cancelJobByNumber(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobByNumber(r)
	if err != nil {
		return err
	}
	if err := s.cfg.Controls.CancelJob(r.Context(), j.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accepted)
	return nil
}

func (s *server) cancelJobByID(w http.ResponseWriter, r *http.Request) error {
	if err := s.cfg.Controls.CancelJob(r.Context(), r.PathValue("job_id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accepted)
	return nil
}
