// Package usage computes the seed's usage statistics ("Weekly Account
// Usage" and "Weekly Job Activity") from Orbit's own records, walking
// every job. Nothing here sends anything anywhere: the admin reads the
// tables (`orbit admin usage`, the seed's `extract`); sending them is an
// opt-in setting that no code acts on while it is off (compose's
// UsageStatistics, off by default).
//
// The seed's columns split minutes by "current" (CircleCI 2.0) and
// "legacy" (1.0) builds and by OSS and private projects: every Orbit build
// is current, and Orbit has no OSS flag, so the legacy and OSS columns are
// always 0 and kept for the shape.
package usage

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/store"
)

// Records is what usage reads (*store.Store).
type Records interface {
	ListProjects(ctx context.Context) ([]store.Project, error)
	ListPipelines(ctx context.Context, slug, cursor string, limit int) ([]store.Pipeline, string, error)
	ListWorkflows(ctx context.Context, pipelineID string) ([]store.Workflow, error)
	ListJobs(ctx context.Context, workflowID string) ([]store.Job, error)
}

// Walk calls fn for every job of every project, newest pipeline first.
func Walk(ctx context.Context, rec Records, fn func(store.Project, store.Pipeline, store.Job) error) error {
	return WalkWorkflows(ctx, rec, func(store.Workflow) bool { return true }, fn)
}

// WalkWorkflows is Walk over the jobs of the workflows keep accepts only;
// the others' jobs are not read. (The admin queue view reads the store's
// index of unfinished work instead: no walk.)
func WalkWorkflows(ctx context.Context, rec Records, keep func(store.Workflow) bool, fn func(store.Project, store.Pipeline, store.Job) error) error {
	projects, err := rec.ListProjects(ctx)
	if err != nil {
		return err
	}
	for _, p := range projects {
		cursor := ""
		for {
			pls, next, err := rec.ListPipelines(ctx, p.Slug, cursor, 100)
			if err != nil {
				return err
			}
			for _, pl := range pls {
				wfs, err := rec.ListWorkflows(ctx, pl.ID)
				if err != nil {
					return err
				}
				for _, w := range wfs {
					if !keep(w) {
						continue
					}
					jobs, err := rec.ListJobs(ctx, w.ID)
					if err != nil {
						return err
					}
					for _, j := range jobs {
						if err := fn(p, pl, j); err != nil {
							return err
						}
					}
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return nil
}

// AccountWeek is a row of the seed's "Weekly Account Usage".
type AccountWeek struct {
	UTCWeek      string `json:"utc_week"`
	AccountID    string `json:"account_id"`
	CurrentMacOS int64  `json:"usage_current_macos"`
	LegacyMacOS  int64  `json:"usage_legacy_macos"`
	CurrentLinux int64  `json:"usage_current_linux"`
	LegacyLinux  int64  `json:"usage_legacy_linux"`
}

// JobWeek is a row of the seed's "Weekly Job Activity"; Columns holds the
// seed's usage_*, new_projects_* and projects_* columns by name.
type JobWeek struct {
	UTCWeek string           `json:"utc_week"`
	Columns map[string]int64 `json:"columns"`
}

// Report is both tables.
type Report struct {
	Accounts []AccountWeek `json:"weekly_account_usage"`
	Jobs     []JobWeek     `json:"weekly_job_activity"`
}

// JobColumns are the seed's Weekly Job Activity columns, in its order.
var JobColumns = func() []string {
	var out []string
	for _, kind := range []string{"usage", "new_projects", "projects"} {
		for _, vis := range []string{"oss", "private"} {
			for _, os := range []string{"macos", "linux"} {
				for _, gen := range []string{"legacy", "current"} {
					out = append(out, kind+"_"+vis+"_"+os+"_"+gen)
				}
			}
		}
	}
	return out
}()

// Week is the Monday (UTC) of t's week, as the utc_week column writes it.
func Week(t time.Time) string {
	t = t.UTC()
	d := (int(t.Weekday()) + 6) % 7
	return t.AddDate(0, 0, -d).Format("2006-01-02")
}

// Compute builds the report: a job's minutes are its run time (started to
// stopped), rounded up, on macOS for the macos executor and on Linux for
// the others; a project counts in a week it ran a job, and as new in the
// week it was followed.
func Compute(ctx context.Context, rec Records) (Report, error) {
	accounts := map[[2]string]*AccountWeek{}
	weeks := map[string]map[string]int64{}
	active := map[[2]string]string{} // (week, slug) → os
	col := func(w string) map[string]int64 {
		if weeks[w] == nil {
			weeks[w] = map[string]int64{}
			for _, c := range JobColumns {
				weeks[w][c] = 0
			}
		}
		return weeks[w]
	}
	newProjects := map[string]bool{}
	err := Walk(ctx, rec, func(p store.Project, _ store.Pipeline, j store.Job) error {
		if j.StartedAt == nil || j.StoppedAt == nil {
			return nil
		}
		minutes := int64((j.StoppedAt.Sub(*j.StartedAt) + time.Minute - 1) / time.Minute)
		os := osOf(j)
		w := Week(*j.StartedAt)
		acct := accountOf(p.Slug)
		a := accounts[[2]string{w, acct}]
		if a == nil {
			a = &AccountWeek{UTCWeek: w, AccountID: acct}
			accounts[[2]string{w, acct}] = a
		}
		if os == "macos" {
			a.CurrentMacOS += minutes
		} else {
			a.CurrentLinux += minutes
		}
		col(w)["usage_private_"+os+"_current"] += minutes
		if _, seen := active[[2]string{w, p.Slug}]; !seen {
			active[[2]string{w, p.Slug}] = os
			col(w)["projects_private_"+os+"_current"]++
			if Week(p.CreatedAt) == w && !newProjects[p.Slug] {
				newProjects[p.Slug] = true
				col(w)["new_projects_private_"+os+"_current"]++
			}
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	var r Report
	for _, a := range accounts {
		r.Accounts = append(r.Accounts, *a)
	}
	sort.Slice(r.Accounts, func(i, j int) bool {
		if r.Accounts[i].UTCWeek != r.Accounts[j].UTCWeek {
			return r.Accounts[i].UTCWeek < r.Accounts[j].UTCWeek
		}
		return r.Accounts[i].AccountID < r.Accounts[j].AccountID
	})
	for w, c := range weeks {
		r.Jobs = append(r.Jobs, JobWeek{UTCWeek: w, Columns: c})
	}
	sort.Slice(r.Jobs, func(i, j int) bool { return r.Jobs[i].UTCWeek < r.Jobs[j].UTCWeek })
	return r, nil
}

func osOf(j store.Job) string {
	if executorOf(j).Type == "macos" {
		return "macos"
	}
	return "linux"
}

// accountOf is the VCS account of a project: "<vcs>/<org>".
func accountOf(slug string) string {
	parts := strings.SplitN(slug, "/", 3)
	if len(parts) < 2 {
		return slug
	}
	return parts[0] + "/" + parts[1]
}
