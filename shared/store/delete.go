package store

import (
	"context"
	"errors"
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

// DeleteProject removes a project and what would otherwise outlive it and
// reach a project followed again under the same slug: its variables, its
// SSH keys and its API schedules (secrets and runs of the old project must
// not pass to the new one). Its pipelines stay, as build history, until
// retention removes them; its numbers keep counting, so a project followed
// again never reuses one. A missing project is ErrNotFound.
func (s *Store) DeleteProject(ctx context.Context, slug string) error {
	if _, err := s.GetProject(ctx, slug); err != nil {
		return err
	}
	vars, err := s.ListVars(ctx, ProjectScope(slug))
	if err != nil {
		return err
	}
	for _, v := range vars {
		if err := s.DeleteVar(ctx, ProjectScope(slug), v.Name); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	for _, kind := range []string{SSHKeyCheckout, SSHKeyAdditional} {
		keys, err := s.ListSSHKeys(ctx, slug, kind)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := s.DeleteSSHKey(ctx, slug, kind, k.Fingerprint); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	for cursor := ""; ; {
		scheds, next, err := s.ListPipelineSchedules(ctx, slug, cursor, 100)
		if err != nil {
			return err
		}
		for _, p := range scheds {
			if err := s.DeletePipelineSchedule(ctx, p.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if err := s.kv.Delete(ctx, "PROJECT#"+slug, "META", kv.Condition{}); err != nil {
		return fmt.Errorf("delete project %s: %w", slug, err)
	}
	return nil
}
