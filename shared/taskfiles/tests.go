package taskfiles

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/cachekey"
	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/testsplit"
)

// keepRuns is how many runs with tests the timings pointer remembers.
const keepRuns = 5

func testsPrefix(slug string, jobNumber int64, attempt int) string {
	return fmt.Sprintf("projects/%s/jobs/%d/tests/%d/", slug, jobNumber, attempt)
}

func timingsKey(slug, branch, job string) string {
	return "projects/" + slug + "/timings/" + cachekey.Escape(branch) + "/" + cachekey.Escape(job) + ".json"
}

// run identifies one run of a job that stored tests.
type run struct {
	JobNumber int64 `json:"job_number"`
	Attempt   int   `json:"attempt"`
}

// timingsPointer lists the newest runs of a job on a branch with tests.
type timingsPointer struct {
	Runs []run `json:"runs"`
}

// StoreTests implements runner.Files: it stores the batch and remembers the
// run as the job's latest with test results on its branch.
func (s *Service) StoreTests(ctx context.Context, taskID string, step, seq int, b runner.TestBatch) error {
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%s%d/%04d-%06d.json", testsPrefix(tc.ProjectSlug, tc.JobNumber, tc.Attempt), tc.Index, step, seq)
	if b.Tests == nil {
		b.Tests = []junit.Test{}
	}
	if err := s.putJSON(ctx, key, b); err != nil {
		return err
	}
	if tc.Branch == "" {
		return nil
	}
	return s.rememberRun(ctx, timingsKey(tc.ProjectSlug, tc.Branch, tc.JobName), run{tc.JobNumber, tc.Attempt})
}

// rememberRun adds r to a timings pointer. Parallel tasks of one run add
// the same entry, so a lost race loses nothing that matters.
func (s *Service) rememberRun(ctx context.Context, key string, r run) error {
	var p timingsPointer
	if err := s.getJSON(ctx, key, &p); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	if slices.Contains(p.Runs, r) {
		return nil
	}
	p.Runs = append(p.Runs, r)
	slices.SortFunc(p.Runs, func(a, b run) int {
		if a.JobNumber != b.JobNumber {
			return int(b.JobNumber - a.JobNumber)
		}
		return b.Attempt - a.Attempt
	})
	if len(p.Runs) > keepRuns {
		p.Runs = p.Runs[:keepRuns]
	}
	return s.putJSON(ctx, key, p)
}

// Timings implements runner.Files: the summed run times of the newest
// earlier run of the job with test results on the task's branch, else on
// the project's default branch; empty maps when there is none.
func (s *Service) Timings(ctx context.Context, taskID string) (runner.Timings, error) {
	out := runner.Timings{Files: map[string]float64{}, Classnames: map[string]float64{}, Tests: map[string]float64{}}
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return out, err
	}
	for _, branch := range []string{tc.Branch, tc.DefaultBranch} {
		if branch == "" {
			continue
		}
		var p timingsPointer
		if err := s.getJSON(ctx, timingsKey(tc.ProjectSlug, branch, tc.JobName), &p); errors.Is(err, blob.ErrNotFound) {
			continue
		} else if err != nil {
			return out, err
		}
		for _, r := range p.Runs {
			if r.JobNumber >= tc.JobNumber {
				continue // this run, or a later one
			}
			tests, err := s.Tests(ctx, tc.ProjectSlug, r.JobNumber, r.Attempt)
			if err != nil {
				return out, err
			}
			for _, t := range tests {
				if t.File != "" {
					out.Files[testsplit.NormalizeFile(t.File)] += t.RunTime
				}
				if t.Classname != "" {
					out.Classnames[t.Classname] += t.RunTime
				}
				if t.Name != "" {
					out.Tests[t.Name] += t.RunTime
				}
			}
			out.JobNumber, out.Branch = r.JobNumber, branch
			return out, nil
		}
	}
	return out, nil
}

// Tests returns the test results of one attempt of a job, by node, step
// and batch.
func (s *Service) Tests(ctx context.Context, slug string, jobNumber int64, attempt int) ([]junit.Test, error) {
	objs, err := s.testBatches(ctx, slug, jobNumber, attempt)
	if err != nil {
		return nil, err
	}
	out := []junit.Test{}
	for _, o := range objs {
		tests, err := s.readBatch(ctx, o.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, tests...)
	}
	return out, nil
}

// testBatches lists the batches of one attempt in the order Tests reads
// them: by node (numerically, as keys sort nodes as text), then step and
// batch.
func (s *Service) testBatches(ctx context.Context, slug string, jobNumber int64, attempt int) ([]blob.Info, error) {
	prefix := testsPrefix(slug, jobNumber, attempt)
	objs, err := s.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for i := range objs {
		objs[i].Key = strings.TrimPrefix(objs[i].Key, prefix)
	}
	slices.SortStableFunc(objs, func(a, b blob.Info) int {
		na, _ := strconv.Atoi(strings.SplitN(a.Key, "/", 2)[0])
		nb, _ := strconv.Atoi(strings.SplitN(b.Key, "/", 2)[0])
		return na - nb
	})
	for i := range objs {
		objs[i].Key = prefix + objs[i].Key
	}
	return objs, nil
}

// readBatch reads one stored batch; one deleted since it was listed is
// empty.
func (s *Service) readBatch(ctx context.Context, key string) ([]junit.Test, error) {
	var b runner.TestBatch
	if err := s.getJSON(ctx, key, &b); err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return b.Tests, nil
}
