package conductor

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// RerunRequest says what a rerun runs again (CircleCI's
// RerunWorkflowParameters). The zero value reruns every job.
type RerunRequest struct {
	// FromFailed reruns the jobs that did not succeed and every job that
	// depends on them, keeping the results of the others.
	FromFailed bool
	// Jobs (ids of the workflow's jobs) reruns those jobs and every job
	// that depends on them, keeping the results of the others. A single
	// job's rerun is Jobs with its id.
	Jobs []string
	// SparseTree is accepted for compatibility: Orbit always reruns just
	// the selected jobs and their dependents, which is what sparse trees
	// optimize for.
	SparseTree bool
	// SSHKeys, when set, reruns with SSH ("Rerun job with SSH"): every job
	// that runs again stays up after its steps with an SSH server that
	// admits only these authorized_keys lines (the user's public keys).
	SSHKeys []string
}

// Rerun starts a new workflow in the workflow's pipeline, from the same
// compiled plan, and returns its id. The jobs the request selects, and
// every job that depends on them (directly or not), run again with new
// job numbers; the others keep their results (status, number, times) and
// are never dispatched. A kept job records the run that produced its result
// (store.Job.ResultOf), so the rerun jobs attach the workspace layers it
// persisted there. The workflow must have finished.
//
//	ci (failed):  build ✓ ─▶ test ✗ ─▶ deploy not_run      lint ✓
//	from_failed:  build ✓ (kept) ─▶ test ▶ ─▶ deploy ▶     lint ✓ (kept)
func (c *Conductor) Rerun(ctx context.Context, wid string, req RerunRequest) (string, error) {
	if req.FromFailed && len(req.Jobs) > 0 {
		return "", fmt.Errorf("%w: from_failed and jobs are mutually exclusive", ErrNotAllowed)
	}
	if req.SparseTree && len(req.Jobs) == 0 {
		return "", fmt.Errorf("%w: sparse_tree requires jobs", ErrNotAllowed)
	}
	w, err := c.st.GetWorkflow(ctx, wid)
	if err != nil {
		return "", err
	}
	if !w.Status.Terminal() {
		return "", fmt.Errorf("%w: workflow %s is %s; only a finished workflow can be rerun", ErrNotAllowed, w.Name, w.Status)
	}
	p, err := c.st.GetPipeline(ctx, w.PipelineID)
	if err != nil {
		return "", err
	}
	wf, err := c.planWorkflow(ctx, w)
	if err != nil {
		return "", err
	}
	jobs, err := c.st.ListJobs(ctx, wid)
	if err != nil {
		return "", err
	}
	seeds, err := rerunSeeds(jobs, req)
	if err != nil {
		return "", err
	}
	rerun := dependents(wf, seeds)
	keep := map[string]store.Job{}
	for _, j := range jobs {
		if !rerun[j.Name] {
			keep[j.Name] = j
		}
	}
	nid := uuid.NewString()
	var ssh *store.SSHAccess
	if len(req.SSHKeys) > 0 {
		ssh = &store.SSHAccess{AuthorizedKeys: slices.Clone(req.SSHKeys)}
	}
	if err := c.createWorkflow(ctx, p, nid, wf, keep, wid, ssh); err != nil {
		return "", err
	}
	c.log.InfoContext(ctx, "workflow rerun", "pipeline_id", p.ID, "workflow_id", nid, "rerun_of", wid,
		"workflow", w.Name, "rerun_jobs", len(rerun), "from_failed", req.FromFailed, "ssh", ssh != nil)
	return nid, nil
}

// rerunSeeds are the names of the jobs a rerun selects; their dependents
// join them.
func rerunSeeds(jobs []store.Job, req RerunRequest) (map[string]bool, error) {
	seeds := map[string]bool{}
	switch {
	case req.FromFailed:
		for _, j := range jobs {
			if j.Status != status.JobSuccess {
				seeds[j.Name] = true
			}
		}
		if len(seeds) == 0 {
			return nil, fmt.Errorf("%w: no job failed; nothing to rerun from failed", ErrNotAllowed)
		}
	case len(req.Jobs) > 0:
		byID := make(map[string]string, len(jobs))
		for _, j := range jobs {
			byID[j.ID] = j.Name
		}
		for _, id := range req.Jobs {
			name, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("%w: job %s is not a job of this workflow", ErrNotAllowed, id)
			}
			seeds[name] = true
		}
	default:
		for _, j := range jobs {
			seeds[j.Name] = true
		}
	}
	return seeds, nil
}

// dependents closes a set of job names over "requires": every job that
// requires one of the set, directly or not, joins it.
func dependents(wf config.Workflow, set map[string]bool) map[string]bool {
	out := make(map[string]bool, len(set))
	for n := range set {
		out[n] = true
	}
	for grew := true; grew; {
		grew = false
		for _, inv := range wf.Jobs {
			if out[inv.Name] {
				continue
			}
			for _, r := range inv.Requires {
				if out[r.Name] {
					out[inv.Name], grew = true, true
					break
				}
			}
		}
	}
	return out
}

// planWorkflow returns the compiled workflow a workflow record was created
// from.
func (c *Conductor) planWorkflow(ctx context.Context, w store.Workflow) (config.Workflow, error) {
	cfg, err := c.st.GetPipelineConfig(ctx, w.PipelineID)
	if err != nil {
		return config.Workflow{}, err
	}
	var plan config.Plan
	if err := json.Unmarshal(cfg.Plan, &plan); err != nil {
		return config.Workflow{}, fmt.Errorf("decode plan of pipeline %s: %w", w.PipelineID, err)
	}
	for _, wf := range plan.Workflows {
		if wf.Name == w.Name {
			return wf, nil
		}
	}
	return config.Workflow{}, fmt.Errorf("workflow %s is not in the plan of pipeline %s", w.Name, w.PipelineID)
}
