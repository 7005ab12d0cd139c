package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/status"
)

// Workflow is one workflow of a pipeline.
type Workflow struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	PipelineID     string          `json:"pipeline_id"`
	PipelineNumber int64           `json:"pipeline_number"`
	ProjectSlug    string          `json:"project_slug"`
	Status         status.Workflow `json:"status"`
	CreatedAt      time.Time       `json:"created_at"`
	StoppedAt      *time.Time      `json:"stopped_at"`
	// TaskToken is the orchestrator token the workflow machine waits on
	// until every job is terminal. Internal: never shown by the API.
	TaskToken string `json:"task_token,omitempty"`
	// RerunOf is the workflow this one reruns; empty for a first run.
	RerunOf string `json:"rerun_of,omitempty"`
}

// Requirement is one entry of a job's requires: the job it waits for and
// the statuses of that job that let it run.
type Requirement struct {
	Name     string       `json:"name"`
	Statuses []status.Job `json:"statuses"`
}

// Job is one job of a workflow.
type Job struct {
	ID          string `json:"id"`
	WorkflowID  string `json:"workflow_id"`
	PipelineID  string `json:"pipeline_id"`
	ProjectSlug string `json:"project_slug"`
	// Name is the job's name in its workflow.
	Name string `json:"name"`
	// Type is "build" or "approval".
	Type string `json:"type"`
	// Number is the project-wide job number, allocated when the job is
	// queued; 0 before.
	Number   int64         `json:"number,omitempty"`
	Status   status.Job    `json:"status"`
	Requires []Requirement `json:"requires"`
	// Parallelism is how many tasks the job runs as.
	Parallelism int `json:"parallelism"`
	// Spec is the compiled job (config.JobInvocation as JSON).
	Spec json.RawMessage `json:"spec,omitempty"`
	// Attempt counts dispatches (infrastructure retries add attempts).
	Attempt int `json:"attempt"`
	// Tasks holds the outcome of each task of the current attempt by index;
	// "" while the task has not finished.
	Tasks []status.Job `json:"tasks,omitempty"`
	// TaskToken is the orchestrator token of the job's Dispatch state.
	// Internal: never shown by the API.
	TaskToken string `json:"task_token,omitempty"`
	// ResultOf, on a job whose result a rerun kept, is the run that
	// produced that result (the first run's, through reruns of reruns):
	// its workspace layers are the ones attach_workspace applies
	// downstream. Nil for a job that runs in its own workflow.
	ResultOf *JobRun `json:"result_of,omitempty"`
	// SSH is set on the jobs of a rerun with SSH: the authorized_keys lines
	// of the user who asked, whose keys alone may connect. Public keys,
	// but internal: never shown by the API.
	SSH       *SSHAccess `json:"ssh,omitempty"`
	Message   string     `json:"message,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	QueuedAt  *time.Time `json:"queued_at,omitempty"`
	StartedAt *time.Time `json:"started_at"`
	StoppedAt *time.Time `json:"stopped_at"`
}

// SSHAccess is who may SSH into a job rerun with SSH.
type SSHAccess struct {
	AuthorizedKeys []string `json:"authorized_keys"`
}

// JobRun names one run of a job: its workflow and attempt.
type JobRun struct {
	WorkflowID string `json:"workflow_id"`
	Attempt    int    `json:"attempt"`
}

func workflowIndex(w *Workflow, it *kv.Item) {
	it.GSI1PK = "PIPELINE#" + w.PipelineID + "#WORKFLOWS"
	it.GSI1SK = w.CreatedAt.Format(time.RFC3339Nano) + "#" + w.ID
	unfinishedWorkflowIndex(w, it)
}

// CreateWorkflow stores a workflow and its jobs. It is idempotent: the
// caller derives ids deterministically, and records that exist are kept as
// they are (a retried create after a crash changes nothing).
func (s *Store) CreateWorkflow(ctx context.Context, w Workflow, jobs []Job) error {
	for _, j := range jobs {
		if j.CreatedAt.IsZero() {
			j.CreatedAt = w.CreatedAt
		}
		it, err := item("WORKFLOW#"+w.ID, "JOB#"+j.Name, j)
		if err != nil {
			return err
		}
		jobIndex(&j, &it)
		ptr, err := item("JOB#"+j.ID, "META", jobPointer{WorkflowID: w.ID, Name: j.Name})
		if err != nil {
			return err
		}
		err = s.kv.Transact(ctx, []kv.Op{
			{Kind: kv.OpPut, Item: it, Cond: kv.Condition{IfNotExists: true}},
			{Kind: kv.OpPut, Item: ptr, Cond: kv.Condition{IfNotExists: true}},
		})
		if err != nil && !isConflict(err) {
			return fmt.Errorf("create job %s of workflow %s: %w", j.Name, w.ID, err)
		}
	}
	it, err := item("WORKFLOW#"+w.ID, "META", w)
	if err != nil {
		return err
	}
	workflowIndex(&w, &it)
	if err := s.create(ctx, it); err != nil && !isConflict(err) {
		return fmt.Errorf("create workflow %s: %w", w.ID, err)
	}
	for _, o := range s.observers {
		o.WorkflowChanged(ctx, "", w)
	}
	return nil
}

// GetWorkflow returns the workflow with the id.
func (s *Store) GetWorkflow(ctx context.Context, id string) (Workflow, error) {
	var w Workflow
	if _, err := s.get(ctx, "WORKFLOW#"+id, "META", &w); err != nil {
		return Workflow{}, fmt.Errorf("workflow %s: %w", id, err)
	}
	return w, nil
}

// ListWorkflows returns a pipeline's workflows in creation order.
func (s *Store) ListWorkflows(ctx context.Context, pipelineID string) ([]Workflow, error) {
	return queryAll[Workflow](ctx, s, kv.Query{Index: kv.GSI1, PK: "PIPELINE#" + pipelineID + "#WORKFLOWS"})
}

// UpdateWorkflow changes a workflow with a conditional write; its status
// changes only through TransitionWorkflow (fn changing it is ErrStatusWrite).
func (s *Store) UpdateWorkflow(ctx context.Context, id string, fn func(*Workflow) error) (Workflow, error) {
	w, err := update(ctx, s, "WORKFLOW#"+id, "META", workflowIndex, keepStatus(func(w *Workflow) *status.Workflow { return &w.Status }, fn))
	if err != nil {
		return w, fmt.Errorf("update workflow %s: %w", id, err)
	}
	return w, nil
}

// ListJobs returns a workflow's jobs (strongly consistent).
func (s *Store) ListJobs(ctx context.Context, workflowID string) ([]Job, error) {
	return queryAll[Job](ctx, s, kv.Query{PK: "WORKFLOW#" + workflowID, Prefix: "JOB#"})
}

type jobPointer struct {
	WorkflowID string `json:"workflow_id"`
	Name       string `json:"name"`
}

// GetJob returns the job with the id.
func (s *Store) GetJob(ctx context.Context, id string) (Job, error) {
	var ptr jobPointer
	if _, err := s.get(ctx, "JOB#"+id, "META", &ptr); err != nil {
		return Job{}, fmt.Errorf("job %s: %w", id, err)
	}
	return s.getJob(ctx, ptr)
}

func (s *Store) getJob(ctx context.Context, ptr jobPointer) (Job, error) {
	var j Job
	if _, err := s.get(ctx, "WORKFLOW#"+ptr.WorkflowID, "JOB#"+ptr.Name, &j); err != nil {
		return Job{}, fmt.Errorf("job %s of workflow %s: %w", ptr.Name, ptr.WorkflowID, err)
	}
	return j, nil
}

// GetJobByNumber returns a project's job by its number.
func (s *Store) GetJobByNumber(ctx context.Context, slug string, number int64) (Job, error) {
	var ptr jobPointer
	if _, err := s.get(ctx, "PROJECT#"+slug, fmt.Sprintf("JOBNUM#%012d", number), &ptr); err != nil {
		return Job{}, fmt.Errorf("job %s/%d: %w", slug, number, err)
	}
	return s.getJob(ctx, ptr)
}

// UpdateJob changes a job with a conditional write; its status changes
// only through TransitionJob (fn changing it is ErrStatusWrite).
func (s *Store) UpdateJob(ctx context.Context, workflowID, name string, fn func(*Job) error) (Job, error) {
	j, err := update(ctx, s, "WORKFLOW#"+workflowID, "JOB#"+name, jobIndex, keepStatus(func(j *Job) *status.Job { return &j.Status }, fn))
	if err != nil {
		return j, fmt.Errorf("update job %s of workflow %s: %w", name, workflowID, err)
	}
	return j, nil
}

// AssignJobNumber gives the job a project-wide number if it has none yet and
// records the number → job pointer. Idempotent.
func (s *Store) AssignJobNumber(ctx context.Context, j Job) (Job, error) {
	if j.Number != 0 {
		return j, nil
	}
	n, err := s.next(ctx, j.ProjectSlug, true)
	if err != nil {
		return j, err
	}
	j, err = s.UpdateJob(ctx, j.WorkflowID, j.Name, func(cur *Job) error {
		if cur.Number != 0 {
			return ErrStale // someone numbered it first: keep theirs
		}
		cur.Number = n
		return nil
	})
	if err != nil && !isStale(err) {
		return j, err
	}
	ptr, err := item("PROJECT#"+j.ProjectSlug, fmt.Sprintf("JOBNUM#%012d", j.Number), jobPointer{WorkflowID: j.WorkflowID, Name: j.Name})
	if err != nil {
		return j, err
	}
	if _, err := s.kv.Put(ctx, ptr, kv.Condition{}); err != nil {
		return j, fmt.Errorf("record job number %d: %w", j.Number, err)
	}
	return j, nil
}
