package store

import (
	"context"
	"fmt"

	"github.com/orbit-ci/orbit/shared/kv"
)

// DeleteJob removes a job record: the job, its id pointer and its number
// pointer, all or nothing. It is the seed's `admin/delete-build`, for a
// record a restore left inconsistent (a job shown running forever). Its
// tasks, steps and output stay (unreachable from the job, they expire with
// the rest); the workflow keeps going without the job.
func (s *Store) DeleteJob(ctx context.Context, j Job) error {
	ops := []kv.Op{
		{Kind: kv.OpDelete, Item: kv.Item{PK: "WORKFLOW#" + j.WorkflowID, SK: "JOB#" + j.Name}},
		{Kind: kv.OpDelete, Item: kv.Item{PK: "JOB#" + j.ID, SK: "META"}},
	}
	if j.Number != 0 {
		ops = append(ops, kv.Op{Kind: kv.OpDelete, Item: kv.Item{PK: "PROJECT#" + j.ProjectSlug, SK: fmt.Sprintf("JOBNUM#%012d", j.Number)}})
	}
	if err := s.kv.Transact(ctx, ops); err != nil {
		return fmt.Errorf("delete job %s/%d: %w", j.ProjectSlug, j.Number, err)
	}
	return nil
}
