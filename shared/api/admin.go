package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/audit"
	"github.com/orbit-ci/orbit/shared/status"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/usage"
)

// Admin routes: the seed's audit log download and its REPL tasks (served
// when Config.Audit is set; `orbit admin …` calls them).
//
//	GET  /api/v2/admin/audit-log[?from=RFC3339&to=RFC3339]  text/csv, the seed's fields, nested ones as JSON
//	GET  /api/v2/admin/queue[?limit=N]    {queued, blocked, running, oldest: [{url, project_slug, number, name,
//	                                      workflow_id, queued_at}]} (oldest queued first; N default 3)
//	POST /api/v2/admin/queue/cancel {"count": N}  cancel the N (≤ 100, the seed's batch) oldest queued jobs
//	                                      → {canceled: [urls]}
//	POST /api/v2/admin/delete-build {"url": "https://host/gh/org/repo/1234"}  the seed's admin/delete-build
//	GET  /api/v2/admin/usage              the seed's weekly account usage and job activity tables
//
// Each is recorded in the audit log (admin.* actions), the export too;
// each needs an instance admin (siteAdmin).

// maxCancelBatch is the seed's batch: "You can cancel in batches of 100."
const maxCancelBatch = 100

func (s *server) routeAdmin(mux *http.ServeMux) {
	s.route(mux, "GET /api/v2/admin/audit-log", siteAdmin, s.api(s.adminAuditLog))
	s.route(mux, "GET /api/v2/admin/queue", siteAdmin, s.api(s.adminQueue))
	s.route(mux, "POST /api/v2/admin/queue/cancel", siteAdmin, s.api(s.audited(audit.AdminCancelQueued, adminTarget, s.adminCancelQueued)))
	s.route(mux, "POST /api/v2/admin/delete-build", siteAdmin, s.api(s.audited(audit.AdminDeleteBuild, adminTarget, s.adminDeleteBuild)))
	s.route(mux, "GET /api/v2/admin/usage", siteAdmin, s.api(s.adminUsage))
}

func adminTarget(_ *http.Request, answer map[string]any) (audit.Entity, audit.Entity, map[string]any) {
	return audit.Entity{ID: "orbit", Type: "installation"}, audit.Entity{ID: "orbit", Type: "installation"}, answer
}

func (s *server) adminAuditLog(w http.ResponseWriter, r *http.Request) error {
	var from, to time.Time
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := r.URL.Query().Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return badRequest("query parameter %s: %q is not an RFC 3339 time", name, v)
			}
			*dst = t
		}
	}
	return s.exportAudit(w, r, auditQuery{From: from, To: to})
}

// auditQuery selects audit events: occurred in [From, To) (zero: open),
// and, when set, of Action (a prefix: "user." is every user action) and by
// Actor (id or name).
type auditQuery struct {
	From, To      time.Time
	Action, Actor string
}

func (q auditQuery) keep(e audit.Event) bool {
	return strings.HasPrefix(e.Action, q.Action) &&
		(q.Actor == "" || e.Actor.ID == q.Actor || strings.EqualFold(e.Actor.Name, q.Actor))
}

