package insights

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
)

// Test metrics and flaky tests. When a build job ends, its test results
// (stored by the runner API's store_test_results under
// projects/<slug>/jobs/<n>/tests/<attempt>/, read through Tests) are read
// once and kept two ways:
//
//   - a test run per job run (TESTS partition, newest workflows last by
//     key), from which the test metrics of a workflow's 10 most recent runs
//     are computed, as CircleCI computes them;
//   - per revision, workflow and job, each test's passes and failures (REV);
//     a test that both passed and failed on one revision is flaky, and its
//     FLAKY item counts times-flaked: the failed runs of the test on
//     revisions where it also passed (a failure before the first pass
//     counts when the pass arrives), and time-wasted: their run times.
//
// Both are idempotent by the job run's key (job id and attempt): test runs
// are written IfNotExists under a key made of it, and REV and FLAKY items
// list the runs they have counted.

// maxTestBytes bounds the tests of one TESTS item; a job run with more
// tests writes several (chunk 0, 1, …).
const maxTestBytes = 200 << 10

// maxSeen bounds the run keys a REV or FLAKY item remembers.
const maxSeen = 1000

// TestResult is one test's result in one job run.
type TestResult struct {
	Name      string  `json:"n"`
	Classname string  `json:"c,omitempty"`
	File      string  `json:"f,omitempty"`
	Source    string  `json:"s,omitempty"`
	Result    string  `json:"r"`
	RunTime   float64 `json:"t"`
}

// TestRun is the tests of one job run (one chunk of them).
type TestRun struct {
	WorkflowID     string       `json:"wid"`
	Workflow       string       `json:"w"`
	Job            string       `json:"j"`
	Branch         string       `json:"b,omitempty"`
	PipelineNumber int64        `json:"n"`
	CreatedAt      time.Time    `json:"c"`
	Tests          []TestResult `json:"tests"`
}

func (in *Insights) recordTests(ctx context.Context, j store.Job, wf store.Workflow, p store.Pipeline) error {
	tests, err := in.tests.Tests(ctx, j.ProjectSlug, j.Number, j.Attempt)
	if err != nil {
		return fmt.Errorf("read tests of job %d: %w", j.Number, err)
	}
	if len(tests) == 0 {
		return nil
	}
	results := make([]TestResult, 0, len(tests))
	for _, t := range tests {
		results = append(results, TestResult{Name: t.Name, Classname: t.Classname, File: t.File, Source: t.Source, Result: t.Result, RunTime: t.RunTime})
	}
	base := TestRun{WorkflowID: wf.ID, Workflow: wf.Name, Job: j.Name, Branch: p.VCS.Branch, PipelineNumber: p.Number, CreatedAt: wf.CreatedAt.UTC()}
	prefix := wf.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000000Z") + "#" + wf.ID + "#" + esc(j.Name) + "#" + itoa(j.Attempt) + "#"
	chunk, size := 0, 0
	var part []TestResult
	flush := func() error {
		tr := base
		tr.Tests = part
		data, err := json.Marshal(tr)
		if err != nil {
			return err
		}
		_, err = in.kv.Put(ctx, kv.Item{PK: pk(j.ProjectSlug, "TESTS", esc(wf.Name)), SK: prefix + shard(chunk), Data: data,
			ExpiresAt: wf.CreatedAt.Add(Retention)}, kv.Condition{IfNotExists: true})
		if err != nil && !errors.Is(err, kv.ErrConflict) { // a conflict: recorded before
			return fmt.Errorf("store test run: %w", err)
		}
		chunk, size, part = chunk+1, 0, nil
		return nil
	}
	for _, r := range results {
		n := len(r.Name) + len(r.Classname) + len(r.File) + len(r.Source) + 64
		if size+n > maxTestBytes && len(part) > 0 {
			if err := flush(); err != nil {
				return err
			}
		}
		part, size = append(part, r), size+n
	}
	if err := flush(); err != nil {
		return err
	}
	if p.VCS.Revision == "" {
		return nil
	}
	return in.recordRevision(ctx, j, wf, p, results)
}

// testState is one test's results on one revision.
type testState struct {
	Passes   int     `json:"p,omitempty"`
	Fails    int     `json:"f,omitempty"`
	FailTime float64 `json:"ft,omitempty"`
}

type revision struct {
	Seen  []string             `json:"seen"`
	Tests map[string]testState `json:"tests"`
}

// testKey identifies a test within a workflow's job.
func testKey(t TestResult) string {
	h := sha256.Sum256([]byte(t.Classname + "\x00" + t.Name + "\x00" + t.File))
	return hex.EncodeToString(h[:8])
}

// flake is what one job run adds to a flaky test.
type flake struct {
	test   TestResult
	times  int
	wasted float64
}

