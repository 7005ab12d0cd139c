package api

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/usage"
)

// The admin pages of the operations the seed runs from its REPL, on the
// admin API's code (admin.go):
//
//	GET  /ui/admin/audit?action=&actor=&from=&to=&page=N   the audit log, newest first, filtered
//	GET  /ui/admin/audit.csv?(the same filters)             its CSV download (admin.audit_log.export)
//	GET  /ui/admin/usage                                    the seed's weekly usage tables
//	GET  /ui/admin/queues?page=N                            queue depth and age by resource class, the queued jobs 100 a page
//	POST /ui/admin/queues/cancel   job=ID… (selected) or count=N (oldest)   admin.queue.cancel
//	GET  /ui/admin/health                                   every dependency's state (/status's)
//
// The audit and usage pages need Config.Audit (as the admin API does), the
// cancel form Config.Controls.

// auditPageSize is how many events the audit page shows at a time.
const auditPageSize = 100

// queueListLimit is how many queued jobs the queues page lists.
const queueListLimit = maxCancelBatch

func (s *server) routeUIAdminOps(mux *http.ServeMux) {
	s.route(mux, "GET /ui/admin/queues", siteAdmin, s.html(s.uiAdminQueues))
	s.route(mux, "GET /ui/admin/health", siteAdmin, s.html(s.uiAdminHealth))
	if s.cfg.Controls != nil {
		s.route(mux, "POST /ui/admin/queues/cancel", siteAdmin, s.action(s.uiCancelQueued))
	}
	if s.cfg.Audit == nil {
		return
	}
	s.route(mux, "GET /ui/admin/audit", siteAdmin, s.html(s.uiAdminAudit))
	s.route(mux, "GET /ui/admin/audit.csv", siteAdmin, s.api(func(w http.ResponseWriter, r *http.Request) error {
		q, err := auditQueryOf(r)
		if err != nil {
			return err
		}
		return s.exportAudit(w, r, q)
	}))
	s.route(mux, "GET /ui/admin/usage", siteAdmin, s.html(s.uiAdminUsage))
}

// auditQueryOf reads the audit page's filters: from and to are dates
// (YYYY-MM-DD, UTC; to is inclusive) or RFC 3339 times.
func auditQueryOf(r *http.Request) (auditQuery, error) {
	q := auditQuery{Action: strings.TrimSpace(r.URL.Query().Get("action")), Actor: strings.TrimSpace(r.URL.Query().Get("actor"))}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		v := strings.TrimSpace(r.URL.Query().Get(name))
		if v == "" {
			continue
		}
		if d, err := time.Parse(time.DateOnly, v); err == nil {
			if name == "to" {
				d = d.AddDate(0, 0, 1)
			}
			*dst = d
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return q, badRequest("%s: %q is neither a date (2026-01-31) nor an RFC 3339 time", name, v)
		}
		*dst = t
	}
	return q, nil
}

type adminAuditPage struct {
	adminBase
	Action, Actor, From, To string
	Actions                 []string
	Events                  []adminAuditRow
	Total                   int
	// Query is the filters' query string (the CSV link, the pager).
	Query            string
	Page             int
	PrevURL, NextURL string
}

type adminAuditRow struct {
	At                                    time.Time
	Action, Actor, Target, Scope, Request string
	Success                               bool
}

func entityName(e audit.Entity) string {
	if e.Name != "" && e.Name != e.ID {
		return e.Name + " (" + e.Type + " " + e.ID + ")"
	}
	return e.Type + " " + e.ID
}

