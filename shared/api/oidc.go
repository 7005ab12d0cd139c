package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/oidc"
)

// OIDC: CircleCI's OIDC Token Management operations (custom claims of an
// organization and of a project: audience and token ttl) and the issuer's
// public metadata, which cloud providers read without credentials to
// verify the tokens jobs get in CIRCLE_OIDC_TOKEN (shared/oidc).
//
//	GET|PATCH|DELETE /api/v2/org/{orgID}/oidc-custom-claims                       ClaimResponse (DELETE ?claims=audience,ttl)
//	GET|PATCH|DELETE /api/v2/org/{orgID}/project/{projectID}/oidc-custom-claims   ClaimResponse
//	GET /.well-known/openid-configuration   the OpenID Provider metadata (public)
//	GET /.well-known/jwks.json              the signing keys (public)
func (s *server) routeOIDC(mux *http.ServeMux) {
	const org = "/api/v2/org/{orgID}/oidc-custom-claims"
	const project = "/api/v2/org/{orgID}/project/{projectID}/oidc-custom-claims"
	s.route(mux, "GET "+org, onOrgID(accounts.Read), s.api(s.getClaims))
	s.route(mux, "PATCH "+org, onOrgID(accounts.Admin), s.api(s.patchClaims))
	s.route(mux, "DELETE "+org, onOrgID(accounts.Admin), s.api(s.deleteClaims))
	s.route(mux, "GET "+project, onProjectID(accounts.Read), s.api(s.getClaims))
	s.route(mux, "PATCH "+project, onProjectID(accounts.Admin), s.api(s.patchClaims))
	s.route(mux, "DELETE "+project, onProjectID(accounts.Admin), s.api(s.deleteClaims))
	s.route(mux, "GET "+oidc.DiscoveryPath, public, s.api(func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, s.cfg.Integrations.OIDC.Discovery())
		return nil
	}))
	s.route(mux, "GET "+oidc.JWKSPath, public, s.api(func(w http.ResponseWriter, r *http.Request) error {
		set, err := s.cfg.Integrations.OIDC.JWKS(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, set)
		return nil
	}))
}

// claimsJSON is CircleCI's ClaimResponse.
type claimsJSON struct {
	OrgID             string     `json:"org_id"`
	ProjectID         string     `json:"project_id,omitempty"`
	Audience          []string   `json:"audience,omitempty"`
	AudienceUpdatedAt *time.Time `json:"audience_updated_at,omitempty"`
	TTL               string     `json:"ttl,omitempty"`
	TTLUpdatedAt      *time.Time `json:"ttl_updated_at,omitempty"`
}

// claimsScope is the path's organization, or project of that
// organization (404 for a project of another one).
func (s *server) claimsScope(r *http.Request) (oidc.Scope, error) {
	sc := oidc.Scope{OrgID: r.PathValue("orgID"), ProjectID: r.PathValue("projectID")}
	if sc.ProjectID == "" {
		return sc, nil
	}
	p, err := s.projectByID(r.Context(), sc.ProjectID)
	if err != nil {
		return sc, err
	}
	if ids.Org(ids.Owner(p.Slug)) != sc.OrgID {
		return sc, badRequest("project %s does not belong to organization %s", sc.ProjectID, sc.OrgID)
	}
	return sc, nil
}

func (s *server) answerClaims(w http.ResponseWriter, sc oidc.Scope, c oidc.Claims, err error) error {
	if errors.Is(err, oidc.ErrInvalid) {
		return badRequest("%s", err.Error())
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, claimsJSON{OrgID: sc.OrgID, ProjectID: sc.ProjectID, Audience: c.Audience,
		AudienceUpdatedAt: c.AudienceUpdatedAt, TTL: c.TTL, TTLUpdatedAt: c.TTLUpdatedAt})
	return nil
}

func (s *server) getClaims(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.claimsScope(r)
	if err != nil {
		return err
	}
	c, err := s.cfg.Integrations.OIDC.GetClaims(r.Context(), sc)
	return s.answerClaims(w, sc, c, err)
}

func (s *server) patchClaims(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.claimsScope(r)
	if err != nil {
		return err
	}
	var body struct {
		Audience []string `json:"audience"`
		TTL      *string  `json:"ttl"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		return err
	}
	c, err := s.cfg.Integrations.OIDC.PatchClaims(r.Context(), sc, oidc.Patch{Audience: body.Audience, TTL: body.TTL})
	return s.answerClaims(w, sc, c, err)
}

func (s *server) deleteClaims(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.claimsScope(r)
	if err != nil {
		return err
	}
	var names []string
	for n := range strings.SplitSeq(r.URL.Query().Get("claims"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	c, err := s.cfg.Integrations.OIDC.DeleteClaims(r.Context(), sc, names)
	return s.answerClaims(w, sc, c, err)
}
