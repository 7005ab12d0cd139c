package api

import (
	"context"
	"fmt"
	"strconv"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// uiJob is a job with its steps and their output (the job page's data).
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
	Tasks          []nameStatus
	Steps          []uiStep
}

type uiStep struct {
	Index      int
	Name, Type string
	Runs       []uiRun
}

type uiRun struct {
	Task                        int
	Status, ExitCode, Duration  string
	Output, OutputURL           string
	Truncated, Open, ShowTaskNo bool
}

func (s *server) uiJob(ctx context.Context, j store.Job) (uiJob, error) {
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
	if uj.Parallelism > 1 {
		tasks, err := s.jobTasks(ctx, j)
		if err != nil {
			return uj, err
		}
		for _, t := range tasks {
			uj.Tasks = append(uj.Tasks, nameStatus{Name: strconv.Itoa(t.Index), Status: string(t.Status)})
		}
	}
	groups, err := s.jobSteps(ctx, j)
	if err != nil {
		return uj, err
	}
	for _, g := range groups {
		us := uiStep{Index: g.Index, Name: g.Name, Type: g.Type}
		for _, run := range g.Runs {
			st := run.Step
			out, truncated, err := s.stepOutput(ctx, run.TaskID, g.Index, uiOutputLimit)
			if err != nil {
				return uj, err
			}
			ur := uiRun{
				Task:       run.Task,
				Status:     string(st.Status),
				Duration:   formatDuration(stepStart(st), st.StoppedAt),
				Output:     stripANSI(out),
				Truncated:  truncated,
				OutputURL:  fmt.Sprintf("/api/v2/project/%s/job/%d/output?step=%d&task=%d", j.ProjectSlug, j.Number, g.Index, run.Task),
				Open:       st.Status != status.StepSuccess,
				ShowTaskNo: uj.Parallelism > 1,
			}
			if st.ExitCode != nil {
				ur.ExitCode = strconv.Itoa(*st.ExitCode)
			}
			us.Runs = append(us.Runs, ur)
		}
		uj.Steps = append(uj.Steps, us)
	}
	return uj, nil
}
