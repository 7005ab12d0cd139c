package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// defaultResourceClass is what a job without resource_class gets.
const defaultResourceClass = "medium"

// jobDetailsJSON is CircleCI's job details.
type jobDetailsJSON struct {
	WebURL         string            `json:"web_url"`
	Project        jobProjectJSON    `json:"project"`
	ParallelRuns   []parallelRunJSON `json:"parallel_runs"`
	StartedAt      *time.Time        `json:"started_at"`
	LatestWorkflow idNameJSON        `json:"latest_workflow"`
	Name           string            `json:"name"`
	Executor       executorJSON      `json:"executor"`
	Parallelism    int               `json:"parallelism"`
	Status         status.Job        `json:"status"`
	Number         int64             `json:"number"`
	Pipeline       idJSON            `json:"pipeline"`
	Duration       *int64            `json:"duration"`
	CreatedAt      time.Time         `json:"created_at"`
	Messages       []jobMessageJSON  `json:"messages"`
	Contexts       []nameJSON        `json:"contexts"`
	Organization   nameJSON          `json:"organization"`
	QueuedAt       *time.Time        `json:"queued_at"`
	StoppedAt      *time.Time        `json:"stopped_at"`
	// Attempts is Orbit's: every dispatch of the job (attempts.go).
	Attempts []attemptJSON `json:"attempts"`
	// Waiting is Orbit's: why the queued job waits (waiting.go).
	Waiting *waitingJSON `json:"waiting,omitempty"`
}

type jobProjectJSON struct {
	ID          string `json:"id"`
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	ExternalURL string `json:"external_url"`
}

type parallelRunJSON struct {
	Index  int        `json:"index"`
	Status status.Job `json:"status"`
}

type idNameJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type idJSON struct {
	ID string `json:"id"`
}

type nameJSON struct {
	Name string `json:"name"`
}

type executorJSON struct {
	Type          string `json:"type"`
	ResourceClass string `json:"resource_class"`
}

type jobMessageJSON struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Reason  string `json:"reason,omitempty"`
}

// jobByNumber loads the job of a /project/{slug}/job/{number} route.
func (s *server) jobByNumber(r *http.Request) (store.Job, error) {
	n, err := pathNumber(r, "number", "job")
	if err != nil {
		return store.Job{}, err
	}
	return s.st.GetJobByNumber(r.Context(), slugOf(r), n)
}

// jobSpec decodes the compiled job; approval jobs have none.
func jobSpec(j store.Job) (config.JobInvocation, error) {
	var inv config.JobInvocation
	if len(j.Spec) == 0 {
		return inv, nil
	}
	if err := json.Unmarshal(j.Spec, &inv); err != nil {
		return inv, fmt.Errorf("decode spec of job %s: %w", j.ID, err)
	}
	return inv, nil
}

// durationMillis is how long something ran, nil until it stopped.
func durationMillis(start, stop *time.Time) *int64 {
	if start == nil || stop == nil {
		return nil
	}
	d := stop.Sub(*start).Milliseconds()
	return &d
}

// jobTasks returns the tasks of the job's latest attempt, by index. A task
// that has no record yet is shown with the job's status.
func (s *server) jobTasks(ctx context.Context, j store.Job) ([]store.Task, error) {
	n := max(j.Parallelism, 1)
	tasks := make([]store.Task, n)
	for i := range n {
		tasks[i] = store.Task{ID: store.TaskID(j.ID, j.Attempt, i), Index: i, Attempt: j.Attempt, Status: j.Status}
		if j.Attempt == 0 {
			continue // never dispatched
		}
		t, err := s.st.GetTask(ctx, tasks[i].ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		tasks[i] = t
	}
	return tasks, nil
}

// baseURL is the scheme and host the caller reached us at, for absolute
// links (CircleCI's web_url); behind a proxy it trusts X-Forwarded-Proto.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *server) getJob(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	j, err := s.jobByNumber(r)
	if err != nil {
		return err
	}
	p, err := s.st.GetProject(ctx, j.ProjectSlug)
	if err != nil {
		return err
	}
	wf, err := s.st.GetWorkflow(ctx, j.WorkflowID)
	if err != nil {
		return err
	}
	inv, err := jobSpec(j)
	if err != nil {
		return err
	}
	tasks, err := s.jobTasks(ctx, j)
	if err != nil {
		return err
	}
	attempts, err := s.jobAttempts(ctx, j)
	if err != nil {
		return err
	}
	pv := projectView(p)
	out := jobDetailsJSON{
		WebURL:         fmt.Sprintf("%s/ui/pipeline/%s#job-%d", baseURL(r), j.PipelineID, j.Number),
		Project:        jobProjectJSON{ID: pv.ID, Slug: p.Slug, Name: p.Name, ExternalURL: p.RepoURL},
		ParallelRuns:   make([]parallelRunJSON, 0, len(tasks)),
		StartedAt:      j.StartedAt,
		LatestWorkflow: idNameJSON{ID: wf.ID, Name: wf.Name},
		Name:           j.Name,
		Parallelism:    max(j.Parallelism, 1),
		Status:         j.Status,
		Number:         j.Number,
		Pipeline:       idJSON{ID: j.PipelineID},
		Duration:       durationMillis(j.StartedAt, j.StoppedAt),
		CreatedAt:      j.CreatedAt,
		Messages:       []jobMessageJSON{},
		Contexts:       []nameJSON{},
		Organization:   nameJSON{Name: pv.OrganizationName},
		QueuedAt:       j.QueuedAt,
		StoppedAt:      j.StoppedAt,
		Attempts:       attempts,
	}
	for _, t := range tasks {
		out.ParallelRuns = append(out.ParallelRuns, parallelRunJSON{Index: t.Index, Status: t.Status})
	}
	if inv.Job != nil {
		out.Executor = executorJSON{Type: inv.Job.Executor.Type, ResourceClass: inv.Job.Executor.ResourceClass}
		if out.Executor.ResourceClass == "" {
			out.Executor.ResourceClass = defaultResourceClass
		}
	}
	for _, c := range inv.Contexts {
		out.Contexts = append(out.Contexts, nameJSON{Name: c})
	}
	if j.Message != "" {
		out.Messages = append(out.Messages, jobMessageJSON{Type: "info", Message: j.Message})
	}
	if out.Waiting = s.jobWaiting(ctx, j); out.Waiting != nil {
		out.Messages = append(out.Messages, jobMessageJSON{Type: "warning", Message: out.Waiting.Reason})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
