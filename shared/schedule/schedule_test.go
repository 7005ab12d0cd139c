package schedule

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

const nightly = `version: 2.1
jobs:
  build: {docker: [{image: cimg/base:stable}], steps: [checkout]}
workflows:
  push:
    jobs: [build]
  nightly:
    triggers:
      - schedule:
          cron: "0 3 * * *"
          filters: {branches: {only: [main, release]}}
    jobs: [build]
  hourly:
    triggers:
      - schedule: {cron: "30 * * * *", filters: {branches: {only: main}}}
    jobs: [build]
`

// fakeSource serves one config per repository URL at the head of any
// branch ("" means the repository has no config file).
type fakeSource map[string]string

func (f fakeSource) ResolveRevision(_ context.Context, repo, ref string) (string, error) {
	if _, ok := f[repo]; !ok {
		return "", vcs.ErrRepoNotFound
	}
	return "rev-" + ref, nil
}

func (f fakeSource) FileAt(_ context.Context, repo, _, _ string) ([]byte, error) {
	if f[repo] == "" {
		return nil, vcs.ErrFileNotFound
	}
	return []byte(f[repo]), nil
}

// fakeTrigger records the pipelines it is asked for.
type fakeTrigger struct {
	mu   sync.Mutex
	reqs []conductor.TriggerRequest
}

func (f *fakeTrigger) Trigger(_ context.Context, req conductor.TriggerRequest) (store.Pipeline, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	return store.Pipeline{ID: "p", ProjectSlug: req.ProjectSlug, Number: int64(len(f.reqs))}, nil
}

// runs lists the triggered runs as "project workflow@branch" and forgets
// them.
func (f *fakeTrigger) runs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.reqs {
		if r.TriggerType != "schedule" {
			out = append(out, "bad trigger type "+r.TriggerType)
		}
		out = append(out, r.ProjectSlug+" "+r.ScheduledWorkflow+"@"+r.Branch)
	}
	f.reqs = nil
	return out
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	kvs, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"), boltkv.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { kvs.Close() })
	st := store.New(kvs, nil)
	for _, p := range []store.Project{
		{Slug: "local/acme/app", RepoURL: "/app", DefaultBranch: "main"},
		{Slug: "local/acme/noconfig", RepoURL: "/noconfig", DefaultBranch: "main"},
		{Slug: "local/acme/broken", RepoURL: "/broken", DefaultBranch: "main"},
	} {
		_, err := st.CreateProject(context.Background(), p)
		require.NoError(t, err)
	}
	return st
}

func newEvaluator(t *testing.T, st *store.Store, trig Triggerer, clock Clock) *Evaluator {
	t.Helper()
	e, err := New(Config{Store: st, Trigger: trig, Clock: clock,
		Source: fakeSource{"/app": nightly, "/noconfig": "", "/broken": "version: 2.1\nworkflows: ["}})
	require.NoError(t, err)
	return e
}

var day = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

