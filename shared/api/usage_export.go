package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/usage"
)

// Usage exports, CircleCI's Usage operations (shared/usage writes the
// CSV). They need admin access to the organization (and to each shared
// organization).
//
//	POST /api/v2/organizations/{org_id}/usage_export_job   {start, end, shared_org_ids?} → 201 usage_export_job
//	GET  /api/v2/organizations/{org_id}/usage_export_job/{usage_export_job_id}   get_usage_export_job_status
func (s *server) routeUsageExport(mux *http.ServeMux) {
	const base = "/api/v2/organizations/{org_id}/usage_export_job"
	s.route(mux, "POST "+base, onOrgID(accounts.Admin), s.api(s.createUsageExport))
	s.route(mux, "GET "+base+"/{usage_export_job_id}", onOrgID(accounts.Admin), s.api(s.getUsageExport))
}

// usageExportJSON is CircleCI's usage_export_job and, without start and
// end, get_usage_export_job_status.
type usageExportJSON struct {
	ID           string     `json:"usage_export_job_id"`
	State        string     `json:"state"`
	Start        *time.Time `json:"start,omitempty"`
	End          *time.Time `json:"end,omitempty"`
	DownloadURLs []string   `json:"download_urls"`
	ErrorReason  string     `json:"error_reason,omitempty"`
}

func (s *server) createUsageExport(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Start        *time.Time `json:"start"`
		End          *time.Time `json:"end"`
		SharedOrgIDs []string   `json:"shared_org_ids"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	if body.Start == nil || body.End == nil {
		return badRequest("start and end are required (RFC 3339 date-times)")
	}
	ctx := r.Context()
	owner, err := s.orgByID(ctx, r.PathValue("org_id"))
	if err != nil {
		return err
	}
	var shared []string
	for i, id := range body.SharedOrgIDs {
		o, err := s.orgByID(ctx, id)
		if err != nil {
			return badRequest("shared_org_ids[%d] %s: no such organization", i, id)
		}
		if err := s.requireOn(ctx, o, accounts.Admin); err != nil {
			return err
		}
		shared = append(shared, o)
	}
	ex := s.cfg.Integrations.UsageExports
	j, err := ex.Create(ctx, owner, shared, *body.Start, *body.End)
	if errors.Is(err, usage.ErrInvalidExport) {
		return badRequest("%s", err.Error())
	}
	if err != nil {
		return err
	}
	urls, err := ex.URLs(ctx, j)
	if err != nil {
		return err
	}
	// usage_export_job has no error_reason: a failed job says why in GET.
	writeJSON(w, http.StatusCreated, usageExportJSON{ID: j.ID, State: j.State, Start: &j.Start, End: &j.End, DownloadURLs: urls})
	return nil
}

func (s *server) getUsageExport(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.orgByID(r.Context(), r.PathValue("org_id"))
	if err != nil {
		return err
	}
	j, urls, err := s.cfg.Integrations.UsageExports.Get(r.Context(), owner, r.PathValue("usage_export_job_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, usageExportJSON{ID: j.ID, State: j.State, DownloadURLs: urls, ErrorReason: j.Error})
	return nil
}
