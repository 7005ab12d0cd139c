package audit

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// Pipelines reads the pipeline of a workflow or job (*store.Store).
type Pipelines interface {
	GetPipeline(ctx context.Context, id string) (store.Pipeline, error)
}

// Workflows turns the store's status changes into the seed's workflow and
// job events. Register it with store.Observe. Each event's id is derived
// from the change (workflow or job id, attempt, status), so a replayed
// transition that is heard again carries the same id.
//
//	workflow created              workflow.start
//	workflow → error              workflow.error
//	job → queued                  workflow.job.scheduled (+ workflow.job.context.request
//	                              when the job uses contexts)
//	job → running                 workflow.job.start
//	job → terminal                workflow.job.finish
type Workflows struct {
	Recorder  *Recorder
	Pipelines Pipelines
}

var _ store.Observer = Workflows{}

// WorkflowChanged implements store.Observer.
func (o Workflows) WorkflowChanged(ctx context.Context, from status.Workflow, w store.Workflow) {
	var action string
	switch {
	case from == "":
		action = WorkflowStart
	case w.Status == status.WorkflowError:
		action = WorkflowError
	default:
		return
	}
	wf := map[string]any{"id": w.ID, "name": w.Name, "status": string(w.Status), "pipeline_number": w.PipelineNumber}
	if b := o.branch(ctx, w.PipelineID); b != "" {
		wf["vcs_branch"] = b
	}
	if w.RerunOf != "" {
		wf["rerun_of"] = w.RerunOf
	}
	o.Recorder.Must(ctx, Event{
		ID:      ID(action, w.ID),
		Action:  action,
		Actor:   o.triggerActor(ctx, w.PipelineID),
		Target:  ProjectEntity(w.ProjectSlug),
		Scope:   AccountEntity(w.ProjectSlug),
		Payload: map[string]any{"workflow": wf},
		Success: action == WorkflowStart,
	})
}

// JobChanged implements store.Observer.
func (o Workflows) JobChanged(ctx context.Context, from status.Job, j store.Job) {
	var actions []string
	switch {
	case j.Status == status.JobQueued:
		actions = []string{JobScheduled}
		if len(jobContexts(j)) > 0 {
			actions = append(actions, JobContextRequest)
		}
	case j.Status == status.JobRunning:
		actions = []string{JobStart}
	case j.Status.Terminal():
		actions = []string{JobFinish}
	default:
		return
	}
	job := map[string]any{"id": j.ID, "job_name": j.Name, "job_status": string(j.Status),
		"contexts": jobContexts(j), "number": j.Number, "attempt": j.Attempt}
	wf := map[string]any{"id": j.WorkflowID}
	if b := o.branch(ctx, j.PipelineID); b != "" {
		wf["vcs_branch"] = b
	}
	for _, a := range actions {
		o.Recorder.Must(ctx, Event{
			ID:      ID(a, j.ID, strconv.Itoa(j.Attempt), string(j.Status)),
			Action:  a,
			Actor:   System,
			Target:  ProjectEntity(j.ProjectSlug),
			Scope:   AccountEntity(j.ProjectSlug),
			Payload: map[string]any{"job": job, "workflow": wf},
			Success: a != JobFinish || j.Status == status.JobSuccess,
		})
	}
}

func (o Workflows) branch(ctx context.Context, pipelineID string) string {
	if o.Pipelines == nil || pipelineID == "" {
		return ""
	}
	p, err := o.Pipelines.GetPipeline(ctx, pipelineID)
	if err != nil {
		return ""
	}
	return p.VCS.Branch
}

// triggerActor is the user who triggered the pipeline, else System.
func (o Workflows) triggerActor(ctx context.Context, pipelineID string) Entity {
	if o.Pipelines != nil && pipelineID != "" {
		if p, err := o.Pipelines.GetPipeline(ctx, pipelineID); err == nil && p.Trigger.Actor != "" {
			return Entity{ID: p.Trigger.Actor, Type: "user", Name: p.Trigger.Actor}
		}
	}
	return System
}

func jobContexts(j store.Job) []string {
	var spec struct {
		Contexts []string `json:"contexts"`
	}
	_ = json.Unmarshal(j.Spec, &spec)
	if spec.Contexts == nil {
		return []string{}
	}
	return spec.Contexts
}

// ProjectEntity is a project as a target: id and name its slug.
func ProjectEntity(slug string) Entity { return Entity{ID: slug, Type: "project", Name: slug} }

// AccountEntity is the account (VCS organization) that owns a project:
// "<vcs>/<org>" of its slug.
func AccountEntity(slug string) Entity {
	parts := strings.SplitN(slug, "/", 3)
	if len(parts) < 2 {
		return Entity{ID: slug, Type: "account", Name: slug}
	}
	return Entity{ID: parts[0] + "/" + parts[1], Type: "account", Name: parts[1]}
}
