package api

import (
	"net/http"
	"sort"
	"time"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// noUser stands for the user who started a workflow until Orbit has user
// accounts (CircleCI's started_by is a user id).
const noUser = "00000000-0000-0000-0000-000000000000"

// workflowJSON is CircleCI's Workflow.
type workflowJSON struct {
	PipelineID     string          `json:"pipeline_id"`
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	ProjectSlug    string          `json:"project_slug"`
	Status         status.Workflow `json:"status"`
	StartedBy      string          `json:"started_by"`
	PipelineNumber int64           `json:"pipeline_number"`
	CreatedAt      time.Time       `json:"created_at"`
	StoppedAt      *time.Time      `json:"stopped_at"`
}

func workflowView(w store.Workflow) workflowJSON {
	return workflowJSON{
		PipelineID:     w.PipelineID,
		ID:             w.ID,
		Name:           w.Name,
		ProjectSlug:    w.ProjectSlug,
		Status:         w.Status,
		StartedBy:      noUser,
		PipelineNumber: w.PipelineNumber,
		CreatedAt:      w.CreatedAt,
		StoppedAt:      w.StoppedAt,
	}
}

// workflowJobJSON is CircleCI's Job (an item of a workflow's job list).
type workflowJobJSON struct {
	ID                string                  `json:"id"`
	Name              string                  `json:"name"`
	Type              string                  `json:"type"`
	Status            status.Job              `json:"status"`
	JobNumber         *int64                  `json:"job_number,omitempty"`
	Dependencies      []string                `json:"dependencies"`
	Requires          map[string][]status.Job `json:"requires"`
	StartedAt         *time.Time              `json:"started_at"`
	StoppedAt         *time.Time              `json:"stopped_at"`
	ApprovalRequestID string                  `json:"approval_request_id,omitempty"`
	ProjectSlug       string                  `json:"project_slug"`
}

// workflowJobViews converts a workflow's jobs; requirements name jobs of the
// same workflow and become their ids.
func workflowJobViews(jobs []store.Job) []workflowJobJSON {
	ids := make(map[string]string, len(jobs))
	for _, j := range jobs {
		ids[j.Name] = j.ID
	}
	out := make([]workflowJobJSON, 0, len(jobs))
	for _, j := range jobs {
		v := workflowJobJSON{
			ID:           j.ID,
			Name:         j.Name,
			Type:         j.Type,
			Status:       j.Status,
			Dependencies: []string{},
			Requires:     map[string][]status.Job{},
			StartedAt:    j.StartedAt,
			StoppedAt:    j.StoppedAt,
			ProjectSlug:  j.ProjectSlug,
		}
		if v.Type == "" {
			v.Type = "build"
		}
		if j.Number != 0 {
			n := j.Number
			v.JobNumber = &n
		}
		if j.Type == "approval" {
			v.ApprovalRequestID = j.ID
		}
		for _, req := range j.Requires {
			id, ok := ids[req.Name]
			if !ok {
				continue
			}
			v.Dependencies = append(v.Dependencies, id)
			sts := req.Statuses
			if len(sts) == 0 {
				sts = []status.Job{status.JobSuccess}
			}
			v.Requires[id] = sts
		}
		out = append(out, v)
	}
	return out
}

// sortJobs orders a workflow's jobs as the graph runs them: by depth (a job
// comes after everything it requires), then by name.
func sortJobs(jobs []store.Job) {
	byName := make(map[string]store.Job, len(jobs))
	for _, j := range jobs {
		byName[j.Name] = j
	}
	depth := make(map[string]int, len(jobs))
	var depthOf func(name string, seen map[string]bool) int
	depthOf = func(name string, seen map[string]bool) int {
		if d, ok := depth[name]; ok {
			return d
		}
		if seen[name] { // a cycle cannot be compiled; guard anyway
			return 0
		}
		seen[name] = true
		d := 0
		for _, req := range byName[name].Requires {
			if _, ok := byName[req.Name]; ok {
				d = max(d, depthOf(req.Name, seen)+1)
			}
		}
		depth[name] = d
		return d
	}
	for _, j := range jobs {
		depthOf(j.Name, map[string]bool{})
	}
	sort.SliceStable(jobs, func(a, b int) bool {
		if da, db := depth[jobs[a].Name], depth[jobs[b].Name]; da != db {
			return da < db
		}
		return jobs[a].Name < jobs[b].Name
	})
}

func (s *server) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.st.GetPipeline(r.Context(), id); err != nil {
		return err
	}
	wfs, err := s.st.ListWorkflows(r.Context(), id)
	if err != nil {
		return err
	}
	writeList(w, wfs, "", workflowView)
	return nil
}

func (s *server) getWorkflow(w http.ResponseWriter, r *http.Request) error {
	wf, err := s.st.GetWorkflow(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, workflowView(wf))
	return nil
}

func (s *server) listWorkflowJobs(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.st.GetWorkflow(r.Context(), id); err != nil {
		return err
	}
	jobs, err := s.st.ListJobs(r.Context(), id)
	if err != nil {
		return err
	}
	sortJobs(jobs)
	writeJSON(w, http.StatusOK, newList(workflowJobViews(jobs), ""))
	return nil
}
