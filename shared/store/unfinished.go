package store

import (
	"context"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/status"
)

// The index of unfinished work. A workflow, job or task whose status is
// not terminal sits in the kv's second index (GSI2), one partition per
// kind and status, oldest first; the write that makes it terminal takes it
// out. "What is queued, blocked or running" is then a read of as many
// items as there are, however long the history:
//
//	GSI2PK                         GSI2SK
//	UNFINISHED#JOB#<status>        <since>#<job id>        blocked, queued, running, on_hold
//	UNFINISHED#TASK#<status>       <since>#<task id>       queued, running
//	UNFINISHED#WORKFLOW#<status>   <since>#<workflow id>   running, on_hold, failing
//
// <since> is when the record entered its status, as far as the record
// says (a job's QueuedAt while queued, its StartedAt while running, else
// its CreatedAt; a task's StartedAt while running, else its CreatedAt; a
// workflow's CreatedAt), fixed-width UTC so that keys sort by time.
//
// The index keys are a function of the record, set by every write of it
// (create, Update, Transition: the index argument of update), so they
// change in the same conditional write as the status: one PutItem on
// DynamoDB (a sparse GSI: the attributes are absent once the record is
// terminal), one bbolt transaction on the embedded driver. Nothing can
// leave a record finished in the table and unfinished in the index.
//
// One GSI partition per kind and status takes every status change of its
// kind: DynamoDB serves about 1,000 writes a second to a partition, far
// above an installation's job starts and ends; shard the key (a suffix
// per project hash) if that ever binds.
//
// Index reads are eventually consistent on DynamoDB: a page may miss a
// record that changed status a moment ago, or show it in its previous
// status. Callers that act on a record (cancel a job) read it again or go
// through a Transition, which checks the status it finds.
//
// Records written before the index existed carry no index keys until
// their next write; BackfillUnfinished (backfill.go) writes them once.

// sinceLayout is a fixed-width UTC time: RFC 3339 with nanoseconds, never
// trimmed, so the keys order as the times do.
const sinceLayout = "2006-01-02T15:04:05.000000000Z"

func sinceKey(t time.Time, id string) string { return t.UTC().Format(sinceLayout) + "#" + id }

func unfinishedPK(kind, st string) string { return "UNFINISHED#" + kind + "#" + st }

// jobIndex places an unfinished job in the index.
func jobIndex(j *Job, it *kv.Item) {
	if j.Status == "" || j.Status.Terminal() {
		return
	}
	since := j.CreatedAt
	switch {
	case j.Status == status.JobQueued && j.QueuedAt != nil:
		since = *j.QueuedAt
	case j.Status == status.JobRunning && j.StartedAt != nil:
		since = *j.StartedAt
	}
	it.GSI2PK, it.GSI2SK = unfinishedPK("JOB", string(j.Status)), sinceKey(since, j.ID)
}

// taskIndex places an unfinished task in the index.
func taskIndex(t *Task, it *kv.Item) {
	if t.Status == "" || t.Status.Terminal() {
		return
	}
	since := t.CreatedAt
	if t.Status == status.JobRunning && t.StartedAt != nil {
		since = *t.StartedAt
	}
	it.GSI2PK, it.GSI2SK = unfinishedPK("TASK", string(t.Status)), sinceKey(since, t.ID)
}

// unfinishedWorkflowIndex places an unfinished workflow in the index
// (workflowIndex calls it beside the workflow's GSI1 keys).
func unfinishedWorkflowIndex(w *Workflow, it *kv.Item) {
	if w.Status == "" || w.Status.Terminal() {
		return
	}
	it.GSI2PK, it.GSI2SK = unfinishedPK("WORKFLOW", string(w.Status)), sinceKey(w.CreatedAt, w.ID)
}

// UnfinishedJobs returns one page of the jobs whose status is st (a
// non-terminal status: blocked, queued, running or on_hold), the longest
// in it first, at most limit (0: 100), and the cursor of the next page
// ("" after the last). Eventually consistent (see above).
func (s *Store) UnfinishedJobs(ctx context.Context, st status.Job, cursor string, limit int) ([]Job, string, error) {
	if st.Terminal() || st == "" {
		return nil, "", fmt.Errorf("unfinished jobs: %q is not an unfinished status", st)
	}
	return queryPage[Job](ctx, s, kv.Query{Index: kv.GSI2, PK: unfinishedPK("JOB", string(st)), Limit: limit, Cursor: cursor})
}

// UnfinishedTasks is UnfinishedJobs for tasks (queued or running).
func (s *Store) UnfinishedTasks(ctx context.Context, st status.Job, cursor string, limit int) ([]Task, string, error) {
	if st.Terminal() || st == "" {
		return nil, "", fmt.Errorf("unfinished tasks: %q is not an unfinished status", st)
	}
	return queryPage[Task](ctx, s, kv.Query{Index: kv.GSI2, PK: unfinishedPK("TASK", string(st)), Limit: limit, Cursor: cursor})
}

// UnfinishedWorkflows is UnfinishedJobs for workflows (running, on_hold or
// failing), oldest first.
func (s *Store) UnfinishedWorkflows(ctx context.Context, st status.Workflow, cursor string, limit int) ([]Workflow, string, error) {
	if st.Terminal() || st == "" {
		return nil, "", fmt.Errorf("unfinished workflows: %q is not an unfinished status", st)
	}
	return queryPage[Workflow](ctx, s, kv.Query{Index: kv.GSI2, PK: unfinishedPK("WORKFLOW", string(st)), Limit: limit, Cursor: cursor})
}