func (s *server) uiAdminAudit(r *http.Request) (string, uiPage, error) {
	q, err := auditQueryOf(r)
	if err != nil {
		return "", nil, err
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	events, err := s.auditEvents(r.Context(), q)
	if err != nil {
		return "", nil, err
	}
	v := r.URL.Query()
	p := &adminAuditPage{adminBase: s.adminBase("Audit log · Admin", "audit"), Action: q.Action, Actor: q.Actor,
		From: v.Get("from"), To: v.Get("to"), Total: len(events), Page: page,
		Actions: append(slices.Clone(audit.Actions), audit.AdminCancelQueued, audit.AdminDeleteBuild, audit.AdminAuditExport,
			audit.AdminNodeDrain, audit.AdminNodeUndrain)}
	filters := []string{"action", q.Action, "actor", q.Actor, "from", p.From, "to", p.To}
	p.Query = uiFuncs["query"].(func(...string) string)(filters...)
	slices.Reverse(events) // newest first
	start := (page - 1) * auditPageSize
	for _, e := range events[min(start, len(events)):min(start+auditPageSize, len(events))] {
		p.Events = append(p.Events, adminAuditRow{At: e.OccurredAt, Action: e.Action, Actor: entityName(e.Actor),
			Target: entityName(e.Target), Scope: entityName(e.Scope), Request: e.Request.ID, Success: e.Success})
	}
	pageURL := func(n int) string {
		return "/ui/admin/audit" + uiFuncs["query"].(func(...string) string)(append(filters, "page", strconv.Itoa(n))...)
	}
	if page > 1 {
		p.PrevURL = pageURL(page - 1)
	}
	if start+auditPageSize < len(events) {
		p.NextURL = pageURL(page + 1)
	}
	return "admin-audit", p, nil
}

type adminUsagePage struct {
	adminBase
	Report usage.Report
}

func (s *server) uiAdminUsage(r *http.Request) (string, uiPage, error) {
	rep, err := usage.Compute(r.Context(), s.st)
	if err != nil {
		return "", nil, err
	}
	slices.Reverse(rep.Accounts) // newest week first
	slices.Reverse(rep.Jobs)
	return "admin-usage", &adminUsagePage{adminBase: s.adminBase("Usage · Admin", "usage"), Report: rep}, nil
}

type adminQueuesPage struct {
	adminBase
	Queued, Blocked, Running int
	Classes                  []adminQueueClass
	Jobs                     []adminQueuedJob
	// More queued jobs after this page; Page is its number (from 1),
	// PrevURL and NextURL the pages beside it.
	More             int
	Page             int
	PrevURL, NextURL string
}

// adminQueueClass is one resource class's queue: its depth and the age of
// its oldest job.
type adminQueueClass struct {
	Class  string
	Depth  int
	Oldest string
}

type adminQueuedJob struct {
	queuedView
	Age, Waiting string
}

// uiAdminQueues reads the unfinished jobs from the store's index of them
// (as many reads as there are, whatever the history) and lists the queued
// ones a page of queueListLimit at a time (?page=N).
func (s *server) uiAdminQueues(r *http.Request) (string, uiPage, error) {
	ctx := r.Context()
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	jobs, counts, err := s.queued(ctx, baseOf(r))
	if err != nil {
		return "", nil, err
	}
	now := s.st.Now()
	p := &adminQueuesPage{adminBase: s.adminBase("Queues · Admin", "queues"), Page: page,
		Queued: counts[status.JobQueued], Blocked: counts[status.JobBlocked], Running: counts[status.JobRunning]}
	byClass := map[string]int{} // index in p.Classes
	for _, j := range jobs {    // oldest first: a class's first job is its oldest
		i, ok := byClass[j.ResourceClass]
		if !ok {
			i = len(p.Classes)
			byClass[j.ResourceClass] = i
			p.Classes = append(p.Classes, adminQueueClass{Class: j.ResourceClass, Oldest: age(now, j.QueuedAt)})
		}
		p.Classes[i].Depth++
	}
	sort.SliceStable(p.Classes, func(i, k int) bool { return p.Classes[i].Depth > p.Classes[k].Depth })
	start := min((page-1)*queueListLimit, len(jobs))
	end := min(start+queueListLimit, len(jobs))
	for _, j := range jobs[start:end] {
		row := adminQueuedJob{queuedView: j, Age: age(now, j.QueuedAt)}
		if w := s.jobWaiting(ctx, store.Job{ID: j.ID, Status: status.JobQueued}); w != nil {
			row.Waiting = w.Reason
		}
		p.Jobs = append(p.Jobs, row)
	}
	p.More = len(jobs) - end
	if page > 1 {
		p.PrevURL = "/ui/admin/queues?page=" + strconv.Itoa(page-1)
	}
	if p.More > 0 {
		p.NextURL = "/ui/admin/queues?page=" + strconv.Itoa(page+1)
	}
	return "admin-queues", p, nil
}

func ptrTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// age says how long ago t was, coarsely ("3m 05s", "2h 10m").
func age(now time.Time, t *time.Time) string {
	if t == nil {
		return ""
	}
	d := now.Sub(*t).Truncate(time.Second)
	if d >= time.Hour {
		return strconv.Itoa(int(d.Hours())) + "h " + strconv.Itoa(int(d.Minutes())%60) + "m"
	}
	start := *t
	stop := start.Add(max(d, 0))
	return formatDuration(&start, &stop)
}

func (s *server) uiCancelQueued(r *http.Request) (string, string, error) {
	ctx := audit.WithRequest(r.Context(), requestOf(r))
	var pick []queuedView
	if n := r.PostFormValue("count"); n != "" {
		count, err := strconv.Atoi(n)
		if err != nil || count < 1 || count > maxCancelBatch {
			return "", "", badRequest("count %q: cancel 1 to %d queued jobs at a time", n, maxCancelBatch)
		}
		if pick, err = s.oldestQueued(ctx, baseOf(r), count); err != nil {
			return "", "", err
		}
	} else {
		ids := r.PostForm["job"]
		if len(ids) == 0 {
			return "", "", badRequest("select the queued jobs to cancel")
		}
		if len(ids) > maxCancelBatch {
			return "", "", badRequest("%d jobs selected: cancel at most %d at a time", len(ids), maxCancelBatch)
		}
		// the selected jobs that are still queued (a page of the form
		// may be minutes old): a read each, not a read of the queue
		for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
			j, err := s.st.GetJob(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return "", "", err
			}
			if j.Status == status.JobQueued {
				pick = append(pick, queuedViewOf(baseOf(r), j))
			}
		}
		slices.SortStableFunc(pick, func(a, b queuedView) int { // oldest first, as the queue
			return ptrTime(a.QueuedAt).Compare(ptrTime(b.QueuedAt))
		})
	}
	canceled := s.cancelQueued(ctx, pick)
	tgt, scope, _ := adminTarget(r, nil)
	s.cfg.Audit.Must(ctx, audit.Event{Action: audit.AdminCancelQueued, Target: tgt, Scope: scope,
		Payload: map[string]any{"canceled": canceled}, Success: len(canceled) == len(pick)})
	switch {
	case len(pick) == 0:
		return "/ui/admin/queues", "None of those jobs is queued any more.", nil
	case len(canceled) < len(pick):
		return "/ui/admin/queues", "Canceled " + strconv.Itoa(len(canceled)) + " of " + strconv.Itoa(len(pick)) +
			" queued jobs; the others could not be canceled (see the log).", nil
	}
	return "/ui/admin/queues", "Canceled " + strconv.Itoa(len(canceled)) + " queued job(s).", nil
}

type adminHealthPage struct {
	adminBase
	Version string
	Checks  []adminCheck
	Healthy bool
}

type adminCheck struct {
	Name, Error string
}

func (s *server) uiAdminHealth(r *http.Request) (string, uiPage, error) {
	p := &adminHealthPage{adminBase: s.adminBase("Health · Admin", "health"), Version: s.cfg.Version, Healthy: true}
	for name, err := range s.checks(r.Context()) {
		c := adminCheck{Name: name}
		if err != nil {
			c.Error, p.Healthy = err.Error(), false
		}
		p.Checks = append(p.Checks, c)
	}
	slices.SortFunc(p.Checks, func(a, b adminCheck) int { return cmp.Compare(a.Name, b.Name) })
	return "admin-health", p, nil
}
