package usage

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/store"
)

// ExportColumns are the columns of a usage export's CSV: the part of
// CircleCI's usage export columns that Orbit's records fill, in CircleCI's
// order and spelling. Credits are CircleCI's billing unit, which Orbit has
// not; a job's cost is its JOB_RUN_SECONDS times PARALLELISM.
var ExportColumns = []string{
	"ORGANIZATION_ID", "ORGANIZATION_NAME", "PROJECT_ID", "PROJECT_NAME", "VCS_NAME", "VCS_URL", "VCS_BRANCH",
	"PIPELINE_ID", "PIPELINE_CREATED_AT", "PIPELINE_NUMBER", "PIPELINE_TRIGGER_SOURCE", "PIPELINE_TRIGGER_USER_ID",
	"WORKFLOW_ID", "WORKFLOW_NAME", "WORKFLOW_STOPPED_AT", "IS_WORKFLOW_SUCCESSFUL",
	"JOB_NAME", "JOB_ID", "JOB_RUN_NUMBER", "JOB_RUN_DATE", "JOB_RUN_QUEUED_AT", "JOB_RUN_STARTED_AT", "JOB_RUN_STOPPED_AT",
	"JOB_BUILD_STATUS", "RESOURCE_CLASS", "OPERATING_SYSTEM", "EXECUTOR", "PARALLELISM", "JOB_RUN_SECONDS",
}

// jobLag is how long before a window's start a pipeline may have been
// created and still have a job that started inside the window: longer
// than CircleCI Server's longest job timeout (5 hours) plus queueing.
const jobLag = 24 * time.Hour

// WriteExport writes the CSV of the jobs of the organizations' projects
// (owners are organization slugs) that started in [start, end]: a header
// row, then one row per job run, newest pipeline first.
func WriteExport(ctx context.Context, rec Records, owners []string, start, end time.Time, w io.Writer) (rows int, err error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportColumns); err != nil {
		return 0, err
	}
	projects, err := rec.ListProjects(ctx)
	if err != nil {
		return 0, err
	}
	for _, p := range projects {
		if !slices.Contains(owners, ids.Owner(p.Slug)) {
			continue
		}
		err := pipelinesSince(ctx, rec, p.Slug, start.Add(-jobLag), func(pl store.Pipeline) error {
			if pl.CreatedAt.After(end) {
				return nil
			}
			wfs, err := rec.ListWorkflows(ctx, pl.ID)
			if err != nil {
				return err
			}
			for _, wf := range wfs {
				jobs, err := rec.ListJobs(ctx, wf.ID)
				if err != nil {
					return err
				}
				for _, j := range jobs {
					if j.StartedAt == nil || j.StartedAt.Before(start) || j.StartedAt.After(end) {
						continue
					}
					if err := cw.Write(exportRow(p, pl, wf, j)); err != nil {
						return err
					}
					rows++
				}
			}
			return nil
		})
		if err != nil {
			return rows, err
		}
	}
	cw.Flush()
	return rows, cw.Error()
}

// pipelinesSince calls fn for a project's pipelines created at or after
// since, newest first, reading no older page than it needs.
func pipelinesSince(ctx context.Context, rec Records, slug string, since time.Time, fn func(store.Pipeline) error) error {
	cursor := ""
	for {
		pls, next, err := rec.ListPipelines(ctx, slug, cursor, 100)
		if err != nil {
			return err
		}
		for _, pl := range pls {
			if pl.CreatedAt.Before(since) {
				return nil
			}
			if err := fn(pl); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

func exportRow(p store.Project, pl store.Pipeline, wf store.Workflow, j store.Job) []string {
	owner := ids.Owner(p.Slug)
	_, org, _ := splitSlug(p.Slug)
	ex := executorOf(j)
	secs := ""
	if j.StoppedAt != nil {
		secs = strconv.FormatInt(int64(j.StoppedAt.Sub(*j.StartedAt).Seconds()), 10)
	}
	return []string{
		ids.Org(owner), org, ids.Project(p.Slug), p.Name, p.VCS, pl.VCS.OriginRepositoryURL, pl.VCS.Branch,
		pl.ID, stamp(&pl.CreatedAt), strconv.FormatInt(pl.Number, 10), pl.Trigger.Type, pl.Trigger.Actor,
		wf.ID, wf.Name, stamp(wf.StoppedAt), strconv.FormatBool(wf.Status == "success"),
		j.Name, j.ID, strconv.FormatInt(j.Number, 10), j.StartedAt.UTC().Format(time.DateOnly), stamp(j.QueuedAt), stamp(j.StartedAt),
		stamp(j.StoppedAt), string(j.Status), ex.ResourceClass, osOf(j), ex.Type, strconv.Itoa(max(j.Parallelism, 1)), secs,
	}
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func splitSlug(slug string) (vcs, org, repo string) {
	parts := append(strings.SplitN(slug, "/", 3), "", "", "")
	return parts[0], parts[1], parts[2]
}

type executor struct {
	Type          string `json:"type"`
	ResourceClass string `json:"resource_class"`
}

func executorOf(j store.Job) executor {
	var spec struct {
		Job *struct {
			Executor executor `json:"executor"`
		} `json:"job"`
	}
	if json.Unmarshal(j.Spec, &spec) != nil || spec.Job == nil {
		return executor{}
	}
	ex := spec.Job.Executor
	if ex.ResourceClass == "" {
		ex.ResourceClass = "medium"
	}
	return ex
}

// ResourceClass is the resource class job j asks for (medium by default).
func ResourceClass(j store.Job) string { return executorOf(j).ResourceClass }