// auditEvents reads the events q selects, oldest first.
func (s *server) auditEvents(ctx context.Context, q auditQuery) ([]audit.Event, error) {
	events, err := s.cfg.Audit.Events(ctx, q.From, q.To)
	if err != nil {
		return nil, err
	}
	out := events[:0]
	for _, e := range events {
		if q.keep(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// exportAudit downloads the events q selects as CSV, recording the export
// (admin.audit_log.export): the API's download and the admin page's.
func (s *server) exportAudit(w http.ResponseWriter, r *http.Request, q auditQuery) error {
	ctx := audit.WithRequest(r.Context(), requestOf(r))
	events, err := s.auditEvents(ctx, q)
	if err != nil {
		return err
	}
	payload := map[string]any{"from": r.URL.Query().Get("from"), "to": r.URL.Query().Get("to"), "events": len(events)}
	if q.Action != "" || q.Actor != "" {
		payload["action"], payload["actor"] = q.Action, q.Actor
	}
	s.cfg.Audit.Must(ctx, audit.Event{Action: audit.AdminAuditExport, Target: audit.Entity{ID: "audit_log", Type: "audit_log"},
		Payload: payload, Success: true})
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-log.csv"`)
	return audit.WriteCSV(w, events)
}

type queuedView struct {
	URL         string     `json:"url"`
	ProjectSlug string     `json:"project_slug"`
	Number      int64      `json:"number"`
	Name        string     `json:"name"`
	ID          string     `json:"id"`
	WorkflowID  string     `json:"workflow_id"`
	QueuedAt    *time.Time `json:"queued_at"`
	// ResourceClass is the class the job waits for (an Orbit addition).
	ResourceClass string `json:"resource_class"`
}

// queued returns the queued jobs, oldest first, and the number of jobs
// queued, blocked and running: reads of the store's index of unfinished
// work, as many as there are such jobs however long the history.
func (s *server) queued(ctx context.Context, base string) ([]queuedView, map[status.Job]int, error) {
	var out []queuedView
	counts := map[status.Job]int{}
	for _, st := range []status.Job{status.JobQueued, status.JobBlocked, status.JobRunning} {
		for cursor := ""; ; {
			jobs, next, err := s.st.UnfinishedJobs(ctx, st, cursor, unfinishedPage)
			if err != nil {
				return nil, nil, err
			}
			counts[st] += len(jobs)
			if st == status.JobQueued {
				for _, j := range jobs {
					out = append(out, queuedViewOf(base, j))
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return out, counts, nil
}

// unfinishedPage is how many records a read of the index of unfinished
// work asks for (the kv drivers' cap).
const unfinishedPage = 1000

// oldestQueued returns the n longest-queued jobs: one read of the index.
func (s *server) oldestQueued(ctx context.Context, base string, n int) ([]queuedView, error) {
	jobs, _, err := s.st.UnfinishedJobs(ctx, status.JobQueued, "", n)
	if err != nil {
		return nil, err
	}
	out := make([]queuedView, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, queuedViewOf(base, j))
	}
	return out, nil
}

func queuedViewOf(base string, j store.Job) queuedView {
	return queuedView{URL: fmt.Sprintf("%s/%s/%d", base, j.ProjectSlug, j.Number), ProjectSlug: j.ProjectSlug,
		Number: j.Number, Name: j.Name, ID: j.ID, WorkflowID: j.WorkflowID, QueuedAt: j.QueuedAt,
		ResourceClass: usage.ResourceClass(j)}
}

func baseOf(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *server) adminQueue(w http.ResponseWriter, r *http.Request) error {
	limit := 3
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest("query parameter limit: %q is not a count", v)
		}
		limit = n
	}
	jobs, counts, err := s.queued(r.Context(), baseOf(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminQueueJSON{Queued: counts[status.JobQueued], Blocked: counts[status.JobBlocked],
		Running: counts[status.JobRunning], Oldest: jobs[:min(limit, len(jobs))]})
	return nil
}

func (s *server) adminCancelQueued(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Controls == nil {
		return badRequest("this server has no workflow controls")
	}
	var body struct {
		Count int `json:"count"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Count < 1 || body.Count > maxCancelBatch {
		return badRequest("count %d: cancel 1 to %d queued jobs at a time", body.Count, maxCancelBatch)
	}
	jobs, err := s.oldestQueued(r.Context(), baseOf(r), body.Count)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, canceledJSON{Canceled: s.cancelQueued(r.Context(), jobs)})
	return nil
}

// cancelQueued cancels jobs and returns the URLs of those it canceled (a
// failure is logged and skipped: the rest of the batch goes on).
func (s *server) cancelQueued(ctx context.Context, jobs []queuedView) []string {
	canceled := []string{}
	for _, j := range jobs {
		if err := s.cfg.Controls.CancelJob(ctx, j.ID); err != nil {
			s.log.WarnContext(ctx, "admin cancel of a queued job failed", "job_id", j.ID, "error", err)
			continue
		}
		canceled = append(canceled, j.URL)
	}
	return canceled
}

// buildRef reads a build URL: ".../<vcs>/<org>/<repo>/<number>" (CircleCI's
// build URL, as the seed's example), or ".../<vcs>/<org>/<repo>/job/<number>".
func buildRef(raw string) (string, int64, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return "", 0, badRequest("url %q: not a build URL like https://host/gh/org/repo/1234", raw)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) >= 5 && parts[len(parts)-2] == "job" {
		parts = append(parts[:len(parts)-2], parts[len(parts)-1])
	}
	if len(parts) < 4 {
		return "", 0, badRequest("url %q: want .../<vcs>/<org>/<repo>/<number>", raw)
	}
	n, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if err != nil || n < 1 {
		return "", 0, badRequest("url %q: %q is not a build number", raw, parts[len(parts)-1])
	}
	return strings.Join(parts[len(parts)-4:len(parts)-1], "/"), n, nil
}

func (s *server) adminDeleteBuild(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		URL string `json:"url"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	slug, n, err := buildRef(body.URL)
	if err != nil {
		return err
	}
	j, err := s.st.GetJobByNumber(r.Context(), slug, n)
	if err != nil {
		return err
	}
	if err := s.st.DeleteJob(r.Context(), j); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deletedBuildJSON{Deleted: deletedJobJSON{URL: body.URL, ProjectSlug: slug,
		Number: n, ID: j.ID, Name: j.Name, Status: string(j.Status)}})
	return nil
}

func (s *server) adminUsage(w http.ResponseWriter, r *http.Request) error {
	rep, err := usage.Compute(r.Context(), s.st)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
