// Package schedule runs scheduled pipelines: the workflows a project's
// config gives `triggers: [{schedule: {cron, filters: {branches}}}]`, and
// the schedules made through the API (timetable.go). It is Orbit's
// cron-service: the Lambda `cron` calls Evaluate once a minute
// (EventBridge Scheduler) in AWS; the embedded shape runs Run, a ticker on
// the minute.
//
//	each minute M, for each project:
//	  config at the head of the default branch ─▶ config.Compile ─▶ Plan.Schedules
//	  for each schedule, for each branch its filter names:
//	    the cron matches a minute in (last mark, M] (at most CatchUp back)?
//	      ─▶ claim: the mark moves to M with a conditional write (store.AdvanceSchedule)
//	      ─▶ won ─▶ trigger a pipeline on that branch: type "schedule", the
//	                scheduled workflow alone (push workflows do not run)
//
// The mark makes each due minute trigger at most once: two evaluators, or an
// evaluator restarted within the minute, race for the same conditional
// write and one loses. A minute missed while nothing evaluated (a restart, a
// late tick) is run once by the next evaluation if it is at most CatchUp
// old; older ones are skipped, as CircleCI skips them. A crash between the
// claim and the trigger loses that run rather than risk running it twice.
//
// Branches: literal names in the filter's `only` are the branches that run;
// a `/regex/` entry can only be matched against the default branch (the
// vcs port lists no branches); no `only` means the default branch; `ignore`
// removes branches. The schedules are read from the default branch's config;
// each run compiles the config of its own branch.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/clock"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// Triggerer starts pipelines; *conductor.Conductor satisfies it.
type Triggerer interface {
	Trigger(ctx context.Context, req conductor.TriggerRequest) (store.Pipeline, error)
}

// Source reads project repositories (the vcs port); the conductor's Source
// drivers satisfy it.
type Source interface {
	ResolveRevision(ctx context.Context, repoURL, ref string) (string, error)
	FileAt(ctx context.Context, repoURL, revision, path string) ([]byte, error)
}

// Clock is the evaluator's time source; tests use a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

var (
	_ Triggerer = (*conductor.Conductor)(nil)
	_ Source    = conductor.Source(nil)
)

// Config configures an Evaluator.
type Config struct {
	// Store holds the projects and the schedules' marks. Required.
	Store *store.Store
	// Source reads the projects' configs. Required.
	Source Source
	// Trigger starts the scheduled pipelines. Required.
	Trigger Triggerer
	// ConfigPath is the config file in the repository (default
	// .circleci/config.yml).
	ConfigPath string
	// CatchUp is how old a missed minute may be and still run once
	// (default 5 min).
	CatchUp time.Duration
	// TickOffset is how long after each minute starts Run evaluates it
	// (default 1 s), so a clock slightly behind still lands in the minute.
	TickOffset time.Duration
	// Clock is the time source (default: the real clock).
	Clock Clock
	// Logger receives the evaluator's log lines (default: discarded).
	Logger *slog.Logger
}

// Evaluator evaluates the projects' schedules.
type Evaluator struct {
	cfg Config
	st  *store.Store
	log *slog.Logger
}

// New returns an Evaluator.
func New(cfg Config) (*Evaluator, error) {
	if cfg.Store == nil || cfg.Source == nil || cfg.Trigger == nil {
		return nil, errors.New("schedule: Store, Source and Trigger are required")
	}
	if cfg.ConfigPath == "" {
		cfg.ConfigPath = config.DefaultFilename
	}
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = 5 * time.Minute
	}
	if cfg.TickOffset <= 0 {
		cfg.TickOffset = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Evaluator{cfg: cfg, st: cfg.Store, log: cfg.Logger}, nil
}

// Run evaluates the current minute at once, then each minute, until ctx
// ends. Problems are logged, never fatal: the next minute tries again.
func (e *Evaluator) Run(ctx context.Context) error {
	for {
		now := e.cfg.Clock.Now()
		if err := e.Evaluate(ctx, now); err != nil && ctx.Err() == nil {
			e.log.ErrorContext(ctx, "evaluate schedules", "minute", now.UTC().Truncate(time.Minute), "error", err)
		}
		next := now.Truncate(time.Minute).Add(time.Minute + e.cfg.TickOffset)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.cfg.Clock.After(max(next.Sub(e.cfg.Clock.Now()), 0)):
		}
	}
}

