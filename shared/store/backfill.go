package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orbit-ci/orbit/shared/kv"
)

// backfillMark records how far BackfillUnfinished got: the project it was
// in and the cursor of that project's next page of pipelines, or Done.
type backfillMark struct {
	Done    bool   `json:"done"`
	Project string `json:"project,omitempty"`
	Cursor  string `json:"cursor,omitempty"`
}

const backfillPK, backfillSK = "INDEX#UNFINISHED", "BACKFILL"

// BackfillUnfinished places in the index of unfinished work
// (unfinished.go) the unfinished workflows, jobs and tasks written before
// the index existed, which would otherwise be missing from it until their
// next write. It walks every project's pipelines once, recording its
// progress after each page of 100 pipelines, so a call cut short (a
// Lambda's deadline) resumes where it stopped, and once it has finished
// a call is one read. It returns how many records it indexed.
//
// Safe to run beside live traffic and beside itself: a record is
// rewritten only when its stored index keys differ from its status's,
// with a conditional write; a record written in between was indexed by
// that write, and is left alone.
func (s *Store) BackfillUnfinished(ctx context.Context) (int, error) {
	var mark backfillMark
	if _, err := s.get(ctx, backfillPK, backfillSK, &mark); err != nil && !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("backfill unfinished work: %w", err)
	}
	if mark.Done {
		return 0, nil
	}
	projects, err := s.ListProjects(ctx)
	if err != nil {
		return 0, fmt.Errorf("backfill unfinished work: %w", err)
	}
	n := 0
	save := func(m backfillMark) error {
		it, err := item(backfillPK, backfillSK, m)
		if err != nil {
			return err
		}
		if _, err := s.kv.Put(ctx, it, kv.Condition{}); err != nil {
			return fmt.Errorf("backfill unfinished work: record progress: %w", err)
		}
		return nil
	}
	for _, p := range projects {
		if p.Slug < mark.Project { // ListProjects orders by slug
			continue
		}
		cursor := ""
		if p.Slug == mark.Project {
			cursor = mark.Cursor
		}
		for {
			pls, next, err := s.ListPipelines(ctx, p.Slug, cursor, 100)
			if err != nil {
				return n, fmt.Errorf("backfill unfinished work: %w", err)
			}
			for _, pl := range pls {
				k, err := s.backfillPipeline(ctx, pl.ID)
				n += k
				if err != nil {
					return n, fmt.Errorf("backfill unfinished work of pipeline %s: %w", pl.ID, err)
				}
			}
			if next == "" {
				break
			}
			cursor = next
			if err := save(backfillMark{Project: p.Slug, Cursor: cursor}); err != nil {
				return n, err
			}
		}
	}
	return n, save(backfillMark{Done: true})
}

func (s *Store) backfillPipeline(ctx context.Context, pipelineID string) (int, error) {
	wfs, err := s.ListWorkflows(ctx, pipelineID)
	if err != nil {
		return 0, err
	}
	n := 0
	count := func(changed bool, err error) error {
		if changed {
			n++
		}
		return err
	}
	for _, w := range wfs {
		if w.Status.Terminal() {
			continue // a finished workflow's jobs and tasks are finished
		}
		if err := count(reindex(ctx, s, "WORKFLOW#"+w.ID, "META", workflowIndex)); err != nil {
			return n, err
		}
		jobs, err := s.ListJobs(ctx, w.ID)
		if err != nil {
			return n, err
		}
		for _, j := range jobs {
			if j.Status.Terminal() {
				continue
			}
			if err := count(reindex(ctx, s, "WORKFLOW#"+w.ID, "JOB#"+j.Name, jobIndex)); err != nil {
				return n, err
			}
			for i := range max(j.Parallelism, 1) {
				if err := count(reindex(ctx, s, "TASK#"+TaskID(j.ID, j.Attempt, i), "META", taskIndex)); err != nil {
					return n, err
				}
			}
		}
	}
	return n, nil
}

// reindex rewrites the item (pk, sk) with the index keys its record
// calls for, if they differ from the stored ones. A missing item, or one
// written meanwhile (whose write set its keys), is left alone.
func reindex[T any](ctx context.Context, s *Store, pk, sk string, index func(*T, *kv.Item)) (bool, error) {
	it, err := s.kv.Get(ctx, pk, sk)
	if errors.Is(err, kv.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var rec T
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", pk, sk, err)
	}
	want := it
	want.GSI2PK, want.GSI2SK = "", ""
	index(&rec, &want)
	if want.GSI1PK == it.GSI1PK && want.GSI1SK == it.GSI1SK && want.GSI2PK == it.GSI2PK && want.GSI2SK == it.GSI2SK {
		return false, nil
	}
	if _, err := s.kv.Put(ctx, want, kv.Condition{IfVersion: it.Version}); err != nil {
		if errors.Is(err, kv.ErrConflict) {
			return false, nil
		}
		return false, fmt.Errorf("index %s/%s: %w", pk, sk, err)
	}
	return true, nil
}