func at(hhmm string) time.Time {
	t, err := time.Parse("15:04:05", hhmm)
	if err != nil {
		t, _ = time.Parse("15:04", hhmm)
	}
	return day.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

func TestEvaluate(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	trig := &fakeTrigger{}
	e := newEvaluator(t, st, trig, nil)
	second := newEvaluator(t, st, trig, nil) // another evaluator on the same store

	steps := []struct {
		name string
		e    *Evaluator
		now  time.Time
		want []string
	}{
		{name: "nothing due", e: e, now: at("02:59"), want: nil},
		{name: "nightly on both branches", e: e, now: at("03:00:01"),
			want: []string{"local/acme/app nightly@main", "local/acme/app nightly@release"}},
		{name: "the same minute again (restart)", e: e, now: at("03:00:40"), want: nil},
		{name: "the same minute on another evaluator", e: second, now: at("03:00:59"), want: nil},
		{name: "next minute", e: e, now: at("03:01"), want: nil},
		{name: "hourly on main only", e: second, now: at("03:30"), want: []string{"local/acme/app hourly@main"}},
		{name: "next day", e: e, now: at("03:00").Add(24 * time.Hour),
			want: []string{"local/acme/app nightly@main", "local/acme/app nightly@release"}},
	}
	for _, s := range steps {
		require.NoError(t, s.e.Evaluate(ctx, s.now), s.name)
		assert.Equal(t, s.want, trig.runs(), s.name)
	}
}

func TestEvaluateCatchesUpOnce(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		evals []time.Time
		want  [][]string // per evaluation
	}{
		{
			name:  "a late tick runs the missed minute once",
			evals: []time.Time{at("02:58"), at("03:02"), at("03:03")},
			want:  [][]string{nil, {"local/acme/app nightly@main", "local/acme/app nightly@release"}, nil},
		},
		{
			name:  "a restart a few minutes later runs it once",
			evals: []time.Time{at("02:30"), at("03:04:30"), at("03:04:50"), at("03:05")},
			want: [][]string{{"local/acme/app hourly@main"},
				{"local/acme/app nightly@main", "local/acme/app nightly@release"}, nil, nil},
		},
		{
			name:  "a minute older than the catch-up window is skipped",
			evals: []time.Time{at("02:58"), at("03:06")},
			want:  [][]string{nil, nil},
		},
		{
			name:  "a schedule never evaluated catches up too",
			evals: []time.Time{at("03:03")},
			want:  [][]string{{"local/acme/app nightly@main", "local/acme/app nightly@release"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trig := &fakeTrigger{}
			e := newEvaluator(t, newStore(t), trig, nil)
			for i, now := range tt.evals {
				require.NoError(t, e.Evaluate(ctx, now))
				assert.Equal(t, tt.want[i], trig.runs(), "evaluation at %s", now.Format("15:04:05"))
			}
		})
	}
}

// Evaluators racing on the same minute trigger each run exactly once.
func TestConcurrentEvaluatorsTriggerOnce(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	trig := &fakeTrigger{}
	var wg sync.WaitGroup
	for range 8 {
		e := newEvaluator(t, st, trig, nil)
		wg.Go(func() { assert.NoError(t, e.Evaluate(ctx, at("03:00:02"))) })
	}
	wg.Wait()
	assert.ElementsMatch(t, []string{"local/acme/app nightly@main", "local/acme/app nightly@release"}, trig.runs())
}

// fakeClock moves only when the test says; After channels fire when the
// time passes their deadline.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []clockWaiter
	waiting chan time.Duration // each After call's duration
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, clockWaiter{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.waiting <- d
	return ch
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

func TestRunTicksOnTheMinute(t *testing.T) {
	clock := &fakeClock{now: at("02:59:30"), waiting: make(chan time.Duration)}
	trig := &fakeTrigger{}
	e := newEvaluator(t, newStore(t), trig, clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

	// It evaluates at once, then sleeps until a second past the next minute.
	assert.Equal(t, 31*time.Second, <-clock.waiting)
	assert.Empty(t, trig.runs())
	clock.set(at("03:00:01"))
	assert.Equal(t, 60*time.Second, <-clock.waiting)
	assert.Equal(t, []string{"local/acme/app nightly@main", "local/acme/app nightly@release"}, trig.runs())

	// A tick that comes late (a busy machine) still evaluates its minute.
	clock.set(at("03:01:50"))
	assert.Equal(t, 11*time.Second, <-clock.waiting)
	assert.Empty(t, trig.runs())

	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestBranches(t *testing.T) {
	tests := []struct {
		name   string
		filter config.PatternFilter
		want   []string
	}{
		{name: "only names", filter: config.PatternFilter{Only: []string{"main", "release"}}, want: []string{"main", "release"}},
		{name: "regex matching the default branch", filter: config.PatternFilter{Only: []string{"/ma.*/"}}, want: []string{"main"}},
		{name: "regex matches whole names only", filter: config.PatternFilter{Only: []string{"/ai/"}}, want: nil},
		{name: "ignore only: the default branch", filter: config.PatternFilter{Ignore: []string{"dev"}}, want: []string{"main"}},
		{name: "ignored default branch", filter: config.PatternFilter{Ignore: []string{"/m.*/"}}, want: nil},
		{name: "ignore removes a named branch", filter: config.PatternFilter{Only: []string{"main", "release"}, Ignore: []string{"release"}}, want: []string{"main"}},
		{name: "duplicates once", filter: config.PatternFilter{Only: []string{"main", "/main/"}}, want: []string{"main"}},
		{name: "invalid regex matches nothing", filter: config.PatternFilter{Only: []string{"/(/"}}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Branches(tt.filter, "main")
			if len(tt.want) == 0 {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