// Evaluate triggers the pipelines due in the minute of now (and in the
// minutes not evaluated since, up to CatchUp back). It is idempotent per
// minute and safe to run concurrently with other evaluators on the same
// store. A project whose config cannot be read or compiled is skipped (and
// logged); the error returned is only for what stops the whole pass.
func (e *Evaluator) Evaluate(ctx context.Context, now time.Time) error {
	minute := now.UTC().Truncate(time.Minute)
	projects, err := e.st.ListProjects(ctx)
	if err != nil {
		return fmt.Errorf("list projects: %w", err)
	}
	var errs []error
	for _, p := range projects {
		for _, eval := range []func(context.Context, store.Project, time.Time) error{e.evaluateProject, e.evaluatePipelineSchedules} {
			if err := eval(ctx, p, minute); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				errs = append(errs, fmt.Errorf("project %s: %w", p.Slug, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (e *Evaluator) evaluateProject(ctx context.Context, p store.Project, minute time.Time) error {
	log := e.log.With("project", p.Slug, "minute", minute)
	schedules, err := e.schedules(ctx, p)
	if err != nil {
		var list config.ErrorList
		if isVCSMiss(err) || errors.As(err, &list) {
			// No config, or a broken one: nothing is scheduled. The
			// pipelines of a push say what is wrong with it.
			log.DebugContext(ctx, "no schedules", "reason", err)
			return nil
		}
		return err
	}
	for _, sch := range schedules {
		cron, err := ParseCron(sch.Cron)
		if err != nil {
			log.WarnContext(ctx, "invalid schedule", "workflow", sch.Workflow, "error", err)
			continue
		}
		for _, branch := range Branches(sch.Branches, p.DefaultBranch) {
			key := sch.Workflow + "|" + sch.Cron + "|" + branch
			req := conductor.TriggerRequest{ProjectSlug: p.Slug, Branch: branch, TriggerType: "schedule", ScheduledWorkflow: sch.Workflow}
			if err := e.claimAndTrigger(ctx, p, key, cron, minute, req); err != nil {
				return err
			}
		}
	}
	return nil
}

// schedules reads the schedules of the project's default branch.
func (e *Evaluator) schedules(ctx context.Context, p store.Project) ([]config.Schedule, error) {
	rev, err := e.cfg.Source.ResolveRevision(ctx, p.RepoURL, p.DefaultBranch)
	if err != nil {
		return nil, err
	}
	src, err := e.cfg.Source.FileAt(ctx, p.RepoURL, rev, e.cfg.ConfigPath)
	if err != nil {
		return nil, err
	}
	plan, err := config.Compile(src, config.Options{Filename: e.cfg.ConfigPath, Branch: p.DefaultBranch, Revision: rev})
	if err != nil {
		return nil, err
	}
	return plan.Schedules, nil
}

func isVCSMiss(err error) bool {
	return errors.Is(err, vcs.ErrRepoNotFound) || errors.Is(err, vcs.ErrRevisionNotFound) || errors.Is(err, vcs.ErrFileNotFound)
}

// matcher says whether a schedule runs in a minute (a Cron, a timetable).
type matcher interface {
	Match(m time.Time) bool
}

// claimAndTrigger triggers req for the schedule key if a minute in (mark,
// minute] is due and this evaluator wins the claim on it.
func (e *Evaluator) claimAndTrigger(ctx context.Context, p store.Project, key string, cron matcher, minute time.Time, req conductor.TriggerRequest) error {
	var last time.Time
	switch m, err := e.st.GetScheduleMark(ctx, p.Slug, key); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		last = m.Last
	}
	if !e.due(cron, last, minute) {
		return nil
	}
	prev, err := e.st.AdvanceSchedule(ctx, p.Slug, key, minute)
	if errors.Is(err, store.ErrStale) {
		return nil // another evaluator claimed it
	}
	if err != nil {
		return err
	}
	if !e.due(cron, prev, minute) {
		return nil // the due minute was claimed by another evaluator before
	}
	pl, err := e.cfg.Trigger.Trigger(ctx, req)
	if err != nil {
		// The minute is claimed: it is not retried (at most once).
		e.log.ErrorContext(ctx, "trigger scheduled pipeline", "project", p.Slug, "schedule", key,
			"branch", req.Branch, "minute", minute, "error", err)
		return nil
	}
	e.log.InfoContext(ctx, "scheduled pipeline triggered", "project", p.Slug, "schedule", key,
		"branch", req.Branch, "minute", minute, "pipeline_id", pl.ID, "number", pl.Number)
	return nil
}

// due reports whether the cron matches a minute after last (the zero time:
// never evaluated) up to and including minute, looking back at most
// CatchUp.
func (e *Evaluator) due(cron matcher, last, minute time.Time) bool {
	from := minute.Add(-e.cfg.CatchUp)
	if next := last.Add(time.Minute); next.After(from) {
		from = next
	}
	for m := from; !m.After(minute); m = m.Add(time.Minute) {
		if cron.Match(m) {
			return true
		}
	}
	return false
}

// Branches are the branches a schedule's branch filter runs on (see the
// package comment), in the filter's order.
func Branches(f config.PatternFilter, defaultBranch string) []string {
	var out []string
	add := func(b string) {
		if b != "" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	for _, p := range f.Only {
		if re, ok := patternRE(p); ok {
			if re != nil && re.MatchString(defaultBranch) {
				add(defaultBranch)
			}
			continue
		}
		add(p)
	}
	if len(f.Only) == 0 {
		add(defaultBranch)
	}
	return slices.DeleteFunc(out, func(b string) bool {
		return slices.ContainsFunc(f.Ignore, func(p string) bool {
			if re, ok := patternRE(p); ok {
				return re != nil && re.MatchString(b)
			}
			return p == b
		})
	})
}

// patternRE compiles a `/regex/` filter entry, which must match a whole
// name; ok is false for a literal name. An invalid expression (the config
// compiler reports it) matches nothing.
func patternRE(p string) (*regexp.Regexp, bool) {
	if len(p) < 2 || !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
		return nil, false
	}
	re, err := regexp.Compile(`^(?:` + p[1:len(p)-1] + `)$`)
	if err != nil {
		return nil, true
	}
	return re, true
}