func (in *Insights) recordRevision(ctx context.Context, j store.Job, wf store.Workflow, p store.Pipeline, results []TestResult) error {
	runKey := j.ID + "#" + itoa(j.Attempt)
	sk := esc(p.VCS.Revision) + "#" + esc(wf.Name) + "#" + esc(j.Name)
	var flakes map[string]*flake
	for range maxAttempts {
		var rev revision
		cond := kv.Condition{IfNotExists: true}
		it, err := in.kv.Get(ctx, pk(j.ProjectSlug, "REV"), sk)
		switch {
		case err == nil:
			if err := json.Unmarshal(it.Data, &rev); err != nil {
				return fmt.Errorf("decode revision state: %w", err)
			}
			cond = kv.Condition{IfVersion: it.Version}
		case !errors.Is(err, kv.ErrNotFound):
			return err
		}
		if slices.Contains(rev.Seen, runKey) {
			return nil
		}
		if rev.Tests == nil {
			rev.Tests = map[string]testState{}
		}
		flakes = map[string]*flake{}
		for _, t := range results {
			k := testKey(t)
			s := rev.Tests[k]
			f := &flake{test: t}
			switch t.Result {
			case junit.ResultFailure:
				if s.Passes > 0 {
					f.times, f.wasted = 1, t.RunTime
				}
				s.Fails++
				s.FailTime += t.RunTime
			case junit.ResultSuccess:
				if s.Passes == 0 && s.Fails > 0 {
					f.times, f.wasted = s.Fails, s.FailTime
				}
				s.Passes++
			default:
				continue
			}
			rev.Tests[k] = s
			if f.times > 0 {
				if g, ok := flakes[k]; ok {
					g.times, g.wasted = g.times+f.times, g.wasted+f.wasted
				} else {
					flakes[k] = f
				}
			}
		}
		rev.Seen = appendBounded(rev.Seen, runKey)
		data, err := json.Marshal(rev)
		if err != nil {
			return err
		}
		if len(data) > kv.MaxDataBytes {
			return fmt.Errorf("revision %s of job %s has too many tests to track flakiness (%d bytes)", p.VCS.Revision, j.Name, len(data))
		}
		_, err = in.kv.Put(ctx, kv.Item{PK: pk(j.ProjectSlug, "REV"), SK: sk, Data: data, ExpiresAt: in.now().Add(Retention)}, cond)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		for k, f := range flakes {
			if err := in.addFlake(ctx, j, wf, p, runKey, k, *f); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("revision state: too much contention")
}

// FlakyTest is a test that passed and failed on one revision: CircleCI's
// flaky-tests item (its hyphenated names).
type FlakyTest struct {
	TestName          string   `json:"test-name"`
	Classname         string   `json:"classname"`
	File              string   `json:"file"`
	Source            string   `json:"source"`
	JobName           string   `json:"job-name"`
	WorkflowName      string   `json:"workflow-name"`
	TimesFlaked       int64    `json:"times-flaked"`
	TimeWasted        float64  `json:"time-wasted"`
	WorkflowID        string   `json:"workflow-id"`
	WorkflowCreatedAt string   `json:"workflow-created-at"`
	PipelineNumber    int64    `json:"pipeline-number"`
	JobNumber         int64    `json:"job-number"`
	Seen              []string `json:"seen,omitempty"`
}

func (in *Insights) addFlake(ctx context.Context, j store.Job, wf store.Workflow, p store.Pipeline, runKey, k string, f flake) error {
	fpk, sk := pk(j.ProjectSlug, "FLAKY"), esc(wf.Name)+"#"+esc(j.Name)+"#"+k
	for range maxAttempts {
		var ft FlakyTest
		cond := kv.Condition{IfNotExists: true}
		it, err := in.kv.Get(ctx, fpk, sk)
		switch {
		case err == nil:
			if err := json.Unmarshal(it.Data, &ft); err != nil {
				return fmt.Errorf("decode flaky test: %w", err)
			}
			cond = kv.Condition{IfVersion: it.Version}
		case !errors.Is(err, kv.ErrNotFound):
			return err
		}
		if slices.Contains(ft.Seen, runKey) {
			return nil
		}
		ft.TestName, ft.Classname, ft.File, ft.Source = f.test.Name, f.test.Classname, f.test.File, f.test.Source
		ft.JobName, ft.WorkflowName = j.Name, wf.Name
		ft.TimesFlaked += int64(f.times)
		ft.TimeWasted += f.wasted
		ft.WorkflowID, ft.WorkflowCreatedAt = wf.ID, wf.CreatedAt.UTC().Format(time.RFC3339)
		ft.PipelineNumber, ft.JobNumber = p.Number, j.Number
		ft.Seen = appendBounded(ft.Seen, runKey)
		data, err := json.Marshal(ft)
		if err != nil {
			return err
		}
		_, err = in.kv.Put(ctx, kv.Item{PK: fpk, SK: sk, Data: data, ExpiresAt: in.now().Add(Retention)}, cond)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		return err
	}
	return errors.New("flaky test: too much contention")
}

func appendBounded(s []string, v string) []string {
	s = append(s, v)
	if len(s) > maxSeen {
		s = s[len(s)-maxSeen:]
	}
	return s
}

// FlakyTests returns a project's flaky tests, by workflow, job and test.
func (in *Insights) FlakyTests(ctx context.Context, slug string) ([]FlakyTest, error) {
	q := kv.Query{PK: pk(slug, "FLAKY"), Limit: 1000}
	out := []FlakyTest{}
	for {
		page, err := in.kv.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var ft FlakyTest
			if err := json.Unmarshal(it.Data, &ft); err != nil {
				return nil, fmt.Errorf("decode flaky test %s: %w", it.SK, err)
			}
			ft.Seen = nil
			out = append(out, ft)
		}
		if page.Cursor == "" {
			return out, nil
		}
		q.Cursor = page.Cursor
	}
}
