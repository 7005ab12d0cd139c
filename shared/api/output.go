package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
)

// stepJSON is one step of a job: CircleCI v1.1's step, with one action per
// parallel task (Orbit extension, see the package comment).
type stepJSON struct {
	Index   int          `json:"index"`
	Name    string       `json:"name"`
	Type    string       `json:"type"`
	Actions []actionJSON `json:"actions"`
}

// actionJSON is one step on one task.
type actionJSON struct {
	// Index is the task (parallel run) index.
	Index         int         `json:"index"`
	Step          int         `json:"step"`
	Status        status.Step `json:"status"`
	ExitCode      *int        `json:"exit_code"`
	StartTime     *time.Time  `json:"start_time"`
	EndTime       *time.Time  `json:"end_time"`
	RunTimeMillis *int64      `json:"run_time_millis"`
	OutputURL     string      `json:"output_url"`
}

// stepGroup is one step index of a job and what each task did there.
type stepGroup struct {
	Index int
	Name  string
	Type  string
	Runs  []stepRun
}

// stepRun is a step on one task.
type stepRun struct {
	Task   int
	TaskID string
	Step   store.Step
}

// jobSteps gathers the steps of the tasks of the job's latest attempt,
// grouped by step index.
func (s *server) jobSteps(ctx context.Context, j store.Job) ([]stepGroup, error) {
	if j.Attempt == 0 {
		return nil, nil
	}
	groups := map[int]*stepGroup{}
	for i := range max(j.Parallelism, 1) {
		id := store.TaskID(j.ID, j.Attempt, i)
		steps, err := s.st.ListSteps(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, st := range steps {
			g, ok := groups[st.Index]
			if !ok {
				g = &stepGroup{Index: st.Index, Name: st.Name, Type: st.Type}
				groups[st.Index] = g
			}
			g.Runs = append(g.Runs, stepRun{Task: i, TaskID: id, Step: st})
		}
	}
	out := make([]stepGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out, nil
}

func stepStart(st store.Step) *time.Time {
	if st.StartedAt.IsZero() {
		return nil
	}
	t := st.StartedAt
	return &t
}

func (s *server) listSteps(w http.ResponseWriter, r *http.Request) error {
	j, err := s.jobByNumber(r)
	if err != nil {
		return err
	}
	groups, err := s.jobSteps(r.Context(), j)
	if err != nil {
		return err
	}
	base := fmt.Sprintf("%s/api/v2/project/%s/job/%d/output", baseURL(r), j.ProjectSlug, j.Number)
	items := make([]stepJSON, 0, len(groups))
	for _, g := range groups {
		v := stepJSON{Index: g.Index, Name: g.Name, Type: g.Type, Actions: make([]actionJSON, 0, len(g.Runs))}
		for _, run := range g.Runs {
			st := run.Step
			start := stepStart(st)
			q := url.Values{"step": {strconv.Itoa(g.Index)}, "task": {strconv.Itoa(run.Task)}}
			v.Actions = append(v.Actions, actionJSON{
				Index:         run.Task,
				Step:          g.Index,
				Status:        st.Status,
				ExitCode:      st.ExitCode,
				StartTime:     start,
				EndTime:       st.StoppedAt,
				RunTimeMillis: durationMillis(start, st.StoppedAt),
				OutputURL:     base + "?" + q.Encode(),
			})
		}
		items = append(items, v)
	}
	writeJSON(w, http.StatusOK, map[string][]stepJSON{"items": items})
	return nil
}

// queryInt parses a non-negative integer query parameter; def when absent.
func queryInt(r *http.Request, name string, def int, required bool) (int, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		if required {
			return 0, badRequest("query parameter %q is required", name)
		}
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, badRequest("query parameter %s=%q is not a non-negative integer", name, raw)
	}
	return n, nil
}

// NextSeqHeader carries, on step output responses, the sequence number to
// ask for next (from=) to get only output not seen yet.
const NextSeqHeader = "X-Orbit-Next-Seq"

// output serves a step's raw output from a sequence number on.
// MaxOutputResponse bounds the output one GET …/output answers with, well
// under Lambda's 6 MB response limit (a chunk is at most runner.MaxChunk).
const MaxOutputResponse = 4 << 20

// outputTarget reads what a step-output request names: the job (by
// number), its step and task, and the sequence number to start from.
func (s *server) outputTarget(r *http.Request) (j store.Job, step, task, from int, err error) {
	if step, err = queryInt(r, "step", 0, true); err != nil {
		return
	}
	if task, err = queryInt(r, "task", 0, false); err != nil {
		return
	}
	if from, err = queryInt(r, "from", 0, false); err != nil {
		return
	}
	if j, err = s.jobByNumber(r); err != nil {
		return
	}
	if n := max(j.Parallelism, 1); task >= n {
		err = badRequest("task %d: job %d has parallelism %d (tasks 0..%d)", task, j.Number, n, n-1)
	}
	return
}

func (s *server) output(w http.ResponseWriter, r *http.Request) error {
	j, step, task, from, err := s.outputTarget(r)
	if err != nil {
		return err
	}
	var chunks []store.OutputChunk
	if j.Attempt > 0 {
		chunks, err = s.st.Output(r.Context(), store.TaskID(j.ID, j.Attempt, task), step, from)
		if err != nil {
			return err
		}
	}
	if len(chunks) == 0 {
		if err := s.stepExists(r.Context(), j, task, step); err != nil {
			return err
		}
	}
	// One answer carries at most MaxOutputResponse bytes of whole chunks
	// (at least one): the api Lambda's response is capped at 6 MB, and the
	// next poll continues from X-Orbit-Next-Seq.
	size := 0
	for i, c := range chunks {
		if i > 0 && size+len(c.Data) > MaxOutputResponse {
			chunks = chunks[:i]
			break
		}
		size += len(c.Data)
	}
	next := from
	if len(chunks) > 0 {
		next = chunks[len(chunks)-1].Seq + 1
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set(NextSeqHeader, strconv.Itoa(next))
	w.WriteHeader(http.StatusOK)
	for _, c := range chunks {
		if _, err := w.Write(c.Data); err != nil {
			return nil // the client went away
		}
	}
	return nil
}

// stepExists is nil when task's step n of j's latest attempt has a record
// or output, else a store.ErrNotFound that says which step is missing: a
// step that never ran has no output, which is not the same as an empty one.
func (s *server) stepExists(ctx context.Context, j store.Job, task, n int) error {
	missing := fmt.Errorf("job %d has no step %d on task %d: %w", j.Number, n, task, store.ErrNotFound)
	if j.Attempt == 0 {
		return missing
	}
	id := store.TaskID(j.ID, j.Attempt, task)
	steps, err := s.st.ListSteps(ctx, id)
	if err != nil {
		return err
	}
	for _, st := range steps {
		if st.Index == n {
			return nil
		}
	}
	chunks, err := s.st.Output(ctx, id, n, 0)
	if err != nil {
		return err
	}
	if len(chunks) == 0 {
		return missing
	}
	return nil
}

// stepOutput reads a step's output for the UI: at most limit bytes, the
// end of it when it is longer (where a failure usually shows).
func (s *server) stepOutput(ctx context.Context, taskID string, step, limit int) (string, bool, error) {
	chunks, err := s.st.Output(ctx, taskID, step, 0)
	if err != nil {
		return "", false, err
	}
	var b []byte
	for _, c := range chunks {
		b = append(b, c.Data...)
	}
	truncated := len(b) > limit
	if truncated {
		b = b[len(b)-limit:]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), truncated, nil
}
